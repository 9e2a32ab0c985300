"""Sweep results as tidy tables (Parquet per kind, ``summary.csv``) and one plot per kind."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..files import LOCK, MANIFEST, DirLock, atomic_write_bytes, atomic_write_text

__all__ = ["LOCK", "MANIFEST", "ResultIntegrityError", "check_columns", "kind_tables",
           "load_results", "table_columns",
           "results_lock", "summary_table", "verify_results", "write_manifest", "write_outputs"]


def results_lock(out_dir, what: str = "--out") -> DirLock:
    """The one-writer lock of a results directory (created if missing): a second sweep into the
    same directory is refused (InputError, exit 2) instead of mixing its tables in."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return DirLock(out_dir, what).acquire()


class ResultIntegrityError(InputError):
    """A results file is missing, truncated or altered (its sha256 differs from the manifest)."""


def kind_tables(results) -> dict[str, pd.DataFrame]:
    """One tidy frame per kind: the point's parameters, then each measured row; points in spec
    order (not completion order), failed points left out."""
    frames: dict[str, list[dict]] = {}
    for r in results:
        if r.payload is None:
            continue
        rows = frames.setdefault(r.kind, [])
        for row in r.payload["rows"]:
            rows.append({**r.point, **row})
    return {k: pd.DataFrame(v) for k, v in frames.items()}


def summary_table(results) -> pd.DataFrame:
    rows = []
    for r in results:
        row = {"kind": r.kind, "status": "failed" if r.status == "failed" else "ok",
               "point": json.dumps(r.point, sort_keys=True), **r.point}
        if r.payload is not None:
            row.update(r.payload.get("summary", {}))
        row["message"] = r.message
        rows.append(row)
    return pd.DataFrame(rows)


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    buf = io.BytesIO()
    df.to_parquet(buf, engine="pyarrow", index=False)
    atomic_write_bytes(path, buf.getvalue())  # unique temp name per process


def write_outputs(rep, plots: bool = True) -> list[Path]:
    out = Path(rep.out_dir)
    files = []
    for kind, df in kind_tables(rep.results).items():
        p = out / f"{kind}.parquet"
        _write_parquet(df, p)
        files.append(p)
        if plots:
            from .plots import plot_kind

            files.extend(plot_kind(kind, df, out / f"{kind}.png"))
    s = summary_table(rep.results)
    files.append(atomic_write_text(out / "summary.csv", s.to_csv(index=False)))
    meta = {"spec": rep.spec_path, "points": len(rep.results), "cached": rep.count("cached"),
            "computed": rep.count("computed"), "failed": rep.count("failed"),
            "wall_s": rep.wall_s,
            "failures": [{"kind": r.kind, "point": r.point, "message": r.message}
                         for r in rep.failures],
            "point_wall_s": {r.key: r.wall_s for r in rep.results if r.status == "computed"}}
    files.append(atomic_write_text(out / "sweep.json", json.dumps(meta, indent=1) + "\n"))
    files.append(write_manifest(out, files))
    return files


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(out: Path, files) -> Path:
    """``manifest.json``: sha256 and size of every results file, so readers can refuse a torn or
    edited table instead of loading it."""
    entries = {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
               for p in sorted(Path(f) for f in files) if p.name != MANIFEST}
    return atomic_write_text(Path(out) / MANIFEST,
                             json.dumps({"schema": "pycim.results/1", "files": entries},
                                        indent=1, sort_keys=True) + "\n")


def verify_results(results_dir) -> dict[str, Path]:
    """Check every file listed in the manifest against its sha256; return {name: path}.

    Raises :class:`ResultIntegrityError` naming the first missing or altered file (rerun the
    sweep to regenerate it).
    """
    d = Path(results_dir)
    man = d / MANIFEST
    if not d.is_dir():
        raise ResultIntegrityError(f"results directory not found: {d}")
    if not man.is_file():
        raise ResultIntegrityError(f"{d}: no {MANIFEST} (not a pycim sweep output, or the sweep "
                                   f"did not finish); rerun: pycim sweep SPEC --out {d}")
    try:
        doc = json.loads(man.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultIntegrityError(f"{man}: unreadable manifest ({str(exc).splitlines()[0]})"
                                   ) from None
    entries = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise ResultIntegrityError(f"{man}: malformed manifest (need an object with a 'files' "
                                   f"object); rerun the sweep")
    out = {}
    for name, meta in sorted(entries.items()):
        if (Path(name).name != name or name in (".", "..", MANIFEST)
                or not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str)
                or isinstance(meta.get("bytes"), bool) or not isinstance(meta.get("bytes"), int)):
            raise ResultIntegrityError(f"{man}: malformed entry {name!r}; rerun the sweep")
        p = d / name
        if not p.is_file():
            raise ResultIntegrityError(f"{p}: listed in {MANIFEST} but missing (or not a "
                                       f"regular file); rerun the sweep")
        if p.stat().st_size != meta["bytes"] or _sha256(p) != meta["sha256"]:
            raise ResultIntegrityError(f"{p}: checksum mismatch (truncated or altered); "
                                       f"rerun the sweep to regenerate it")
        out[name] = p
    return out


def check_columns(where, kind: str, columns, needed) -> None:
    """Refuse (InputError, one line) a ``kind`` table whose ``columns`` lack any of ``needed``
    (a table from another pycim version, or edited): ``WHERE: KIND table lacks columns [...]``."""
    have = set(columns)
    missing = [c for c in needed if c not in have]
    if missing:
        raise InputError(f"{where}: {kind} table lacks columns {missing}")


def table_columns(path) -> list[str]:
    """The column names of a Parquet table, from its schema alone (no data read)."""
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several types for a garbage file
        msg = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ResultIntegrityError(f"{path}: not a readable table ({type(exc).__name__}: "
                                   f"{msg}); rerun the sweep") from None


def load_results(results_dir) -> dict[str, pd.DataFrame]:
    """The verified tables of a sweep output directory: {kind: DataFrame}, plus ``summary``."""
    files = verify_results(results_dir)
    tables = {}
    for n, p in files.items():
        if n.endswith(".parquet") or n == "summary.csv":
            try:
                tables["summary" if n == "summary.csv" else Path(n).stem] = (
                    pd.read_csv(p) if n == "summary.csv" else pd.read_parquet(p, engine="pyarrow"))
            except Exception as exc:  # pyarrow/pandas raise many types for a garbage file
                msg = (str(exc).strip().splitlines() or [""])[0][:200]
                raise ResultIntegrityError(f"{p}: not a readable table ({type(exc).__name__}: "
                                           f"{msg}); rerun the sweep") from None
    return tables

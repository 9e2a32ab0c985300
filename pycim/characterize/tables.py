"""Sweep results as tidy tables (Parquet per kind, ``summary.csv``) and one plot per kind."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..files import atomic_write_text

MANIFEST = "manifest.json"


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
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


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
    meta = {"points": len(rep.results), "cached": rep.count("cached"),
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
        entries = json.loads(man.read_text())["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultIntegrityError(f"{man}: unreadable manifest ({exc})") from None
    out = {}
    for name, meta in sorted(entries.items()):
        p = d / name
        if Path(name).name != name:
            raise ResultIntegrityError(f"{man}: bad file name {name!r}")
        if not p.is_file():
            raise ResultIntegrityError(f"{p}: listed in {MANIFEST} but missing; rerun the sweep")
        if p.stat().st_size != meta.get("bytes") or _sha256(p) != meta.get("sha256"):
            raise ResultIntegrityError(f"{p}: checksum mismatch (truncated or altered); "
                                       f"rerun the sweep to regenerate it")
        out[name] = p
    return out


def load_results(results_dir) -> dict[str, pd.DataFrame]:
    """The verified tables of a sweep output directory: {kind: DataFrame}, plus ``summary``."""
    files = verify_results(results_dir)
    tables = {Path(n).stem: pd.read_parquet(p, engine="pyarrow")
              for n, p in files.items() if n.endswith(".parquet")}
    if "summary.csv" in files:
        tables["summary"] = pd.read_csv(files["summary.csv"])
    return tables

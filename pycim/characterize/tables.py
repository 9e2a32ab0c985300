"""Sweep results as tidy tables (Parquet per kind, ``summary.csv``) and one plot per kind."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..files import (LOCK, MANIFEST, DirLock, atomic_write_bytes, atomic_write_text,
                     write_manifest)

__all__ = ["COLUMNS", "Col", "LOCK", "MANIFEST", "ResultIntegrityError", "check_columns",
           "check_table", "kind_tables", "load_results", "table_columns",
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


def verify_results(results_dir) -> dict[str, Path]:
    """Check every file listed in the manifest against its sha256; return {name: path}
    (:func:`pycim.files.verify_manifest`: the manifest's schema checked, files hashed in
    chunks, symbolic links refused).

    Raises :class:`ResultIntegrityError` naming the first missing or altered file (rerun the
    sweep to regenerate it).
    """
    from ..files import verify_manifest

    return verify_manifest(results_dir, ResultIntegrityError, rerun="rerun the sweep")


@dataclass(frozen=True)
class Col:
    """What a table column must hold: ``type`` (``int``: numbers with integral values, ``float``,
    ``bool``, ``str``), bounds (``lo``/``hi`` inclusive, ``gt`` exclusive), ``choices``; ``on``:
    only the rows whose ``record`` is one of these must hold it (long tables, NaN elsewhere)."""

    type: type
    lo: float | None = None
    hi: float | None = None
    gt: float | None = None
    choices: tuple | None = None
    on: tuple | None = None


_E_GROUPS = ("array", "drivers", "wordlines", "neuron")
#: the highest voltage anywhere in the circuits (RESET word line): a line, integrator or cell
#: voltage beyond it is not a measurement
V_MAX = 5.0


#: kinds of one row per point (energy_per_mac) or per point and these columns (mvm_fit)
_ONE_ROW_PER = {"energy_per_mac": (), "mvm_fit": ("record", "vector", "output", "plane")}


def _energies(on=None) -> dict[str, Col]:
    return {**{f"e_{g}_j": Col(float, lo=0.0, on=on) for g in _E_GROUPS},
            "e_total_j": Col(float, gt=0.0, on=on)}


#: measured columns of the kinds pycim fit and pycim report read (their parameter columns are
#: checked by the kind's :class:`~pycim.characterize.params.Param` schema)
COLUMNS: dict[str, dict[str, Col]] = {
    "energy_per_mac": {**_energies(), "macs": Col(int, gt=0),
                       "energy_per_mac_j": Col(float, gt=0.0), "latency_s": Col(float, gt=0.0)},
    "mvm_fit": {"record": Col(str, choices=("line", "code", "energy")),
                "vector": Col(int, lo=0),
                "output": Col(int, lo=0, on=("line", "code")),
                "plane": Col(int, lo=0, on=("line",)),
                "v_settled_v": Col(float, lo=-V_MAX, hi=V_MAX, on=("line",)),
                "v_ideal_v": Col(float, lo=-V_MAX, hi=V_MAX, on=("line",)),
                "g_sum_s": Col(float, lo=0.0, on=("line", "code")),
                "code": Col(int, on=("code",)),
                "y_ideal": Col(float, on=("code",)),
                **_energies(on=("energy",))},
    "adc_transfer": {"v_int_v": Col(float, lo=-V_MAX, hi=V_MAX), "code": Col(int),
                     "ideal_code": Col(int)},
    "cell_iv": {"v_v": Col(float, lo=-V_MAX, hi=V_MAX), "i_a": Col(float),
                "i_ref_a": Col(float)},
    "ir_drop": {"col": Col(int, lo=0), "v_sl_v": Col(float, lo=-V_MAX, hi=V_MAX),
                "v_closed_v": Col(float, lo=-V_MAX, hi=V_MAX), "err_frac_vread": Col(float)},
    "settling": {"col": Col(int, lo=0), "t_settle_s": Col(float, gt=0.0)},
}


def _kind_columns(kind: str) -> dict[str, Col]:
    """Every checked column of ``kind``: its parameters (from the sweep schema) and its measured
    columns (:data:`COLUMNS`)."""
    from .spec import KINDS

    cols = {p.name: Col(p.type, lo=p.lo, hi=p.hi, choices=p.choices)
            for p in KINDS.get(kind, ())}
    return {**cols, **COLUMNS.get(kind, {})}


def _bad(where, kind, col, why, df, mask) -> InputError:
    i = int(mask.to_numpy().nonzero()[0][0])
    v = df[col].iloc[i]
    v = v.item() if hasattr(v, "item") else v
    return InputError(f"{where}: {kind} table column {col!r} {why}: row {i} holds {v!r}"
                      f" ({int(mask.sum())} such rows)")


def _check_col(where, kind: str, df: pd.DataFrame, name: str, c: Col) -> None:
    import numpy as np
    from pandas.api import types as pt

    s = df[name]
    if c.on is not None and "record" in df:
        rows = df["record"].isin(c.on).to_numpy()
    else:
        rows = np.ones(len(df), bool)
    if c.type is bool:
        if not pt.is_bool_dtype(s):
            raise InputError(f"{where}: {kind} table column {name!r} must be bool, has dtype "
                             f"{s.dtype}")
        return
    if c.type is str:
        ok = s.map(lambda v: isinstance(v, str)).to_numpy()
        if not ok[rows].all():
            raise _bad(where, kind, name, "must hold strings", df, pd.Series(rows & ~ok))
        if c.choices is not None:
            bad = rows & ~s.isin(c.choices).to_numpy()
            if bad.any():
                raise _bad(where, kind, name, f"must be one of {list(c.choices)}", df,
                           pd.Series(bad))
        return
    if pt.is_bool_dtype(s) or not pt.is_numeric_dtype(s):
        raise InputError(f"{where}: {kind} table column {name!r} must be numeric, has dtype "
                         f"{s.dtype}")
    v = s.to_numpy(dtype=float, na_value=np.nan)
    bad = rows & ~np.isfinite(v)
    if bad.any():
        raise _bad(where, kind, name, "must be finite", df, pd.Series(bad))
    with np.errstate(invalid="ignore"):
        checks = []
        if c.type is int:
            checks.append((v != np.round(v), "must be integral"))
        if c.lo is not None:
            checks.append((v < c.lo, f"must be >= {c.lo:g}"))
        if c.hi is not None:
            checks.append((v > c.hi, f"must be <= {c.hi:g}"))
        if c.gt is not None:
            checks.append((v <= c.gt, f"must be > {c.gt:g}"))
    for m, why in checks:
        if (rows & m).any():
            raise _bad(where, kind, name, why, df, pd.Series(rows & m))
    if c.choices is not None:
        bad = rows & ~s.isin(c.choices).to_numpy()
        if bad.any():
            raise _bad(where, kind, name, f"must be one of {list(c.choices)}", df, pd.Series(bad))


def _rel_mismatch(a, b, tol: float = 1e-6):
    import numpy as np

    return np.abs(a - b) > tol * np.maximum(np.abs(a), np.abs(b))


def check_table(where, kind: str, df: pd.DataFrame) -> None:
    """Refuse (InputError, one line naming ``where``, the table, the column, a row and its value)
    a ``kind`` table whose columns hold the wrong type (numbers stored as strings), a NaN or
    infinity, a fractional count, a value outside its parameter's bounds (the sweep schema's)
    or a physically impossible measurement (:data:`COLUMNS`: negative energies, non-positive
    latencies, line voltages beyond :data:`V_MAX`); and, per kind, rows that contradict each
    other: ``e_total_j`` not the sum of the groups, ``macs`` not batch x n_in x n_out (one
    vector per energy_per_mac point), ``energy_per_mac_j`` not e_total / macs, a code outside
    the signed ``out_bits`` range. Columns the table lacks are left to :func:`check_columns`."""
    import numpy as np

    for name, c in _kind_columns(kind).items():
        if name in df.columns:
            _check_col(where, kind, df, name, c)
    cols = set(df.columns)
    e_cols = [f"e_{g}_j" for g in _E_GROUPS]
    if {*e_cols, "e_total_j"} <= cols:
        rows = (df["record"] == "energy").to_numpy() if "record" in cols else np.ones(len(df), bool)
        tot = df["e_total_j"].to_numpy(float)
        bad = rows & _rel_mismatch(df[e_cols].to_numpy(float).sum(axis=1), tot)
        if bad.any():
            raise _bad(where, kind, "e_total_j", f"must equal the sum of {e_cols}", df,
                       pd.Series(bad))
    if kind == "energy_per_mac" and {"macs", "n_in", "n_out"} <= cols:
        bad = (df["macs"] != df["n_in"] * df["n_out"]).to_numpy()
        if bad.any():
            raise _bad(where, kind, "macs", "must be n_in x n_out (one MVM of one vector)", df,
                       pd.Series(bad))
        if {"energy_per_mac_j", "e_total_j"} <= cols:
            bad = _rel_mismatch(df["energy_per_mac_j"].to_numpy(float),
                                df["e_total_j"].to_numpy(float) / df["macs"].to_numpy(float))
            if bad.any():
                raise _bad(where, kind, "energy_per_mac_j", "must equal e_total_j / macs", df,
                           pd.Series(bad))
    if kind in _ONE_ROW_PER:  # the same point (or line, code) twice would count twice
        from .spec import KINDS

        key = [p.name for p in KINDS[kind] if p.name in cols] + [
            c for c in _ONE_ROW_PER[kind] if c in cols]
        dup = df.duplicated(subset=key, keep="first").to_numpy()
        if dup.any():
            i = int(dup.nonzero()[0][0])
            grp = df.groupby(key, dropna=False, sort=False).ngroup().to_numpy()
            first = int((grp == grp[i]).nonzero()[0][0])
            raise InputError(f"{where}: {kind} table row {i} repeats row {first} "
                             f"({', '.join(f'{c}={df[c].iloc[i]}' for c in key)}); the same "
                             f"point twice is refused ({int(dup.sum())} repeated rows)")
    if "code" in cols and "out_bits" in cols:
        rows = (df["record"] == "code").to_numpy() if "record" in cols else np.ones(len(df), bool)
        half = 2.0 ** (df["out_bits"].to_numpy(float) - 1)
        code = df["code"].to_numpy(float)
        bad = rows & ((code < -half) | (code > half - 1))
        if bad.any():
            raise _bad(where, kind, "code", "must lie in the signed out_bits range", df,
                       pd.Series(bad))


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
    for kind, df in tables.items():
        if kind != "summary":
            check_table(files[f"{kind}.parquet"], kind, df)
    return tables

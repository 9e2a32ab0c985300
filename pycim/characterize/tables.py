"""Sweep results as tidy tables (Parquet per kind, ``summary.csv``) and one plot per kind."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from ..netlist.writer import atomic_write_text


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

            png = plot_kind(kind, df, out / f"{kind}.png")
            if png:
                files.append(png)
    s = summary_table(rep.results)
    files.append(atomic_write_text(out / "summary.csv", s.to_csv(index=False)))
    meta = {"points": len(rep.results), "cached": rep.count("cached"),
            "computed": rep.count("computed"), "failed": rep.count("failed"),
            "wall_s": rep.wall_s,
            "failures": [{"kind": r.kind, "point": r.point, "message": r.message}
                         for r in rep.failures],
            "point_wall_s": {r.key: r.wall_s for r in rep.results if r.status == "computed"}}
    files.append(atomic_write_text(out / "sweep.json", json.dumps(meta, indent=1) + "\n"))
    return files

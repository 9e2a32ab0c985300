"""``pycim fit``: transistor-level sweep results -> a :class:`~pycim.macro.model.MacroModel`.

:func:`fit_results` reads a sweep directory (only through
:func:`pycim.characterize.tables.load_results`, which verifies the manifest checksums), runs
the fits of :mod:`pycim.fit.fits` in dependency order (line -> ADC -> integrator offset ->
energy; cell I-V, IR drop and settling are reported beside them), and returns the model, whose
``fits`` hold every residual and whose ``ranges`` are the data ranges (using the model outside
them warns). :mod:`pycim.fit.verilog_a` emits a behavioural Verilog-A core from a model.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import assumptions
from ..errors import InputError
from .fits import (FIT_COLUMNS, POINT_KEYS, Fit, _with_offsets, check_drop_terms,
                   check_size_weight_exp, fit_adc, fit_cell_iv, fit_energy, fit_ir_drop, fit_line,
                   fit_offset, fit_settling, mvm_points)


def fit_results(*results_dirs: str | Path, drop_terms: tuple[str, ...] = (),
                size_weight_exp: float = 0.0, polarity: bool = False
                ) -> tuple["MacroModel", list[Fit]]:  # noqa: F821
    """Fit a macro-model to the sweep results in ``results_dirs`` (one or more sweep output
    directories, e.g. of characterization/fit.toml and fit_full.toml; their tables of each
    kind are joined; ``mvm_fit`` needed). ``drop_terms``: line terms held at 0
    (:func:`pycim.fit.fits.check_drop_terms`); ``size_weight_exp``: the line fit's weighting
    of the points (:func:`pycim.fit.fits.fit_line`; 0, the default, every line alike);
    ``polarity``: also fit the driven lines' per-polarity resistances (``fit_line``)."""
    import pandas as pd

    from ..characterize.tables import check_columns, load_results, table_columns, verify_results

    if not results_dirs:
        raise InputError("RESULTS_DIR: give at least one sweep output directory")
    check_polarity_drops(drop_terms, polarity)
    joined: dict[str, list] = {}
    for r in results_dirs:
        d = Path(r)
        if not d.is_dir():
            raise InputError(f"RESULTS_DIR: not a directory: {d}")
        files = verify_results(d)
        if not any(f"{kind}.parquet" in files for kind in FIT_COLUMNS):
            raise InputError(_no_fit_tables(d))
        for kind, needed in FIT_COLUMNS.items():  # missing columns first, from the schemas
            if f"{kind}.parquet" in files:
                check_columns(d, kind, table_columns(files[f"{kind}.parquet"]), needed)
        for kind, df in load_results(d).items():  # then every column's values
            joined.setdefault(kind, []).append(df)
    tables = {k: (v[0] if len(v) == 1 else pd.concat(v, ignore_index=True))
              for k, v in joined.items()}
    if "mvm_fit" not in tables:
        raise InputError(f"RESULTS_DIR: {', '.join(map(str, results_dirs))} has no mvm_fit "
                         f"table (run a sweep of characterization/fit.toml first)")
    if len(results_dirs) > 1:  # the same MVM point twice would be counted twice
        df = tables["mvm_fit"]
        cols = [c for c in (*POINT_KEYS, "record", "vector", "output", "plane") if c in df]
        dup = df.duplicated(subset=cols)
        if dup.any():
            row = df[dup].iloc[0]
            raise InputError(f"RESULTS_DIR: the mvm_fit point n_in={row['n_in']} "
                             f"n_out={row['n_out']} seed={row['seed']} is in more than one of "
                             f"{', '.join(map(str, results_dirs))}")
    return fit_tables(tables, " + ".join(Path(d).name for d in results_dirs), drop_terms,
                      size_weight_exp, polarity)


def _no_fit_tables(d) -> str:
    return (f"RESULTS_DIR: {d} holds none of the tables pycim fit reads "
            f"({', '.join(FIT_COLUMNS)}); it would contribute nothing")


def check_polarity_drops(drop_terms, polarity: bool) -> None:
    """Refuse (InputError) dropping a per-polarity line term without ``polarity``
    (``--polarity-terms``): the term is never fitted then, so dropping it means nothing."""
    from ..macro.model import POLARITY_LINE_TERMS

    idle = [k for k in drop_terms if k in POLARITY_LINE_TERMS]
    if idle and not polarity:
        raise InputError(f"--drop-term: {', '.join(idle)} is a per-polarity term, fitted only "
                         f"with --polarity-terms; without it there is nothing to drop")


def fit_tables(tables: dict, name: str, drop_terms: tuple[str, ...] = (),
               size_weight_exp: float = 0.0, polarity: bool = False
               ) -> tuple["MacroModel", list[Fit]]:  # noqa: F821
    """:func:`fit_results` on loaded tables ({kind: DataFrame}, ``mvm_fit`` needed);
    ``name`` names the results in the model's ``source``. Runs with one BLAS thread: the
    fit's many small solves are faster so (and a shared machine does not oversubscribe),
    and the result does not depend on the machine's thread count."""
    from threadpoolctl import threadpool_limits

    drop_terms = check_drop_terms(drop_terms)
    check_polarity_drops(drop_terms, polarity)
    with threadpool_limits(limits=1):  # (fit_line checks size_weight_exp)
        return _fit_tables(tables, name, drop_terms, size_weight_exp, polarity)


def _fit_tables(tables: dict, name: str, drop_terms: tuple[str, ...] = (),
                size_weight_exp: float = 0.0, polarity: bool = False):
    from ..macro.model import MacroModel

    circuit = {k: _data_circuit(tables.get("summary"), k)
               for k in assumptions.CIRCUIT_PROVENANCE}
    base = MacroModel.ideal()
    # the wires resolved by position (nothing fitted: the assumption's ohm per cell), so the
    # lumped drive resistance fits the drivers, not a line's average IR drop
    base = base.with_(line={**base.line, "wire_scale": 1.0})
    points = mvm_points(tables["mvm_fit"])
    conds = {(pt.p["corner"], pt.p["temp_c"]) for pt in points}
    f_line = fit_line(points, base, drop_terms=drop_terms, size_weight_exp=size_weight_exp,
                      polarity=polarity)
    line_p = dict(f_line.params)
    m = base.with_(line={**base.line, **{k: v for k, v in line_p.items() if k != "line_backward"}},
                   line_backward=line_p.get("line_backward", {}))
    f_adc = fit_adc(tables.get("adc_transfer"))
    m = m.with_(adc={**m.adc, "gain": f_adc.params["gain"],
                     "offset_lsb": f_adc.params["offset_lsb"]})
    f_off = fit_offset(points, m)
    m = _with_offsets(m, f_off.params["b0_v"], f_off.params["b_hold_v"],
                      f_off.params.get("line_backward", {}).get("b_hold_v"))
    e_params, f_energy = fit_energy(points, m)
    m = m.with_(energy={**m.energy, **e_params})
    fits = [f_line, f_adc, f_off, *f_energy]
    for f in (fit_cell_iv(tables.get("cell_iv")), fit_ir_drop(tables.get("ir_drop")),
              fit_settling(tables.get("settling"), m.timing["t_window_s"])):
        if f is not None:
            fits.append(f)
    ranges: dict[str, list[float]] = {}
    for f in fits:
        for k, (lo, hi) in f.ranges.items():
            if k in ranges:
                ranges[k] = [min(ranges[k][0], lo), max(ranges[k][1], hi)]
            else:
                ranges[k] = [lo, hi]
    temps = sorted({t for _, t in conds})
    ranges["temp_c"] = [temps[0], temps[-1]]
    # the line's settling is fitted between the pulses it was measured at
    pulses = sorted({float(pt.p["read_pulse_s"]) for pt in points})
    ranges["read_pulse_s"] = [pulses[0], pulses[-1]]
    ranges["vdd_v"] = [1.8, 1.8]
    for k, v in circuit.items():  # the wires and drivers the data had (None: not recorded)
        if v is not None:
            ranges[k] = [v, v]
    report = {f.name: _clean(f.report()) for f in fits}
    report["_conditions"] = {"corners": sorted({c for c, _ in conds}), "temp_c": temps,
                             "results_dir": name}
    if drop_terms:
        report["_conditions"]["dropped_terms"] = list(drop_terms)
    dropped = f"; without {', '.join(drop_terms)}" if drop_terms else ""
    if size_weight_exp:
        report["_conditions"]["line_size_weight"] = size_weight_exp
        dropped += f"; line points weighted by size^-{size_weight_exp:g}"
    if polarity:
        report["_conditions"]["polarity_terms"] = True
        dropped += "; per-polarity drive and series resistances"
    m = m.with_(ranges=ranges, fits=report,
                source=f"fit of {name} ({len(points)} mvm_fit points{dropped})")
    return m, fits


def _data_circuit(summary, name: str) -> float | None:
    """The value of circuit assumption ``name`` (one of
    :data:`pycim.assumptions.CIRCUIT_PROVENANCE`) every ``mvm_fit`` point of the data was
    simulated with (its summary's column ``name``), or None when the data predate that record.
    The fit resolves the circuit at :mod:`pycim.assumptions`' values, so data of another
    value, or of several, are refused rather than fitted with the wrong circuit."""
    if summary is None or name not in summary or "kind" not in summary:
        return None
    w = summary.loc[summary["kind"] == "mvm_fit", name].astype(float)
    if w.empty or w.isna().any():
        if w.notna().any():
            raise InputError(f"RESULTS_DIR: some mvm_fit points record {name} and some do "
                             f"not: rerun the older sweeps")
        return None
    vals = sorted(set(w.round(12)))
    now = float(assumptions.value(name))
    unit = assumptions.ASSUMPTIONS[name].unit
    if len(vals) > 1 or not math.isclose(vals[0], now, rel_tol=1e-9):
        raise InputError(f"RESULTS_DIR: the mvm_fit points were simulated with {name} of "
                         f"{', '.join(f'{v:g}' for v in vals)} {unit}, but "
                         f"pycim.assumptions' {name} is {now:g} (the fit resolves the "
                         f"circuit at it): rerun the sweeps")
    return vals[0]


def _clean(v):
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def fit_table(fits: list[Fit]) -> str:
    """A short text table of each fit's residuals."""
    lines = [f"{'fit':<18}{'n':>6}{'rms':>12}{'max':>12}  unit"]
    for f in fits:
        lines.append(f"{f.name:<18}{f.n:>6}{f.rms:>12.4g}{f.max:>12.4g}  {f.unit}")
        for d, r in f.by_direction.items():  # both directions in the data: each on its own
            lines.append(f"{'  ' + d:<18}{r['n']:>6}{r['rms']:>12.4g}{r['max']:>12.4g}  "
                         f"{f.unit}")
    return "\n".join(lines)


__all__ = ["fit_results", "fit_table", "fit_tables", "prepare_fit", "run_fit_cli"]


def prepare_fit(results_dir, output, verilog_a=None, weights=None, seed=0, outs=None,
                drop_terms=(), size_weight_exp=0.0, polarity=False):
    """``pycim fit``'s argument phase (``results_dir``: one directory or several): check every
    argument (results manifests, weights, seed)
    and reserve both outputs in ``outs`` (:class:`pycim.files.Outputs`) before any work;
    return the work (fit, print the residual table, write the model and Verilog-A)."""
    from ..characterize.tables import check_columns, table_columns, verify_results
    from ..files import Outputs

    outs = Outputs() if outs is None else outs
    dirs = [Path(r) for r in ([results_dir] if isinstance(results_dir, (str, Path))
                              else results_dir)]
    outs.inputs += [("RESULTS_DIR", d) for d in dirs] + [("--weights", weights)]
    o_model = outs.file(output, "-o")  # reserved first; discarded if a later check fails
    o_va = outs.file(verilog_a, "--verilog-a") if verilog_a is not None else None
    if verilog_a is not None and weights is None:
        raise InputError("--verilog-a needs --weights W.npy (the core to emit)")
    if weights is not None and verilog_a is None:
        raise InputError("--weights is only used with --verilog-a OUT.va")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"--seed must be an integer >= 0, got {seed!r}")
    drop_terms = check_drop_terms(drop_terms or ())
    size_weight_exp = check_size_weight_exp(size_weight_exp)
    if not isinstance(polarity, bool):
        raise InputError(f"polarity (--polarity-terms) must be a bool, got {polarity!r}")
    check_polarity_drops(drop_terms, polarity)
    for d in dirs:
        if not d.is_dir():
            raise InputError(f"RESULTS_DIR: not a directory: {d}")
        files = verify_results(d)
        if not any(f"{kind}.parquet" in files for kind in FIT_COLUMNS):
            raise InputError(_no_fit_tables(d))
        for kind, needed in FIT_COLUMNS.items():  # from the schemas: no table read yet
            if f"{kind}.parquet" in files:
                check_columns(d, kind, table_columns(files[f"{kind}.parquet"]), needed)
    w = None
    if verilog_a is not None:
        from ..cim.encoding import check_weights
        from ..files import load_npy

        w = check_weights(load_npy(weights, "--weights"))

    def work() -> int:
        model, fits = fit_results(*dirs, drop_terms=drop_terms,
                                  size_weight_exp=size_weight_exp, polarity=polarity)
        print(fit_table(fits))
        o_model.write_text(model.to_json() + "\n")
        if o_va is not None:
            from ..cim.programming import program
            from .verilog_a import core_verilog_a

            prog = program(w, seed)
            o_va.write_text(core_verilog_a(model, prog.g_pos_s, prog.g_neg_s))
        print(f"wrote {output}" + (f" and {verilog_a}" if verilog_a is not None else ""))
        return 0
    return work


def run_fit_cli(results_dir, output, verilog_a=None, weights=None, seed=0, drop_terms=()) -> int:
    """``pycim fit``: fit, print the residual table, write the model (and Verilog-A); both
    outputs are reserved before the fit and committed together."""
    from ..files import Outputs

    with Outputs() as outs:
        rc = prepare_fit(results_dir, output, verilog_a, weights, seed, outs, drop_terms)()
        outs.commit()
    return rc

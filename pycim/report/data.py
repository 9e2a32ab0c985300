"""From the report sweep's tables to the numbers the report shows.

Three levels, always labelled:

* **measured** - one transistor-level MVM (``energy_per_mac`` sweep kind) per row of the
  committed results: SKY130 drivers and access FETs, RRAM read cells, wire R/C, transistor-level
  neurons; small arrays (n_in x n_out weights, 2 n_in physical rows).
* **core** - one 256 x 256 core (128 signed inputs x 256 outputs = 32768 MACs per MVM), from
  :class:`pycim.macro.model.MacroModel`'s energy formula with its coefficients *fitted* to
  the measured rows by the fit stage's energy fit (:func:`fit_energy_model` calls
  :func:`pycim.fit.fits.fit_energy_rows`): each group's energy is linear in per-row,
  per-column, per-cell and per-latency terms, so a few sizes pin the scaling. The fit also
  takes the forward full 256 x 256 cores of the macro-model's fit sweeps
  (:data:`FULL_CORE_DIRS`: transistor-level, partitioned), so the core is inside its data,
  and :func:`held_out_full_cores` checks it against full cores it was not fitted on
  (:data:`HELD_OUT_DIR`).
* **chip** - 48 cores in parallel (the paper's figures are for the full chip): same energy per
  MAC as a core (no chip-level I/O or controller is simulated), 48 x the throughput.

Results are read only through :func:`pycim.characterize.tables.load_results` (sha256-verified).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import assumptions
from ..cim.phases import default_phases
from ..errors import InputError
from . import paper

GROUPS = ("array", "drivers", "wordlines", "neuron")
KIND = "energy_per_mac"
NEEDED = ("n_in", "n_out", "in_bits", "out_bits", "macs", "latency_s",
          *(f"e_{g}_j" for g in GROUPS), "e_total_j")


def load_energy_table(results_dir) -> pd.DataFrame:
    """The verified ``energy_per_mac`` table of a report sweep, sorted by (n_in, n_out, in_bits)."""
    from ..characterize.tables import check_columns, load_results, table_columns, verify_results

    files = verify_results(results_dir)
    if f"{KIND}.parquet" in files:  # missing columns first, from the schema
        check_columns(results_dir, KIND, table_columns(files[f"{KIND}.parquet"]), NEEDED)
    tables = load_results(results_dir)  # every table read, each column's values checked
    if KIND not in tables:
        raise InputError(f"{results_dir}: no {KIND} table (not a report sweep); run: pycim "
                         f"sweep characterization/report.toml --out NEW_DIR (a new directory) "
                         f"and pass --results NEW_DIR")
    df = tables[KIND]
    if "ideal" in df.columns and df["ideal"].any():
        df = df[~df["ideal"]]
    if df.empty:
        raise InputError(f"{results_dir}: {KIND} table has no transistor-level (ideal = false) "
                         f"rows")
    return df.sort_values(["n_in", "n_out", "in_bits"]).reset_index(drop=True)


def measured_rows(df: pd.DataFrame) -> list[dict]:
    """Per transistor-level MVM: energy per MAC, TOPS/W, latency, EDP and component energies
    (all recomputed from the table's joules and MAC counts)."""
    out = []
    for r in df.itertuples(index=False):
        e_mac = r.e_total_j / r.macs
        out.append({
            "n_in": int(r.n_in), "n_out": int(r.n_out), "in_bits": int(r.in_bits),
            "out_bits": int(r.out_bits), "macs": int(r.macs),
            "energy_j": {g: float(getattr(r, f"e_{g}_j")) for g in (*GROUPS, "total")},
            "energy_per_mac_j": float(e_mac),
            "tops_per_w": float(paper.OPS_PER_MAC / e_mac / 1e12),
            "latency_s": float(r.latency_s),
            "edp_js": float(r.e_total_j * r.latency_s),
        })
    return out


def mean_pair_conductance_s() -> float:
    """Expected G+ + G- of one weight drawn uniformly from [-1, 1] (the sweeps' and the core's
    weights): 2 g_min + (g_max - g_min) E|w| with E|w| = 1/2."""
    g0, g1 = assumptions.value("g_min_s"), assumptions.value("g_max_s")
    return 2 * g0 + (g1 - g0) * 0.5


def g_total_s(n_in: int, n_out: int) -> float:
    """Expected total cell conductance of an n_in x n_out signed array (2 n_in rows)."""
    return n_in * n_out * mean_pair_conductance_s()


@dataclass(frozen=True)
class EnergyFit:
    """A :class:`~pycim.macro.model.MacroModel` whose energy coefficients were fitted to the
    measured rows, with the relative residual of each group and of the total."""

    model: object  # MacroModel
    residuals: dict  # group -> {"rms_rel", "max_rel", "n"}
    sizes: tuple  # ((n_in, n_out), ...) the fit saw
    in_bits: tuple
    n_full_core_rows: int = 0  # full 256 x 256 core MVMs among them (:func:`full_core_rows`)
    full_core_dirs_missing: tuple = ()  # FULL_CORE_DIRS absent, so not in the fit

    def energy_j(self, in_bits: int, out_bits: int, n_in: int, n_out: int) -> dict[str, float]:
        """One MVM of an n_in x n_out signed array (2 n_in rows, n_out neurons), one phase or
        two as ``pycim mvm`` runs it by default (:func:`pycim.cim.phases.default_phases`)."""
        return self.model.energy_j(in_bits, out_bits, 2 * n_in, n_out, g_total_s(n_in, n_out),
                                   phases=default_phases(in_bits))

    def latency_s(self, in_bits: int, out_bits: int) -> float:
        return self.model.latency_s(in_bits, out_bits, phases=default_phases(in_bits))


def energy_rows(df: pd.DataFrame) -> list:
    """The report table as the fit stage's :class:`~pycim.fit.fits.EnergyRow` list: one per
    measured MVM, the expected cell conductance of random signed weights (:func:`g_total_s`)
    and the model's default array activity (the table holds no per-cell voltages)."""
    from ..fit.fits import EnergyRow

    return [EnergyRow(int(a), int(b), 2 * int(r), int(c), g_total_s(int(r), int(c)),
                      {g: float(row[f"e_{g}_j"]) for g in (*GROUPS, "total")},
                      phases=default_phases(int(a)))
            for a, b, r, c, (_, row) in zip(df["in_bits"], df["out_bits"], df["n_in"],
                                            df["n_out"], df.iterrows())]


#: results directories whose forward full cores (128 x 256 weights) join the energy fit
FULL_CORE_DIRS = ("fit_full", "fit_sparse")
#: held-out full-core MVMs (``benchmarks/full_core_held_out.py run``, compact records)
HELD_OUT_DIR = "full_core_held_out"


def _results_root():
    from ..toolchain import ROOT

    return ROOT / "characterization" / "results"


def full_core_rows(missing: list | None = None) -> list:
    """Energy rows (:func:`pycim.fit.fits.energy_rows`, each vector at its own array
    activity) of the forward full cores in :data:`FULL_CORE_DIRS`. A directory that is absent
    is left out and named in ``missing`` (the report says so); one that is present is read
    only through :func:`~pycim.characterize.tables.load_results` (no manifest, or an altered
    file: refused, never skipped)."""
    from ..characterize.tables import load_results
    from ..fit.fits import energy_rows, mvm_points

    rows = []
    for name in FULL_CORE_DIRS:
        d = _results_root() / name
        if not d.exists():
            if missing is not None:
                missing.append(name)
            continue
        tables = load_results(d)
        if "mvm_fit" not in tables:
            raise InputError(f"{d}: no mvm_fit table (the report's full cores come from it)")
        pts = [pt for pt in mvm_points(tables["mvm_fit"])
               if pt.direction == "forward" and (pt.p["n_in"], pt.p["n_out"]) == (
                   paper.CORE_ROWS // 2, paper.CORE_COLS)]
        rows += energy_rows(pts)
    return rows


def _record_value(f, r: dict, key: str, kind, lo=None, hi=None, gt=None, choices=None):
    """``r[key]`` of held-out record ``f`` checked (InputError naming the file, key, value)."""
    import math

    if key not in r:
        raise InputError(f"{f}: held-out record lacks {key!r}")
    v = r[key]
    ok = (kind is int and isinstance(v, int) and not isinstance(v, bool)
          or kind is float and isinstance(v, (int, float)) and not isinstance(v, bool)
          and math.isfinite(v)
          or kind is str and isinstance(v, str))
    if ok and kind is not str:
        ok = ((lo is None or v >= lo) and (hi is None or v <= hi)
              and (gt is None or v > gt))
    if ok and choices is not None:
        ok = v in choices
    if not ok:
        want = {int: "an integer", float: "a finite number", str: "a string"}[kind]
        rng = "".join([f" >= {lo}" if lo is not None else "", f" <= {hi}" if hi is not None
                       else "", f" > {gt}" if gt is not None else "",
                       f" in {list(choices)}" if choices else ""])
        raise InputError(f"{f}: held-out record {key!r} must be {want}{rng}, got {v!r}")
    return v


def held_out_records() -> list[tuple[str, dict]]:
    """(file name, record) of every held-out full core in :data:`HELD_OUT_DIR`, read only
    through its sha256 manifest (:func:`pycim.files.verify_manifest`; a record the manifest
    does not list, or an altered one, is refused) and checked: integral sizes and widths, a
    known direction, finite positive energies. No directory: no records (the report says
    "none committed")."""
    import json

    from ..characterize.tables import ResultIntegrityError
    from ..files import verify_manifest

    d = _results_root() / HELD_OUT_DIR
    if not d.exists():
        return []
    files = verify_manifest(d, ResultIntegrityError,
                            rerun="rewrite it: PYTHONPATH=. python benchmarks/"
                                  "full_core_held_out.py compact")
    unlisted = sorted(p.name for p in d.glob("*.json")
                      if p.name not in files and p.name != "manifest.json")
    if unlisted:
        raise ResultIntegrityError(f"{d}: {unlisted[0]} is not in its manifest.json (added "
                                   f"after it); rewrite it: PYTHONPATH=. python benchmarks/"
                                   f"full_core_held_out.py compact")
    out = []
    for name, p in files.items():
        try:
            r = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{p}: unreadable held-out record ({exc})") from None
        if not isinstance(r, dict):
            raise InputError(f"{p}: held-out record is not a JSON object")
        _record_value(p, r, "n_in", int, lo=1, hi=128)
        _record_value(p, r, "n_out", int, lo=1, hi=256)
        _record_value(p, r, "in_bits", int, lo=1, hi=8)
        _record_value(p, r, "out_bits", int, lo=1, hi=10)
        _record_value(p, r, "seed", int, lo=0, hi=2**32 - 1)
        _record_value(p, r, "direction", str, choices=("forward", "backward"))
        if r.get("read_pulse_s") is not None:
            _record_value(p, r, "read_pulse_s", float, gt=0.0)
        e = r.get("energy_j")
        if not isinstance(e, dict):
            raise InputError(f"{p}: held-out record lacks an 'energy_j' object")
        _record_value(p, e, "total", float, gt=0.0)
        for g in GROUPS:
            if g in e:
                _record_value(p, e, g, float, lo=0.0)
        out.append((name, r))
    return out


def held_out_full_cores(fit: EnergyFit) -> list[dict]:
    """The fitted energy model against every held-out full-core MVM in :data:`HELD_OUT_DIR`
    (transistor-level energies; the same request through the macro engine with the fitted
    energy coefficients, so each at its own inputs' activity, phases and read pulse): one dict
    per run."""
    import warnings

    from ..characterize.kinds_fit import problem
    from ..cim.request import MvmRequest
    from ..macro.engine import run_macro_mvm

    out = []
    for name, r in held_out_records():
        w, x = problem({"n_in": r["n_in"], "n_out": r["n_out"], "in_bits": r["in_bits"],
                        "w_scale": 1.0, "batch": 1, "seed": r["seed"],
                        "direction": r["direction"]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the ideal line model's ranges: energy only here
            mac = run_macro_mvm(MvmRequest(w, x, r["in_bits"], r["out_bits"], seed=r["seed"],
                                           direction=r["direction"], engine="macro",
                                           read_pulse_s=r.get("read_pulse_s")),
                                model=fit.model)
        e_sim, e_mod = r["energy_j"]["total"], mac["energy_j"]["total"]
        out.append({"file": name, "direction": r["direction"], "in_bits": r["in_bits"],
                    "out_bits": r["out_bits"], "seed": r["seed"], "energy_sim_j": e_sim,
                    "energy_model_j": e_mod, "ratio_model_over_sim": e_mod / e_sim})
    return out


def fit_energy_model(df: pd.DataFrame, full_cores: bool = True) -> EnergyFit:
    """The MacroModel energy coefficients fitted to the measured rows by the fit stage's own
    energy fit (:func:`pycim.fit.fits.fit_energy_rows`: per group, non-negative least squares
    on relative error). No driver tie: the report's rectangular sizes (8x16, 16x8) separate
    the per-row and per-column driver terms. The model's latency must equal each row's
    simulated schedule (else its timing and the netlists disagree).
    """
    from ..fit.fits import fit_energy_rows
    from ..macro.model import MacroModel

    base = MacroModel.ideal()
    lat_model = np.array([base.latency_s(int(a), int(b), phases=default_phases(int(a)))
                          for a, b in zip(df["in_bits"], df["out_bits"])])
    lat_sim = df["latency_s"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(lat_sim) & (lat_sim > 0) & (np.abs(lat_model - lat_sim)
                                                      <= 1e-6 * np.abs(lat_model))
    if not ok.all():  # (NaN and negative latencies fail too: no comparison bypassed)
        i = int(np.flatnonzero(~ok)[0])
        r = df.iloc[i]
        raise InputError(f"report results: row {i} ({int(r['n_in'])}x{int(r['n_out'])}, "
                         f"{int(r['in_bits'])}-bit): simulated latency_s {lat_sim[i]!r} differs "
                         f"from the macro-model timing {lat_model[i]:.6g} s; rerun with pycim "
                         f"report --resimulate")
    missing: list[str] = []
    extra = full_core_rows(missing) if full_cores else []
    params, fits = fit_energy_rows(energy_rows(df) + extra, base, ties=None)
    energy = {**base.energy, **{k: 0.0 for k in base.energy if k != "activity_default"},
              **params}
    residuals = {f.name.removeprefix("energy_"): {"rms_rel": f.rms, "max_rel": f.max, "n": f.n}
                 for f in fits}
    sizes = tuple(sorted({(int(a), int(b)) for a, b in zip(df["n_in"], df["n_out"])}
                         | ({(paper.CORE_ROWS // 2, paper.CORE_COLS)} if extra else set())))
    bits = tuple(sorted({int(b) for b in df["in_bits"]}))
    model = base.with_(energy=energy, source="pycim report: energy coefficients fitted to "
                       f"transistor-level MVMs of sizes {sizes}, in_bits {bits}"
                       + (f" ({len(extra)} full-core MVMs)" if extra else ""))
    return EnergyFit(model, residuals, sizes, bits, len(extra), tuple(missing))


def sim_out_bits(in_bits: int) -> int:
    """Output bits simulated with ``in_bits`` inputs: the paper's in + 2 (up to 10)."""
    return paper.OUT_BITS[in_bits]


def core_point(fit: EnergyFit, in_bits: int, n_in: int = paper.CORE_ROWS // 2,
               n_out: int = paper.CORE_COLS) -> dict:
    """One core MVM from the fitted model: energy by group, per MAC, TOPS/W, latency, EDP."""
    ob = sim_out_bits(in_bits)
    e = fit.energy_j(in_bits, ob, n_in, n_out)
    macs = n_in * n_out
    lat = fit.latency_s(in_bits, ob)
    e_mac = e["total"] / macs
    return {"in_bits": in_bits, "out_bits": ob, "n_in": n_in, "n_out": n_out, "macs": macs,
            "energy_j": e, "energy_per_mac_j": e_mac,
            "tops_per_w": paper.OPS_PER_MAC / e_mac / 1e12, "latency_s": lat,
            "edp_js": e["total"] * lat,
            "throughput_tops": paper.OPS_PER_MAC * macs / lat / 1e12}


def chip_point(core: dict, n_cores: int = paper.N_CORES) -> dict:
    """48 cores in parallel: same energy per MAC, n_cores x throughput and power."""
    return {"in_bits": core["in_bits"], "out_bits": core["out_bits"], "n_cores": n_cores,
            "energy_per_mac_j": core["energy_per_mac_j"], "tops_per_w": core["tops_per_w"],
            "latency_s": core["latency_s"],
            "throughput_tops": n_cores * core["throughput_tops"],
            "power_w": n_cores * core["energy_j"]["total"] / core["latency_s"],
            "edp_js": n_cores * core["energy_j"]["total"] * core["latency_s"]}


def paper_breakdown(energy_j: dict[str, float]) -> dict[str, float]:
    """pycim's source groups folded into the paper's three groups, as fractions of the total."""
    tot = sum(energy_j[g] for g in GROUPS)
    return {k: sum(energy_j[g] for g in grp) / tot for k, (_, grp) in paper.PAPER_GROUPS.items()}


__all__ = ["FULL_CORE_DIRS", "HELD_OUT_DIR", "full_core_rows", "held_out_full_cores",
           "held_out_records",
           "GROUPS", "EnergyFit", "chip_point", "core_point", "energy_rows", "fit_energy_model",
           "g_total_s", "load_energy_table", "measured_rows", "paper_breakdown",
           "sim_out_bits"]

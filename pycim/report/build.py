"""``pycim report``: numbers (``report.json``) and a self-contained HTML page with embedded plots.

:func:`build_numbers` turns the verified report sweep into every number the report shows, with
the paper's numbers beside them; :func:`write_report` adds plots and writes both files atomically.
Nothing here types a number: simulated values come from the results tables (and the energy
model fitted to them), paper values from :mod:`pycim.report.paper`, assumptions from
:mod:`pycim.assumptions`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

from .. import __version__, assumptions, toolchain
from ..errors import InputError
from ..files import atomic_write_text
from ..specs.neuron import NeuronSpec
from . import data, paper
from .sensitivity import sensitivity

SCHEMA = "pycim.report/1"
DEFAULT_RESULTS = toolchain.ROOT / "characterization" / "results" / "report"
SPEC = toolchain.ROOT / "characterization" / "report.toml"
BITS = tuple(range(1, 9))
BREAKDOWN_BITS = 4  # the top-level breakdown: 4-bit inputs, 6-bit outputs (paper's typical)
#: issue 18 item 3: the core figures' model must be within this of held-out full cores
FULL_CORE_TOL = 0.05

#: what the simulation is and the chip was, beyond the numeric assumptions
PROCESS_NOTES = (
    ("process", "chip: 130 nm CMOS with monolithically integrated HfOx RRAM (paper); simulation: "
     "SkyWater SKY130 open PDK (flat BSIM4 cards from the PDK's binned models), tt corner, 27 C"),
    ("access device", "chip: its 1T1R access FET is not published; simulation: SKY130 5 V "
     "nfet_g5v0d10v5 (thick oxide, survives the 5 V RESET WL), W/L from pycim.assumptions"),
    ("RRAM", "chip: measured HfOx cells; simulation: SkyWater's sky130 ReRAM compact model and "
     "parameters, weights mapped to 1-40 uS with the simulated write-verify's error (+-1 uS)"),
    ("neuron", "chip: the paper describes the sample / integrate / charge-decrement cycle but not "
     "the amplifier; simulation: a two-stage Miller OTA biased statically for the whole MVM"),
    ("ADC width", "paper and simulation: outputs are inputs + 2 bits (up to 10 bits at 8-bit "
     "inputs); from 5 input bits each of the two phases converts out_bits - L bits (L: the low "
     "slice's magnitude bits; at most 7 bits, at 8-bit inputs) and the codes are shift-added to "
     "the full width (pycim.cim.phases)"),
    ("input scheme", "paper: inputs wider than 4 bits may run two-phase (two slices, shift-add); "
     "simulation: one-phase up to 4 input bits (n-bit input: 2^(n-1) - 1 integration windows), "
     "two-phase from 5 bits as the paper's two-phase figures (8 bits: 4 + 3 magnitude bits, "
     "15 + 7 windows)"),
    ("chip level", "simulation: 48 independent cores, no chip-level I/O, controller or clock tree "
     "(energy per MAC of the chip = that of a core)"),
)


def _k(b) -> str:
    return str(int(b))


def _display_path(p: Path) -> str:
    """``p`` relative to the repository root when it lies inside it (portable report.json)."""
    try:
        return str(Path(p).resolve().relative_to(toolchain.ROOT.resolve()))
    except ValueError:
        return str(p)


def _first_non_finite(v, path: str = "") -> str | None:
    """The key path of the first NaN or infinity in ``v`` (nested dicts and lists), or None."""
    if isinstance(v, float):
        return None if math.isfinite(v) else path or "(top)"
    if isinstance(v, dict):
        items = v.items()
    elif isinstance(v, (list, tuple)):
        items = enumerate(v)
    else:
        return None
    for k, x in items:
        bad = _first_non_finite(x, f"{path}.{k}" if path else str(k))
        if bad is not None:
            return bad
    return None


def report_json(nums: dict) -> str:
    """``report.json``'s text: strict JSON (no NaN or Infinity: ``allow_nan=False`` as the last
    guard; a non-finite number is refused naming its key, never written)."""
    bad = _first_non_finite(nums)
    if bad is not None:
        raise InputError(f"report: {bad} is not a finite number (from the results in "
                         f"{nums.get('results_dir')}); not writing report.json")
    return json.dumps(nums, indent=1, sort_keys=True, allow_nan=False) + "\n"


def _manifest_digest(results_dir: Path) -> str:
    return hashlib.sha256((Path(results_dir) / "manifest.json").read_bytes()).hexdigest()


def explain(b: int, core: dict, pap_bd: dict[str, float], pap_lat: float,
            t_window_s: float) -> str:
    """A short, number-driven explanation of the sim/paper gap at ``b`` input bits: each paper
    group's sim/paper ratio, the reason for the large ones, and the scheme differences."""
    macs = core["macs"]
    sim_fj_op = {k: sum(core["energy_j"][g] for g in grp) / macs / paper.OPS_PER_MAC * 1e15
                 for k, (_, grp) in paper.PAPER_GROUPS.items()}
    extra = {k: sim_fj_op[k] - pap_bd[k] for k in sim_fj_op}
    tot_extra = sum(extra.values())
    order = sorted(extra, key=lambda k: -abs(extra[k]))
    names = {"neuron": "neuron", "wl_switching": "word-line", "input_pulses": "input-pulse"}
    v = paper.VOLTAGES
    wl_sim = assumptions.value("v_wl_read_v")
    wl_sim_low = assumptions.value("v_wl_low_v")
    t_win = t_window_s
    t_read = paper.TIMING["t_read_pulse_s"].value
    g_cell = data.mean_pair_conductance_s() / 2
    ns = NeuronSpec()
    why = {
        "neuron": f"each neuron's OTA draws {ns.ibias_a * ns.m_tail * 1e6:g} uA always and "
                  f"{ns.ibias_a * (ns.m_tail + ns.m_out) * 1e6:g} uA while enabled from "
                  f"{ns.vdd_v:g} V (pycim.assumptions neuron_ibias_a; the average per neuron is "
                  f"measured in tests/test_edges.py), against the chip's ~1.8 uW",
        "wl_switching": (
            f"the WL swings {wl_sim_low:g} <-> {wl_sim:g} V as the chip's, but each 256-cell "
            f"row carries access FETs {assumptions.value('access_w_um'):g} um wide (widened to "
            f"keep Ron at that WL level; pycim.assumptions access_w_um) and a "
            f"{assumptions.value('wl_nfet_w_um'):g} / {assumptions.value('wl_pfet_w_um'):g} um "
            f"inverter whose input gate a CMOS driver charges each cycle"),
        "input_pulses": (
            f"the cells conduct for {t_win * 1e9:.0f} ns per read pulse against the chip's "
            f"{t_read * 1e9:.0f} ns, at a mean {g_cell * 1e6:.1f} uS per cell"
            if sim_fj_op["input_pulses"] > pap_bd["input_pulses"] else
            f"cells see v_read = {assumptions.value('v_read_v'):g} V (the authors' code: "
            f"0.1-0.2 V), the paper labels its input pulses {v['v_read_label_v'].value:g} V; "
            f"the cells' share grows as v_read^2"),
    }
    parts = []
    for k in order:
        r = sim_fj_op[k] / pap_bd[k]
        s = (f"{names[k]} {sim_fj_op[k]:.1f} vs {pap_bd[k]:.1f} fJ/op (x{r:.2g}, "
             f"{100 * extra[k] / tot_extra:.0f} % of the gap)")
        if r > 2 or r < 0.5:
            s += f": {why[k]}"
        parts.append(s)
    lat_r = core["latency_s"] / pap_lat
    parts.append(f"latency {core['latency_s'] * 1e6:.2f} vs {pap_lat * 1e6:.2f} us "
                 f"(x{lat_r:.2f})")
    if b >= 5:
        parts.append("two-phase, as the paper (two input slices, shift-added)")
    if paper.OUT_BITS[b] > core["out_bits"]:
        parts.append(f"the simulated ADC converts {core['out_bits']} bits, the paper "
                     f"{paper.OUT_BITS[b]}")
    return "; ".join(parts)


def build_numbers(results_dir=None) -> dict:
    """Every number of the report from the verified results in ``results_dir``."""
    rdir = Path(results_dir) if results_dir is not None else DEFAULT_RESULTS
    df = data.load_energy_table(rdir)
    fit = data.fit_energy_model(df)
    measured = data.measured_rows(df)
    core = {b: data.core_point(fit, b) for b in BITS}
    chip = {b: data.chip_point(core[b]) for b in BITS}
    bd_sim = {b: data.paper_breakdown(core[b]["energy_j"]) for b in BITS}
    pap_bd_fj = {b: {g: v.value for g, v in paper.BREAKDOWN_FJ_PER_OP[b].items()} for b in BITS}
    pap_lat = {b: paper.latency_per_mvm_s(b) for b in BITS}

    def ratio(a, p):
        return a / p

    comparisons = []
    for b in BITS:
        c, h = core[b], chip[b]
        rows = [
            ("tops_per_w", h["tops_per_w"], paper.TOPS_PER_W[b], "chip (= core) from fitted model"),
            ("energy_per_mac_j", h["energy_per_mac_j"], paper.ENERGY_PER_MAC_J[b],
             "chip (= core) from fitted model"),
            ("throughput_tops_48_cores", h["throughput_tops"], paper.TOPS_48_CORES[b],
             "48 x core, latency from the schedule"),
            ("latency_per_mvm_s", c["latency_s"], pap_lat[b], "transistor-level schedule"),
        ]
        for g, pv in paper.BREAKDOWN_FJ_PER_OP[b].items():
            grp = paper.PAPER_GROUPS[g][1]
            sim = sum(c["energy_j"][k] for k in grp) / c["macs"] / paper.OPS_PER_MAC * 1e15
            rows.append((f"breakdown_fj_per_op.{g}", sim, pv, "core from fitted model"))
        for name, sim, pv, level in rows:
            comparisons.append({"in_bits": b, "quantity": name, "sim": sim, "paper": pv.value,
                                "unit": pv.unit, "ratio_sim_over_paper": ratio(sim, pv.value),
                                "level": level, "source": pv.source, "note": pv.note})
    expl = {b: explain(b, core[b], pap_bd_fj[b], pap_lat[b].value,
                       fit.model.timing["t_window_s"]) for b in BITS}
    sens, sens_skipped = sensitivity(fit, BREAKDOWN_BITS, skipped=True)
    held = data.held_out_full_cores(fit)
    devs = [abs(r["ratio_model_over_sim"] - 1) for r in held]
    if not all(math.isfinite(d) for d in devs):  # (records are checked: a model fault)
        raise InputError("report: a held-out full core's model / SPICE energy ratio is not "
                         "finite")
    full_core = {
        "rows_in_fit": fit.n_full_core_rows, "held_out": held,
        "max_abs_rel_dev": max(devs) if devs else None, "tolerance": FULL_CORE_TOL,
        "validated": bool(devs) and max(devs) <= FULL_CORE_TOL,
        "dirs_missing": list(fit.full_core_dirs_missing),
        "command": "PYTHONPATH=. python benchmarks/full_core_held_out.py run IN OUT DIRECTION "
                   "SEED --compact",
    }

    macro_default = None
    try:
        from ..macro.model import MacroModel

        m = MacroModel.load()
        e = m.energy_j(BREAKDOWN_BITS, data.sim_out_bits(BREAKDOWN_BITS), paper.CORE_ROWS,
                       paper.CORE_COLS, data.g_total_s(paper.CORE_ROWS // 2, paper.CORE_COLS))
        macro_default = {"source": m.source, "in_bits": BREAKDOWN_BITS,
                         "energy_per_mac_j": e["total"] / paper.CORE_MACS,
                         "energy_j": e}
    except (ImportError, InputError, KeyError, ValueError) as exc:  # optional cross-check
        macro_default = {"source": f"unavailable: {exc}"}

    paper_block = {
        "tops_per_w": {_k(b): paper.TOPS_PER_W[b].as_dict() for b in BITS},
        "energy_per_mac_j": {_k(b): paper.ENERGY_PER_MAC_J[b].as_dict() for b in BITS},
        "breakdown": {g: v.as_dict() for g, v in
                      paper.breakdown_fractions(BREAKDOWN_BITS).items()},
        "breakdown_fj_per_op": {_k(b): {g: v.as_dict() for g, v in
                                        paper.BREAKDOWN_FJ_PER_OP[b].items()} for b in BITS},
        "throughput_tops_48_cores": {_k(b): paper.TOPS_48_CORES[b].as_dict() for b in BITS},
        "latency_per_mvm_s": {_k(b): pap_lat[b].as_dict() for b in BITS},
        "out_bits": {_k(b): paper.OUT_BITS[b] for b in BITS},
        "timing": {k: v.as_dict() for k, v in paper.TIMING.items()},
        "voltages": {k: v.as_dict() for k, v in paper.VOLTAGES.items()},
        "headline": {k: v.as_dict() for k, v in paper.HEADLINE.items()},
    }
    measured_bits = sorted(fit.in_bits)
    extrapolated = [b for b in BITS if b not in fit.in_bits]
    return {
        "schema": SCHEMA,
        "measured_in_bits": measured_bits,
        "extrapolated_in_bits": extrapolated,
        "extrapolation_note": (
            f"core and chip figures at input bits {extrapolated} come from the energy model "
            f"outside the measured input widths {measured_bits} (no transistor-level MVM at "
            f"those widths)" if extrapolated else
            f"every input width {BITS[0]}-{BITS[-1]} has transistor-level MVMs"),
        "pycim_version": __version__,
        "results_dir": _display_path(rdir),
        "results_manifest_sha256": _manifest_digest(rdir),
        "level": (f"chip: {paper.N_CORES} cores of {paper.CORE_ROWS} x {paper.CORE_COLS} cells "
                  f"({paper.CORE_MACS} MACs per core MVM); energy per core MVM from the "
                  f"MacroModel energy formula fitted to transistor-level MVMs of sizes "
                  f"{list(fit.sizes)} (n_in x n_out; {fit.n_full_core_rows} of them full "
                  f"256 x 256 cores); " + (
                      f"validated on {len(held)} held-out transistor-level full-core MVMs "
                      f"within {100 * full_core['max_abs_rel_dev']:.1f} % (tolerance "
                      f"{100 * FULL_CORE_TOL:g} %)" if full_core["validated"] else
                      "NOT validated on held-out full cores" + (
                          f" (max deviation {100 * full_core['max_abs_rel_dev']:.1f} %)"
                          if devs else " (none committed)")) + "; 1 MAC = 2 ops"),
        "full_core": full_core,
        "tops_per_w": {_k(b): chip[b]["tops_per_w"] for b in BITS},
        "energy_per_mac_j": {_k(b): chip[b]["energy_per_mac_j"] for b in BITS},
        "breakdown": bd_sim[BREAKDOWN_BITS],
        "breakdown_in_bits": BREAKDOWN_BITS,
        "breakdown_by_in_bits": {_k(b): bd_sim[b] for b in BITS},
        "breakdown_pycim_groups": {_k(b): {g: core[b]["energy_j"][g] / core[b]["energy_j"]["total"]
                                           for g in data.GROUPS} for b in BITS},
        "out_bits": {_k(b): core[b]["out_bits"] for b in BITS},
        "latency_s": {_k(b): core[b]["latency_s"] for b in BITS},
        "throughput_tops": {_k(b): chip[b]["throughput_tops"] for b in BITS},
        "edp_js": {_k(b): core[b]["edp_js"] for b in BITS},
        "ratio_sim_over_paper": {
            q: {_k(r["in_bits"]): r["ratio_sim_over_paper"] for r in comparisons
                if r["quantity"] == q}
            for q in ("tops_per_w", "energy_per_mac_j", "throughput_tops_48_cores",
                      "latency_per_mvm_s")},
        "explanations": {_k(b): expl[b] for b in BITS},
        "comparisons": comparisons,
        "measured": measured,
        "core": {_k(b): core[b] for b in BITS},
        "chip": {_k(b): chip[b] for b in BITS},
        "fit": {"coefficients": fit.model.energy, "timing": fit.model.timing,
                "residuals": fit.residuals, "sizes": [list(s) for s in fit.sizes],
                "in_bits": list(fit.in_bits), "source": fit.model.source,
                "g_pair_mean_s": data.mean_pair_conductance_s()},
        "macro_model_default": macro_default,
        "sensitivity": {"in_bits": BREAKDOWN_BITS, "rel_step": 0.2,
                        "method": "one at a time on the fitted energy model "
                                  "(pycim.report.sensitivity), core level", "rows": sens,
                        "skipped": sens_skipped},
        "paper": paper_block,
        "assumptions": assumptions.table(),
        "process_notes": [{"item": a, "note": b} for a, b in PROCESS_NOTES],
    }


def resimulate(out_dir: Path, jobs: int | None = None) -> Path:
    """``--resimulate``: rerun ``characterization/report.toml`` into ``out_dir/sweep`` (cached,
    resumable) through the same entry point as ``pycim sweep``
    (:func:`pycim.characterize.sweep_into`); the only place the report simulates."""
    from ..characterize import sweep_into
    from ..errors import SimulationError  # failed points are a fault (exit 1), not bad input

    sweep_dir = Path(out_dir) / "sweep"
    rep = sweep_into(SPEC, sweep_dir, jobs=jobs, progress=True)
    if rep.failures:
        raise SimulationError(f"--resimulate: {len(rep.failures)} sweep points failed "
                         f"(first: {rep.failures[0].message}); see {sweep_dir}/sweep.json")
    return sweep_dir


def write_report(out_dir, results_dir=None) -> tuple[Path, Path, dict]:
    """Build the numbers and plots; write ``report.json`` and ``report.html`` to ``out_dir``."""
    from .html import render_html
    from .plots import make_plots

    t0 = time.perf_counter()
    nums = build_numbers(results_dir)
    plots = make_plots(nums)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    j = atomic_write_text(out / "report.json", report_json(nums))
    h = atomic_write_text(out / "report.html", render_html(nums, plots,
                                                         build_s=time.perf_counter() - t0))
    return Path(j), Path(h), nums


__all__ = ["BITS", "BREAKDOWN_BITS", "DEFAULT_RESULTS", "SCHEMA", "SPEC", "build_numbers",
           "explain", "report_json", "resimulate", "write_report"]

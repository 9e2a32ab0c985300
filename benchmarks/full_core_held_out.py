"""A macro-model against held-out full 256 x 256 cores (issue 18 item 2), any model file.

    PYTHONPATH=. python benchmarks/full_core_held_out.py run IN OUT DIRECTION SEED [--out DIR]
    PYTHONPATH=. python benchmarks/full_core_held_out.py eval MODEL.json [--out DIR] [--gain-error E]
    PYTHONPATH=. python benchmarks/full_core_held_out.py compact [--out DIR]

``run``: one transistor-level MVM (128 signed rows x 256 columns, ``problem`` of
``pycim.characterize.kinds_fit`` with that seed, partitioned, wire R/C in 32-cell segments;
about 8 CPU-minutes) saved as ``DIR/spice_<direction>_<in>_<out>_<seed>.json`` (default DIR
``out/full_core_held_out``). ``eval``: every saved run through ``MODEL.json`` (the macro
engine of ``pycim mvm --engine macro``, the same conductances): code error (macro - SPICE) RMS / max / mean and the energy ratio. The
``make bench`` group ``macro_vs_spice_256`` does both for the packaged model; this script
lets another model (e.g. ``pycim fit ... -o /tmp/m.json``) be judged on the same runs; ``eval
MODEL.json --out characterization/results/full_core_held_out`` judges it on the committed
compact records (each at its own read pulse; two-phase records with each phase's codes);
``--gain-error 0.1`` judges the model with its integrator gain 10 % high instead (can the runs
tell it apart?).
``compact`` (or ``run --compact``) writes each run's small record (energies, codes, the
request's keys) to ``characterization/results/full_core_held_out/`` and rewrites that
directory's sha256 ``manifest.json`` (the sweeps' :func:`pycim.files.write_manifest`), where
``pycim report`` checks its core energy model against them (issue 18 item 3; a record not in
the manifest, or altered, is refused).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np


#: compact records that ``pycim report`` validates its core energy against
COMPACT_DIR = Path("characterization/results/full_core_held_out")


def _problem(in_bits: int, direction: str, seed: int):
    from pycim.characterize.kinds_fit import problem

    return problem({"n_in": 128, "n_out": 256, "in_bits": in_bits, "w_scale": 1.0, "batch": 1,
                    "seed": seed, "direction": direction})


def run(in_bits: int, out_bits: int, direction: str, seed: int, out: Path,
        compact_dir: Path | None = None) -> None:
    from pycim import assumptions
    from pycim.cim.request import MvmRequest
    from pycim.dispatch import run_mvm

    w, x = _problem(in_bits, direction, seed)
    t0 = time.perf_counter()
    res = run_mvm(MvmRequest(w, x, in_bits, out_bits, seed=seed, direction=direction,
                             partition=True, wire_segment_cells=32), progress=False)
    res["wall_s"] = time.perf_counter() - t0
    for k in assumptions.CIRCUIT_PROVENANCE:  # the run's wires and line drivers
        res[k] = assumptions.value(k)
    out.mkdir(parents=True, exist_ok=True)
    p = out / f"spice_{direction}_{in_bits}_{out_bits}_{seed}.json"
    p.write_text(json.dumps(res))
    print(f"{p}: {res['wall_s']:.0f} s")
    if compact_dir is not None:
        compact(p, compact_dir)


#: what a compact record keeps (the problem regenerates from its seed: kinds_fit.problem)
COMPACT_KEYS = ("direction", "in_bits", "out_bits", "seed", "phases", "energy_j", "latency_s",
                "code", "y_ideal", "wall_s", "pycim_version", "corner", "temp_c",
                "read_pulse_s", "wire_r_ohm_per_um", "adc_full_scale_v", "phase_codes",
                "phase_in_bits", "phase_out_bits", "phase_adc_full_scale_v", "switch_w_um",
                "switch_p_w_um")


def compact(path: Path, out: Path) -> Path:
    """A saved run's small record for ``characterization/results/full_core_held_out`` (what
    ``pycim report`` checks its energy model against): energies, codes, the request's keys."""
    from pycim import assumptions

    res = json.loads(Path(path).read_text())
    rec = {"n_in": 128, "n_out": 256, "partition": True, "wire_segment_cells": 32,
           **{k: res[k] for k in COMPACT_KEYS if k in res}}
    for k in assumptions.CIRCUIT_PROVENANCE:  # a run from before the record: this tree's
        if k not in rec:
            rec[k] = assumptions.value(k)
            print(f"{path}: no {k} recorded, taken as this tree's {rec[k]:g} "
                  f"{assumptions.ASSUMPTIONS[k].unit}")
    out.mkdir(parents=True, exist_ok=True)
    p = out / Path(path).name
    p.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(f"wrote {p}")
    write_compact_manifest(out)
    return p


def write_compact_manifest(out: Path) -> Path:
    """The directory's ``manifest.json`` over every compact record in it (the sweeps' helper,
    :func:`pycim.files.write_manifest`): ``pycim report`` reads the records only through it."""
    from pycim.files import write_manifest

    return write_manifest(out, sorted(Path(out).glob("spice_*.json")))


def macro_on(rec: dict, model=None) -> tuple[dict, list]:
    """(result, warnings caught) of the macro engine on a saved run's or a compact record's
    request (the problem regenerated from its seed; its read pulse and ADC full scale),
    through ``model`` (None: the packaged one)."""
    from pycim.cim.request import MvmRequest
    from pycim.macro.engine import run_macro_mvm

    w, x = _problem(rec["in_bits"], rec["direction"], rec["seed"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mac = run_macro_mvm(MvmRequest(w, x, rec["in_bits"], rec["out_bits"], seed=rec["seed"],
                                       direction=rec["direction"], engine="macro",
                                       read_pulse_s=rec.get("read_pulse_s"),
                                       adc_full_scale_v=rec.get("adc_full_scale_v")),
                            model=model)
    return mac, caught


def evaluate(model_path: str, out: Path, gain_error: float = 0.0) -> None:
    """Every saved run through the model at ``model_path``, its integrator gain scaled by
    1 + ``gain_error``."""
    from dataclasses import replace

    from pycim import assumptions
    from pycim.macro.model import MacroModel

    m = MacroModel.load(model_path)
    if gain_error:
        m = replace(m, integ_gain=m.integ_gain * (1 + gain_error))
        print(f"the model's integrator gain x {1 + gain_error:g}")
    now = {k: assumptions.value(k) for k in assumptions.CIRCUIT_PROVENANCE}
    files = sorted(out.glob("spice_*.json"))
    if not files:
        raise SystemExit(f"no runs in {out}: run `... run IN OUT DIRECTION SEED` first")
    for f in files:
        sp = json.loads(f.read_text())
        d, bi, bo, seed = sp["direction"], sp["in_bits"], sp["out_bits"], sp["seed"]
        for k, v in now.items():
            if sp.get(k, v) != v:
                print(f"{f.name}: SPICE run with {k} {sp[k]:g}, the macro model resolves "
                      f"{v:g} (pycim.assumptions): not like with like")
        mac, caught = macro_on(sp, m)
        if "g_pos_s" in sp:  # a full run (a compact record regenerates them from the seed)
            assert mac["g_pos_s"] == sp["g_pos_s"]  # the same programmed conductances
        cs, cm = np.array(sp["code"]), np.array(mac["code"])
        e = cm - cs
        print(f"{d} {bi}/{bo} seed {seed}: macro - SPICE codes RMS "
              f"{np.sqrt(np.mean(e ** 2)):.3f} max {np.abs(e).max():.0f} mean {e.mean():+.3f} "
              f"LSB; energy ratio {mac['energy_j']['total'] / sp['energy_j']['total']:.4f}; "
              f"SPICE codes {cs.min():.0f}..{cs.max():.0f}; read pulse "
              f"{(sp.get('read_pulse_s') or 0) * 1e9:.0f} ns; {len(caught)} warnings")
        if sp.get("phases") == 2 and "phase_codes" in sp:  # each phase's own codes
            for k, (ps, pm) in enumerate(zip(sp["phase_codes"], mac["phase_codes"])):
                ep = np.array(pm) - np.array(ps)
                print(f"    phase {k} ({sp['phase_in_bits'][k]}/{sp['phase_out_bits'][k]} at "
                      f"{sp['phase_adc_full_scale_v'][k]} V): RMS {np.sqrt(np.mean(ep ** 2)):.3f}"
                      f" max {np.abs(ep).max():.0f} mean {ep.mean():+.3f} LSB of the phase")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("in_bits", type=int)
    r.add_argument("out_bits", type=int)
    r.add_argument("direction", choices=("forward", "backward"))
    r.add_argument("seed", type=int)
    r.add_argument("--compact", action="store_true",
                   help=f"also write the compact record to {COMPACT_DIR}")
    e = sub.add_parser("eval")
    e.add_argument("model")
    e.add_argument("--gain-error", type=float, default=0.0,
                   help="judge the model with its integrator gain off by this fraction (e.g. "
                        "0.1: 10 %% high): whether the runs can tell such a model apart")
    c = sub.add_parser("compact", help="compact records of every saved run")
    for p in (r, e, c):
        p.add_argument("--out", type=Path, default=Path("out/full_core_held_out"))
    a = ap.parse_args()
    if a.cmd == "run":
        run(a.in_bits, a.out_bits, a.direction, a.seed, a.out,
            COMPACT_DIR if a.compact else None)
    elif a.cmd == "compact":
        for f in sorted(a.out.glob("spice_*.json")):
            compact(f, COMPACT_DIR)
    else:
        if not -0.5 < a.gain_error < 0.5:
            ap.error("--gain-error must lie in (-0.5, 0.5)")
        evaluate(a.model, a.out, a.gain_error)


if __name__ == "__main__":
    main()

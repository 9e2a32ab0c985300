"""The hold capacitor's pedestal, measured on the array stage's hold nodes (issue 18 item 2).

    PYTHONPATH=. python benchmarks/hold_pedestal.py N_IN N_OUT DIRECTION [--seed S]
        [--seg K] [--density D] [--json OUT]
    PYTHONPATH=. python benchmarks/hold_pedestal.py --reference [--jobs 2]   (the committed cases)

Runs the partitioned flow's array stage (:mod:`pycim.flows.partition`: the whole core with
each neuron's track/hold front end, SKY130 drivers and access FETs, RRAM read model) for one
4-bit vector of :func:`pycim.characterize.kinds_fit.problem` and reads per plane

* the sensed line where the flow reads it "settled" (``v_settled_v``: one edge before the
  track switch opens, :func:`pycim.specs.neuron.settled_read_times`), and
* the hold node once the switch is open, before the plane's first sample (the end of the
  read pulse + 3 ns), and
* how fast the line still moves at the settled reading (mean slope over the ns before it),

and prints hold - settled line per plane (mean and sd over the lines) beside the packaged
model's :meth:`pycim.macro.model.MacroModel.hold_pedestal_v` (``b_hold_v``, which
``pycim fit`` identifies on the MVM codes, not on these nodes). On a full core the line is
still moving when the switch opens (the word lines' turn-on kick relaxing), so C_hold takes
a few mV more than the settled reading.

``--reference`` runs the cases of ``benchmarks/reference/hold_pedestal.json`` (about 55
CPU-minutes; ``--jobs N`` runs N cases at a time) and rewrites it with the circuit's
provenance values (:data:`pycim.assumptions.CIRCUIT_PROVENANCE`: wires, driver widths);
``tests/test_fit.py`` compares the packaged model with it and refuses a reference of another
circuit.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).parent / "reference" / "hold_pedestal.json"
#: the committed cases: (n_in, n_out, direction, seed, wire segment cells, input density)
CASES = ((128, 256, "forward", 13, 32, 1.0), (128, 256, "forward", 41, 32, 0.3),
         (128, 256, "backward", 13, 32, 1.0), (128, 256, "backward", 41, 32, 0.3),
         (128, 128, "forward", 3, 32, 1.0), (64, 64, "forward", 3, 1, 1.0),
         (8, 128, "backward", 3, 1, 1.0))
#: after the read pulse's end, when the hold node is read (the first sample starts later)
HOLD_READ_AFTER_S = 3e-9
#: the line's mean slope is taken over this window before the settled reading
SLOPE_WINDOW_S = 1e-9


def measure(n_in: int, n_out: int, direction: str, seed: int = 13, seg: int = 32,
            density: float = 1.0) -> dict:
    """One case's per-plane pedestal (V): hold - settled line, mean and sd over the lines."""
    from benchmarks.array_stage import problem_request, run_array_stage
    from pycim.macro.model import MacroModel
    from pycim.measure.neuron import line_drift_v_per_s
    from pycim.specs.neuron import settled_read_times

    st = run_array_stage(problem_request(n_in, n_out, direction, seed, seg, density))
    t, lines, holds, sched, spec = st.t, st.lines, st.holds, st.schedule, st.spec
    t_read = settled_read_times(sched, spec)
    drift = line_drift_v_per_s(t, lines, sched, spec, window_s=SLOPE_WINDOW_S)
    planes = []
    for k, n in enumerate(sorted(t_read)):
        t_hold = sched.end(f"rd{n}") + HOLD_READ_AFTER_S
        first = sched.start(f"in{n}_0")  # the plane's first sample (after its guard phase)
        if t_hold >= first:
            raise RuntimeError(f"plane {n}: the hold read at {t_hold:.3g} s is not before the "
                               f"first sample at {first:.3g} s")
        v_line = np.array([np.interp(t_read[n], t, r) for r in lines])
        v_hold = np.array([np.interp(t_hold, t, r) for r in holds])
        d = v_hold - v_line
        planes.append({"plane": n, "mean_v": float(d.mean()), "sd_v": float(d.std()),
                       "line_slope_v_per_s": float(np.mean(drift[k]))})
    n_rows = 2 * n_in if direction == "forward" else n_out  # cells on each sensed line
    n_cells = n_out if direction == "forward" else 2 * n_in  # cells on each driven line
    model = MacroModel.load().for_direction(direction)
    return {"n_in": n_in, "n_out": n_out, "direction": direction, "seed": seed,
            "wire_segment_cells": seg, "density": density, "neuron_part": st.neuron_part,
            "planes": planes, "mean_v": float(np.mean([p["mean_v"] for p in planes])),
            "model_v": float(model.hold_pedestal_v(n_rows, n_cells)),
            "model_source": model.source, "array_stage_wall_s": st.wall_s}


def _measure_case(case: tuple) -> dict:
    """:func:`measure` of one entry of :data:`CASES` (a picklable task for the pool)."""
    return measure(*case)


def _print(r: dict) -> None:
    per = ", ".join(f"{p['mean_v'] * 1e3:+.2f} (sd {p['sd_v'] * 1e3:.2f}; line moving "
                    f"{p['line_slope_v_per_s'] * 1e3 / 1e9:+.2f} mV/ns)" for p in r["planes"])
    print(f"{r['n_in']}x{r['n_out']} {r['direction']} seed {r['seed']} seg {r['wire_segment_cells']}"
          f" density {r['density']}: hold - settled line per plane [mV] {per}; mean "
          f"{r['mean_v'] * 1e3:+.2f}; model {r['model_v'] * 1e3:+.2f} "
          f"({r['array_stage_wall_s']:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n_in", type=int, nargs="?")
    ap.add_argument("n_out", type=int, nargs="?")
    ap.add_argument("direction", nargs="?", choices=("forward", "backward"))
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--seg", type=int, default=32)
    ap.add_argument("--density", type=float, default=1.0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--reference", action="store_true",
                    help=f"run the committed cases and rewrite {REFERENCE}")
    ap.add_argument("--jobs", type=int, default=1, help="--reference: cases run at a time")
    a = ap.parse_args()
    if a.reference:
        from pycim.assumptions import CIRCUIT_PROVENANCE, value

        if not 1 <= a.jobs <= 16:
            ap.error("--jobs must be 1..16")
        out = []
        with ProcessPoolExecutor(max_workers=a.jobs) as pool:
            for r in pool.map(_measure_case, CASES):  # in CASES' order, printed as they end
                _print(r)
                out.append(r)
        # SPICE only: the model's value is printed above, not kept with the measurement
        cases = [{k: v for k, v in r.items() if k not in ("model_v", "model_source")}
                 for r in out]
        REFERENCE.write_text(json.dumps({"command": "PYTHONPATH=. python "
                                         "benchmarks/hold_pedestal.py --reference",
                                         "circuit": {k: value(k) for k in CIRCUIT_PROVENANCE},
                                         "cases": cases}, indent=1) + "\n")
        print(f"wrote {REFERENCE}")
        return
    if a.n_in is None or a.n_out is None or a.direction is None:
        ap.error("N_IN N_OUT DIRECTION, or --reference")
    r = measure(a.n_in, a.n_out, a.direction, a.seed, a.seg, a.density)
    _print(r)
    if a.json:
        a.json.write_text(json.dumps(r, indent=1) + "\n")


if __name__ == "__main__":
    main()

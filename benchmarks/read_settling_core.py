"""Read-pulse settling of a full core's sensed lines (issue 17 item 2), on the MVM's own circuit.

    PYTHONPATH=. python benchmarks/read_settling_core.py [DIRECTION CORNER TEMP_C] [--json OUT]
    PYTHONPATH=. python benchmarks/read_settling_core.py --reference   (the committed cases)

``benchmarks/read_settling.py`` simulates a 256 x 1 column: every row and word line carries one
cell. On a full core each driven line carries 256 cells and is charged through its SKY130
driver and its wire, so the sensed lines follow the input edges more slowly. This script runs
the partitioned flow's array stage (:mod:`pycim.flows.partition`: the whole 128 x 256 core,
every line's SKY130 driver, access FETs, RRAM read model, wire R/C in 32-cell segments, each
neuron's track/hold front end) on one dense 4-bit vector (:func:`pycim.characterize.kinds_fit.
problem`, seed 13) with a ``PULSE_S`` read pulse, until the end of the first magnitude plane's
pulse, and reads every sensed line against its value at the end of that long pulse:

* ``settle_s``: from the start of the read pulse (the input drivers' edges; the word lines are
  already on, ``wl_lead_s`` earlier) until the line stays within ``TOL_V`` (0.5 mV, as
  ``read_settling.py``: ~0.1 LSB at the line at 8-bit outputs) of that value; median, 95th
  percentile and max over the 256 lines;
* ``dev_at_read_v``: for a read pulse P of ``PULSES_S``, the line minus its final value where the
  flow takes the held value (:func:`pycim.specs.neuron.settled_read_times`: P less three edges
  after the pulse starts); mean and max |.| over the lines;
* ``needed_pulse_s``: the shortest whole-ns pulse whose reading comes after the slowest line's
  ``settle_s``.

``--reference`` runs forward and backward at tt / 27 C and ss / 125 C (about 10 CPU-minutes)
and writes ``benchmarks/reference/read_settling_core.json``; ``tests/test_settling_core.py``
holds the default ``read_pulse_s`` of :mod:`pycim.assumptions` to it.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).parent / "reference" / "read_settling_core.json"
#: (direction, corner, temp_c) of the committed cases
CASES = (("forward", "tt", 27.0), ("forward", "ss", 125.0),
         ("backward", "tt", 27.0), ("backward", "ss", 125.0))
#: the long read pulse the lines are watched in
PULSE_S = 60e-9
#: the settling band, as benchmarks/read_settling.py
TOL_V = 0.5e-3
#: read pulses whose reading points are reported
PULSES_S = (10e-9, 15e-9, 20e-9, 25e-9)
#: the lines are read on this grid from the pulse's start
GRID_S = 0.25e-9
SEED = 13


def settle_time_s(grid_s: np.ndarray, dev_v: np.ndarray, tol_v: float) -> float:
    """From ``grid_s[0]`` until ``|dev_v|`` last exceeds ``tol_v`` (the next grid point after
    the last excursion); 0 if it never does. ``dev_v``: the line minus its final value."""
    out = np.nonzero(np.abs(dev_v) > tol_v)[0]
    if out.size == 0:
        return 0.0
    k = min(int(out[-1]) + 1, grid_s.size - 1)
    return float(grid_s[k] - grid_s[0])


def measure(direction: str, corner: str, temp_c: float) -> dict:
    from benchmarks.array_stage import problem_request, run_array_stage
    from pycim.netlist.mvm_deck import mvm_setup
    from pycim.specs.neuron import settled_read_times

    req = problem_request(128, 256, direction, SEED, read_pulse_s=PULSE_S, corner=corner,
                          temp_c=temp_c)
    setup = mvm_setup(req)
    sched, spec = setup.schedule, setup.neuron
    t_start = sched.start("rd1")
    t_end = settled_read_times(sched, spec)[1]  # the long pulse's own reading
    stage = run_array_stage(req, t_stop_s=t_end + 2 * spec.t_edge_s, step_s=1e-10, setup=setup)
    grid = t_start + np.arange(0.0, t_end - t_start + GRID_S / 2, GRID_S)
    v = np.array([np.interp(grid, stage.t, row) for row in stage.lines])
    dev = v - v[:, -1:]
    st = np.array([settle_time_s(grid, d, TOL_V) for d in dev])
    reads = []
    for p in PULSES_S:
        t_rd = t_start + p - 3 * spec.t_edge_s
        d = np.array([np.interp(t_rd, grid, row) for row in dev])
        reads.append({"read_pulse_s": p, "mean_v": float(d.mean()),
                      "max_abs_v": float(np.abs(d).max())})
    need_ns = math.ceil((st.max() + 3 * spec.t_edge_s) * 1e9 - 1e-6)
    return {"direction": direction, "corner": corner, "temp_c": temp_c, "seed": SEED,
            "n_in": 128, "n_out": 256, "wire_segment_cells": 32, "pulse_s": PULSE_S,
            "tol_v": TOL_V, "t_edge_s": spec.t_edge_s,
            "settle_s": {"median": float(np.median(st)), "p95": float(np.percentile(st, 95)),
                         "max": float(st.max())},
            "dev_at_read_v": reads, "needed_pulse_s": need_ns * 1e-9,
            "line_swing_v": float(np.abs(v[:, -1] - v[:, 0]).max()),
            "array_stage_wall_s": stage.wall_s}


def _print(r: dict) -> None:
    s = r["settle_s"]
    reads = ", ".join(f"{d['read_pulse_s'] * 1e9:.0f} ns: {d['mean_v'] * 1e3:+.2f} (max "
                      f"{d['max_abs_v'] * 1e3:.2f})" for d in r["dev_at_read_v"])
    print(f"{r['direction']} {r['corner']} {r['temp_c']:g} C: settles to {r['tol_v'] * 1e3:g} mV "
          f"in {s['median'] * 1e9:.2f} / {s['p95'] * 1e9:.2f} / {s['max'] * 1e9:.2f} ns "
          f"(median / p95 / max); line minus final at the reading [mV] {reads}; needs a "
          f"{r['needed_pulse_s'] * 1e9:.0f} ns pulse ({r['array_stage_wall_s']:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("direction", nargs="?", choices=("forward", "backward"))
    ap.add_argument("corner", nargs="?")
    ap.add_argument("temp_c", nargs="?", type=float)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--reference", action="store_true",
                    help=f"run the committed cases and rewrite {REFERENCE}")
    a = ap.parse_args()
    if a.reference:
        out = []
        for case in CASES:
            r = measure(*case)
            _print(r)
            out.append(r)
        need = max(r["needed_pulse_s"] for r in out)
        REFERENCE.write_text(json.dumps({
            "command": "PYTHONPATH=. python benchmarks/read_settling_core.py --reference",
            "needed_pulse_s": need, "cases": out}, indent=1) + "\n")
        print(f"the slowest case needs a {need * 1e9:.0f} ns pulse; wrote {REFERENCE}")
        return
    if a.direction is None or a.corner is None or a.temp_c is None:
        ap.error("DIRECTION CORNER TEMP_C, or --reference")
    r = measure(a.direction, a.corner, a.temp_c)
    _print(r)
    if a.json:
        a.json.write_text(json.dumps(r, indent=1) + "\n")


if __name__ == "__main__":
    main()

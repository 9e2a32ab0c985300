"""Read-pulse settling of a 256-row sensed line (issue 17, item 2): does the line settle within
the paper's 10 ns read pulse at ss / 125 C (and tt / 27 C)?

The circuit is the MVM core's, from the project's own assembler
(:func:`pycim.netlist.core.assemble_core`): a ROWS x 1 array (default 256 rows: a full core
column) of read-model RRAM cells with the MVM's SKY130 access FETs (width ``access_w_um``),
per-cell wire R and C on every BL, SL and WL, SKY130 transmission-gate drivers on every line
(so the sensed SL carries its own driver's three switches, as in the real core), the WL
inverters between the 0.9 / 2.2 V rails; no neurons. Before the pulse every line is held at
Vref by its ``z`` switch and the WLs are off; at ``T0_S`` every control moves at once with the
MVM stimulus's edge (``neuron_t_edge_s``, 1 ns): the WLs turn on, each BL switches to Vref + or -
Vread by the sign of its input, the SL's ``z`` switch opens (the SL floats, as during an MVM
read). Input signs are seeded (70 % positive, so the settled line is away from Vref).
``--wl-lead-ns L`` (L > 0) instead turns the WLs on L ns earlier, while every line is still held
at Vref, so the WL edge's kick on the sensed line is absorbed by its driver before it floats.
Settling is measured from ``T0_S`` (the input edges) in both orders.

Conductance patterns: all cells 1 uS, all 40 uS, random uniform 1-40 uS (seeded). "Settled" =
within ``TOL_V`` (0.5 mV, about 0.1 LSB at the line at 8-bit outputs) of the line's DC value
(an operating point of the same circuit with the controls at their pulse levels). Printed per
case: the settling time from the start of the control edges (last time the line is outside the
band), the DC value and the line's value at the end of the transient.

    PYTHONPATH=. .venv/bin/python benchmarks/read_settling.py [--rows 256] [--corners tt:27,ss:125]
        [--patterns g1,g40,rand] [--stop-ns 120] [--wl-lead-ns 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

TOL_V = 0.5e-3
T0_S = 6e-9
#: simulator accuracy: the band is 0.5 mV on a ~1 V node, so reltol 1e-3 (0.9 mV) is too loose
OPTIONS = {"reltol": 1e-5, "vntol": 1e-7}
PATTERNS = ("g1", "g40", "rand")


def conductances_s(pattern: str, rows: int, seed: int = 1) -> np.ndarray:
    if pattern == "g1":
        return np.full(rows, 1e-6)
    if pattern == "g40":
        return np.full(rows, 40e-6)
    if pattern == "rand":
        return np.random.default_rng(seed).uniform(1e-6, 40e-6, rows)
    raise SystemExit(f"unknown pattern {pattern!r} (have {', '.join(PATTERNS)})")


def input_signs(rows: int, seed: int = 2) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(rows) < 0.7, 1, -1)


def settling_time_s(t: np.ndarray, v: np.ndarray, v_final: float, t0: float, tol: float) -> float:
    """Time from ``t0`` until ``v`` last leaves ``v_final`` +- ``tol`` (linear interpolation at
    the last crossing); NaN if it is outside the band at the end."""
    out = np.abs(v - v_final) > tol
    if out[-1]:
        return float("nan")
    k = np.nonzero(out & (t >= t0))[0]
    if not len(k):
        return 0.0
    k = k[-1]
    # crossing between k (outside) and k + 1 (inside)
    d0, d1 = abs(v[k] - v_final) - tol, abs(v[k + 1] - v_final) - tol
    return float(t[k] + (t[k + 1] - t[k]) * d0 / (d0 - d1) - t0)


def run_case(pattern: str, corner: str, temp_c: float, rows: int = 256,
             stop_s: float = 120e-9, wl_lead_s: float = 0.0) -> dict:
    from pycim import assumptions
    from pycim.netlist.array import ArraySpec, WireSpec
    from pycim.netlist.circuit import Circuit, VSource
    from pycim.netlist.core import RAILS, CoreSpec, assemble_core, mvm_access_spec
    from pycim.netlist.stimulus import line_controls
    from pycim.sim import NgspiceEngine, Op, Tran

    g = conductances_s(pattern, rows)
    sign = input_signs(rows)
    arr = ArraySpec(g[:, None], cell="rram_read", access=mvm_access_spec(corner),
                    wire=WireSpec(), name="col")
    spec = CoreSpec(arr, corner=corner)
    e = assumptions.value("neuron_t_edge_s")
    vdd, vh = spec.vdd_v, spec.v_wl_v

    def step(v0: float, v1: float, dc: bool, lead_s: float = 0.0):
        t0 = T0_S - lead_s
        return v1 if dc else ((0.0, v0), (t0, v0), (t0 + e, v1), (stop_s, v1))

    def build(dc: bool) -> Circuit:
        core = assemble_core(spec, title=f"read settling {rows}x1 {pattern} {corner}")

        def drivers():
            for r in range(rows):
                s = "p" if sign[r] > 0 else "n"
                on = {k: step(vdd if k == "z" else 0.0, vdd if k == s else 0.0, dc)
                      for k in RAILS}
                yield from _sources(line_controls(f"bl{r}", on, vdd))
            on = {"p": 0.0, "n": 0.0, "z": step(vdd, 0.0, dc)}  # SL: held at Vref, then floats
            yield from _sources(line_controls("sl0", on, vdd))

        core.add_sources("drivers", drivers)
        wc = step(vh, 0.0, dc, wl_lead_s)  # inverter input low = WL on
        core.add_sources("wordlines", lambda: _sources(
            VSource(f"VWC{r}", f"wc{r}", "0", dc_v=wc) if dc else
            VSource(f"VWC{r}", f"wc{r}", "0", dc_v=vh, pwl=wc) for r in range(rows)))
        return core.circuit

    eng = NgspiceEngine(timeout_s=1800, options=OPTIONS)
    v_dc = eng.run(build(True), Op(), temp_c=temp_c).value("sl0")
    res = eng.run(build(False), Tran(50e-12, stop_s, 50e-12), temp_c=temp_c, save=["sl0"])
    t, v = res["time"], res["sl0"]
    ts = settling_time_s(t, v, v_dc, T0_S, TOL_V)
    v_ref, v_read = spec.v_ref_v, arr.v_read_v
    ideal = v_ref + v_read * float(np.sum(g * sign) / np.sum(g))
    return {"pattern": pattern, "corner": corner, "temp_c": temp_c, "rows": rows,
            "settle_s": ts, "v_dc_v": v_dc, "v_end_v": float(v[-1]), "v_ideal_v": ideal,
            "within_10ns": bool(ts <= 10e-9), "stop_s": stop_s, "wl_lead_s": wl_lead_s,
            "v_peak_dev_v": float(np.max(np.abs(v[t >= T0_S - wl_lead_s] - v_dc)))}


def _sources(it):
    """Pass-through: VSources made from DC floats or PWL tuples (line_controls accepts both)."""
    yield from it


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--corners", default="tt:27,ss:125")
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    ap.add_argument("--stop-ns", type=float, default=120.0)
    ap.add_argument("--wl-lead-ns", type=float, default=0.0)
    ap.add_argument("--json")
    a = ap.parse_args()
    out = []
    for cs in a.corners.split(","):
        corner, temp = cs.split(":")
        for p in a.patterns.split(","):
            r = run_case(p, corner, float(temp), a.rows, a.stop_ns * 1e-9, a.wl_lead_ns * 1e-9)
            out.append(r)
            print(f"{r['rows']} rows, {p:4s} {corner} {float(temp):g} C, WL lead "
                  f"{a.wl_lead_ns:g} ns: settled to "
                  f"{TOL_V * 1e3:g} mV in {r['settle_s'] * 1e9:.2f} ns "
                  f"({'within' if r['within_10ns'] else 'NOT within'} 10 ns); line - Vref: DC "
                  f"{(r['v_dc_v'] - 0.9) * 1e3:.2f} mV, end of transient "
                  f"{(r['v_end_v'] - 0.9) * 1e3:.2f} mV, closed form (ideal) "
                  f"{(r['v_ideal_v'] - 0.9) * 1e3:.2f} mV; largest deviation from DC "
                  f"{r['v_peak_dev_v'] * 1e3:.1f} mV", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    _main()

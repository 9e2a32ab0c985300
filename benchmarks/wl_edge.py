"""Word-line edge time of the MVM core's WL driver on a full row (issue 17, item 3).

One row of ``COLS`` 1T1R cells (default 256: a full core row) built by the project's own
assembler (:func:`pycim.netlist.core.assemble_core`: the WL inverter between the rails
``vwlh`` / ``vwll``, the MVM's access FETs, per-cell wire R and C on the WL, every line's
driver with every line held at Vref). The inverter input ``wc0`` steps 2.2 -> 0 V (WL on) and
back, each ramp ``neuron_t_edge_s`` (1 ns) as in the MVM stimulus. Measured at the WL's port
(the driver) and at the cell farthest from it: the 10-90 % transition time of the WL itself and
the delay from the start of the input ramp to 90 % of the WL swing (to 10 % on the way down).

    PYTHONPATH=. .venv/bin/python benchmarks/wl_edge.py [--cols 256] [--corner tt]
        [--temp-c 27] [--wn-um W] [--wp-um W] [--access-w-um W]

Defaults: the core spec's (assumptions ``wl_nfet_w_um``, ``wl_pfet_w_um``, ``access_w_um``,
``v_wl_low_v``, ``v_wl_read_v``).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

T0_S = 2e-9  # input ramp (WL on) starts
T_ON_S = 15e-9  # input ramp back (WL off) starts this long after T0_S
STOP_S = 35e-9


def crossing_s(t: np.ndarray, v: np.ndarray, level: float, after_s: float, rising: bool) -> float:
    """First time after ``after_s`` at which ``v`` crosses ``level`` in the given direction
    (linear interpolation); NaN if it never does."""
    m = t >= after_s
    tt, vv = t[m], v[m]
    hit = np.nonzero(vv >= level)[0] if rising else np.nonzero(vv <= level)[0]
    if not len(hit) or hit[0] == 0:
        return float("nan")
    k = hit[0]
    return float(tt[k - 1] + (level - vv[k - 1]) * (tt[k] - tt[k - 1]) / (vv[k] - vv[k - 1]))


def measure(cols: int = 256, corner: str = "tt", temp_c: float = 27.0,
            wn_um: float | None = None, wp_um: float | None = None,
            access_w_um: float | None = None, v_low_v: float | None = None,
            v_high_v: float | None = None) -> dict:
    """Run the row and return the edge times (seconds) at the port and the far end."""
    from pycim import assumptions
    from pycim.netlist.array import ArraySpec, WireSpec, wl_node
    from pycim.netlist.circuit import VSource
    from pycim.netlist.core import RAILS, CoreSpec, assemble_core, mvm_access_spec
    from pycim.netlist.stimulus import line_controls
    from pycim.sim import NgspiceEngine, Tran

    acc = mvm_access_spec(corner)
    if access_w_um is not None:
        acc = replace(acc, w_um=access_w_um)
    arr = ArraySpec(np.full((1, cols), 20e-6), cell="rram_read", access=acc, wire=WireSpec(),
                    name="row")
    kw = {}
    if wn_um is not None:
        kw["wl_nfet_w_um"] = wn_um
    if wp_um is not None:
        kw["wl_pfet_w_um"] = wp_um
    if v_low_v is not None:
        kw["v_wl_low_v"] = v_low_v
    if v_high_v is not None:
        kw["v_wl_v"] = v_high_v
    spec = CoreSpec(arr, corner=corner, **kw)
    core = assemble_core(spec)
    vdd, vh, vl = spec.vdd_v, spec.v_wl_v, spec.v_wl_low_v
    e = assumptions.value("neuron_t_edge_s")
    hold_z = {s: (vdd if s == "z" else 0.0) for s in RAILS}
    core.add_sources("drivers", lambda: (s for ln in spec.lines
                                         for s in line_controls(ln, hold_z, vdd)))
    t1 = T0_S + T_ON_S
    wc = ((0.0, vh), (T0_S, vh), (T0_S + e, 0.0), (t1, 0.0), (t1 + e, vh), (STOP_S, vh))
    core.add_sources("wordlines", lambda: iter((VSource("VWC0", "wc0", "0", dc_v=vh, pwl=wc),)))
    far_col = 0 if spec.array.bl_tap[0] > cols // 2 else cols - 1
    far = wl_node(spec.array, 0, far_col)
    res = NgspiceEngine(timeout_s=600).run(core.circuit, Tran(20e-12, STOP_S, 20e-12),
                                           temp_c=temp_c,
                                           save=["wl0", far, "vwlh", "vwll", "wc0", "i(vwlh)",
                                                 "i(vwll)", "i(vwc0)"])
    t = res["time"]
    lo, hi = vl + 0.1 * (vh - vl), vl + 0.9 * (vh - vl)
    out = {"cols": cols, "corner": corner, "temp_c": temp_c, "wn_um": spec.wl_nfet_w_um,
           "wp_um": spec.wl_pfet_w_um, "access_w_um": acc.w_um, "v_wl_low_v": vl,
           "v_wl_high_v": vh, "far_col": far_col, "tap_col": spec.array.bl_tap[0]}
    # energy of one on/off cycle delivered by each WL source (-integral V I; the low rail's is
    # negative: it takes the charge back)
    out["energy_j"] = {s: -float(np.trapezoid(res[n] * res[f"i({s})"], t))
                       for s, n in (("vwlh", "vwlh"), ("vwll", "vwll"), ("vwc0", "wc0"))}
    # the inverter input as the MVM counts it (pycim.measure.energy.energy_by_group, logic
    # sources): a CMOS driver from a rail at the input's high level, V_high x delivered charge
    out["energy_j"]["vwc0_cmos"] = vh * float(np.trapezoid(np.maximum(-res["i(vwc0)"], 0.0), t))
    for lab, node in (("port", "wl0"), ("far", far)):
        v = res[node]
        r10, r90 = (crossing_s(t, v, x, T0_S, True) for x in (lo, hi))
        f90, f10 = (crossing_s(t, v, x, t1, False) for x in (hi, lo))
        out[lab] = {"rise_10_90_s": r90 - r10, "fall_90_10_s": f10 - f90,
                    "on_delay_to_90_s": r90 - T0_S, "off_delay_to_10_s": f10 - t1,
                    "v_on_v": float(np.interp(t1, t, v)), "v_off_v": float(v[-1])}
    return out


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cols", type=int, default=256)
    ap.add_argument("--corner", default="tt")
    ap.add_argument("--temp-c", type=float, default=27.0)
    ap.add_argument("--wn-um", type=float)
    ap.add_argument("--wp-um", type=float)
    ap.add_argument("--access-w-um", type=float)
    ap.add_argument("--v-low", type=float, help="WL low rail, V (0 with the old inverter to ground)")
    ap.add_argument("--v-high", type=float, help="WL high rail, V")
    a = ap.parse_args()
    r = measure(a.cols, a.corner, a.temp_c, a.wn_um, a.wp_um, a.access_w_um, a.v_low, a.v_high)
    print(f"row of {r['cols']} cells, {r['corner']} {r['temp_c']:g} C, WL {r['v_wl_low_v']:g} <-> "
          f"{r['v_wl_high_v']:g} V, access W {r['access_w_um']:g} um, WL inverter nMOS "
          f"{r['wn_um']:g} um / pMOS {r['wp_um']:g} um (port at column {r['tap_col']}, far end "
          f"column {r['far_col']}):")
    for lab in ("port", "far"):
        m = r[lab]
        print(f"  {lab:4s}: rise 10-90 % {m['rise_10_90_s'] * 1e9:.2f} ns, fall 90-10 % "
              f"{m['fall_90_10_s'] * 1e9:.2f} ns; input edge start -> 90 % on "
              f"{m['on_delay_to_90_s'] * 1e9:.2f} ns, -> 10 % off "
              f"{m['off_delay_to_10_s'] * 1e9:.2f} ns; levels {m['v_off_v']:.3f} / "
              f"{m['v_on_v']:.3f} V")
    e = r["energy_j"]
    rails = e["vwlh"] + e["vwll"]
    print(f"  energy of one WL on/off cycle: high rail {e['vwlh'] * 1e12:.3f} pJ, low rail "
          f"{e['vwll'] * 1e12:.3f} pJ, inverter input {e['vwc0'] * 1e12:.3f} pJ as an ideal "
          f"source, {e['vwc0_cmos'] * 1e12:.3f} pJ from a CMOS driver (as the MVM counts it); "
          f"rails + CMOS input {(rails + e['vwc0_cmos']) * 1e12:.3f} pJ")


if __name__ == "__main__":
    _main()

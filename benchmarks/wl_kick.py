"""The WLs' kick on the held sensed lines of the MVM core, against WL levels, access FET width,
input vector and the order of the read pulse's closing edges (issue 17; a variant of
``neuron_issue17.py coredroop``; rerun from the repository root).

``python benchmarks/wl_kick.py ROWS COLS V_WL_LOW V_WL_HIGH ACCESS_W_UM ORDER VECTOR [INV_SCALE]``
``python benchmarks/wl_kick.py table FILE ...`` (the runs' outputs: the comparison table)

* ``V_WL_LOW`` / ``V_WL_HIGH``: the WL inverter's rails (today 0 / 3.3 V; the paper 0.9 / 2.2 V).
  A nonzero low rail puts the inverter's nMOS source on a ``VWLL`` source (body at ground);
  its input ``wc<r>`` still swings 0 <-> V_WL_HIGH (0 = WL on).
* ``ACCESS_W_UM``: the access FET's width (today 1 um).
* ``ORDER``: ``wl_first`` (today: the WLs start to turn off one edge before the drivers start
  back to Vref), ``same`` (both at the end of the read pulse), ``drv_first`` (the drivers start
  back to Vref one edge before the WLs turn off), ``wl_first3`` (WLs three edges early).
* ``INV_SCALE``: the WL inverter's widths (1 um nMOS / 2 um pMOS) times this (default 1).
* ``VECTOR``: seed of the input vector (0 = coredroop's vector); the weights are coredroop's
  (seed 0) in every run.

Measured per sensed line in plane 3 (the MSB, 4-bit / 6-bit MVM): ``before`` = line - Vref at
the start of the first closing edge (WL or driver), ``after`` = line - Vref at the start of the
first sample (in3_0; WLs off, drivers at Vref); kick = after - before. Printed: mean kick,
spread (std and max - min across lines), signal range (max - min of ``before`` across lines),
and the per-line lists (one JSON line, prefixed ``JSON``) so runs on two vectors can be
compared line by line (the data-dependent part of the kick).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np


def run(rows: int, cols: int, v_low: float, v_high: float, w_um: float, order: str,
        vec: int, inv_scale: float = 1.0) -> dict:
    import pycim.netlist.core as core_mod
    import pycim.netlist.mvm_deck as deck_mod
    import pycim.netlist.stimulus as stim_mod
    from pycim.cim.request import MvmRequest
    from pycim.flows.mvm import run_mvm
    from pycim.netlist.circuit import VSource
    from pycim.netlist.core import card_mosfet
    from pycim.specs.neuron import input_windows

    e = 1e-9  # NeuronSpec.t_edge_s (assumption neuron_t_edge_s)
    wl_early, drv_early = {"wl_first": (e, 0.0), "same": (0.0, 0.0), "drv_first": (0.0, e),
                           "wl_first3": (3 * e, 0.0)}[order]

    orig_spec, orig_asm, orig_win = deck_mod.mvm_core_spec, deck_mod.assemble_core, \
        stim_mod.window_pwl

    def core_spec(req, g_phys):
        s = orig_spec(req, g_phys)
        acc = replace(s.array.access, w_um=w_um)
        return replace(s, v_wl_v=v_high, array=replace(s.array, access=acc))

    def wl_inverter(r, nwl, pwl):
        yield card_mosfet(pwl, f"MWP{r}", f"wl{r}", f"wc{r}", "vwlh", "vwlh")
        yield card_mosfet(nwl, f"MWN{r}", f"wl{r}", f"wc{r}", "vwll" if v_low else "0", "0")

    def assemble(spec, *a, **k):
        core = orig_asm(spec, *a, **k)
        if v_low:
            core.circuit.add(VSource("VWLL", "vwll", "0", dc_v=v_low))
            core.groups["vwll"] = "wordlines"
        return core

    def window(sched, nspec, levels, idle, off_early_s=None):
        # WL controls pass off_early_s (one edge); the drivers' controls do not
        return orig_win(sched, nspec, levels, idle,
                        wl_early if off_early_s is not None else drv_early)

    def saved(core):
        return orig_saved(core) + ["wl0", "bl0"]

    import pycim.flows.mvm as flow_mod

    orig_saved = flow_mod.saved_vectors
    def wl_cards(corner):
        from pycim.tech import sky130

        return (sky130.flat_card("nfet_g5v0d10v5", inv_scale * 1e-6, 0.5e-6, corner),
                sky130.flat_card("pfet_g5v0d10v5", inv_scale * 2e-6, 0.5e-6, corner))

    deck_mod.mvm_core_spec, deck_mod.assemble_core = core_spec, assemble
    if inv_scale != 1.0:
        core_mod.wl_driver_cards = wl_cards
    flow_mod.saved_vectors = saved
    core_mod.wl_inverter, stim_mod.window_pwl = wl_inverter, window

    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (rows, cols))
    x = rng.integers(-7, 8, (1, rows))
    if vec:
        x = np.random.default_rng(vec).integers(-7, 8, (1, rows))
    x[0, :] = np.where(x[0] == 0, 7, x[0])
    wf: dict = {}
    out = run_mvm(MvmRequest(w, x, 4, 6), progress=False, waveforms=wf)
    res, s, nodes, spec = wf["result"], wf["schedule"], wf["nodes"], wf["spec"]
    assert abs(spec.t_edge_s - e) < 1e-15
    t_off = next(t1 for n, _, _, t1 in input_windows(s) if n == 3)
    t_first = t_off - max(wl_early, drv_early)
    t, vr = res["time"], spec.v_ref_v
    before = np.array([np.interp(t_first, t, res[nd.line]) for nd in nodes]) - vr
    after = np.array([np.interp(s.start("in3_0"), t, res[nd.line]) for nd in nodes]) - vr
    kick = after - before
    samples = np.array([[np.interp(s.end(f"in3_{k}"), t, res[nd.line]) for k in range(4)]
                        for nd in nodes]) - vr
    probe = {f"{n}_at_{lab}": round(float(np.interp(tt, t, res[n])), 4)
             for n in ("wl0", "bl0")
             for lab, tt in (("first_edge", t_first), ("in3_0_start", s.start("in3_0")),
                             ("in3_0_end", s.end("in3_0")))}
    r = {"rows": rows, "cols": cols, "v_wl_low": v_low, "v_wl_high": v_high, "access_w_um": w_um,
         "order": order, "vector": vec, "inv_scale": inv_scale, "x": x[0].tolist(),
         "before_mv": np.round(before * 1e3, 2).tolist(),
         "after_mv": np.round(after * 1e3, 2).tolist(),
         "kick_mv": np.round(kick * 1e3, 2).tolist(),
         "sample_ends_mv": np.round(samples * 1e3, 2).tolist(), "probe": probe,
         "code": out["code"][0]}
    print(f"{rows}x{cols} WL {v_low:g}<->{v_high:g} V, W {w_um:g} um, WL inverter x{inv_scale:g}, "
          f"{order}, vector {vec}: "
          f"kick mean {kick.mean() * 1e3:.1f} mV, std {kick.std() * 1e3:.1f} mV, max-min "
          f"{np.ptp(kick) * 1e3:.1f} mV; signal (line - Vref before the edges) "
          f"{before.min() * 1e3:.1f} .. {before.max() * 1e3:.1f} mV (range "
          f"{np.ptp(before) * 1e3:.1f} mV); mean line - Vref at the ends of samples in3_0..3 "
          f"{np.round(samples.mean(0) * 1e3, 1).tolist()} mV; {probe}")
    print("JSON " + json.dumps(r))
    return r


def table(paths) -> None:
    """Pair the runs of ``paths`` (their ``JSON`` lines) by case and order across vectors:
    mean kick, spread across lines (std; max - min), the data-dependent part (std across lines
    of the per-line kick change between the two vectors, and the slope of kick on the line's
    signal), signal range; how much of the signal survives: the slope of ``after`` on
    ``before`` (1 = kept, 0 = erased) and the slope and correlation of the first sample's end
    (in3_0) on ``before``."""
    runs = []
    for p in paths:
        with open(p) as f:
            runs += [json.loads(ln[5:]) for ln in f if ln.startswith("JSON ")]
    def key(r):
        return (r["v_wl_low"], r["v_wl_high"], r["access_w_um"], r.get("inv_scale", 1.0),
                r["order"])

    keys = sorted({key(r) for r in runs})
    print("| WL low<->high V | W um | inv x | order | vector | mean kick mV | spread std mV | spread "
          "max-min mV | signal range mV | slope dkick/dsignal | slope after/signal | sample 1 vs "
          "signal: slope, corr |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        rs = sorted((r for r in runs if key(r) == k), key=lambda r: r["vector"])
        for r in rs:
            kk, b = np.array(r["kick_mv"]), np.array(r["before_mv"])
            a, s1 = np.array(r["after_mv"]), np.array(r["sample_ends_mv"])[:, 0]
            print(f"| {k[0]:g}<->{k[1]:g} | {k[2]:g} | {k[3]:g} | {k[4]} | {r['vector']} | {kk.mean():.1f} |"
                  f" {kk.std():.1f} | {np.ptp(kk):.1f} | {np.ptp(b):.1f} | "
                  f"{np.polyfit(b, kk, 1)[0]:.2f} | {np.polyfit(b, a, 1)[0]:.2f} | "
                  f"{np.polyfit(b, s1, 1)[0]:.2f}, {np.corrcoef(b, s1)[0, 1]:.2f} |")
        if len(rs) == 2:
            d = np.array(rs[1]["kick_mv"]) - np.array(rs[0]["kick_mv"])
            print(f"| {k[0]:g}<->{k[1]:g} | {k[2]:g} | {k[3]:g} | {k[4]} | v1 - v0 per line | "
                  f"{d.mean():.1f} | {d.std():.1f} | {np.ptp(d):.1f} | | | | |")


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "table":
        table(a[1:])
        raise SystemExit(0)
    if len(a) not in (7, 8):
        raise SystemExit(__doc__)
    run(int(a[0]), int(a[1]), float(a[2]), float(a[3]), float(a[4]), a[5], int(a[6]),
        float(a[7]) if len(a) == 8 else 1.0)

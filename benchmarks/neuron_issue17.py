"""Measurements behind issue 17's neuron numbers (rerun from the repository root).

``offset SEED WHICH [name=value ...]``
    Input-referred error per integration step of 8 neurons at zero line input on the held-line
    bench (4-bit in / 6-bit out, 100 fF line, 2 kOhm driver), with the PDK's mismatch (seeded)
    on ``all`` MOSFETs, only the OTAs' (``ota``) or ``none``; NeuronSpec overrides such as
    ``auto_zero=False``. Error per step = mean over steps 2..7 of
    (dV_int - (C_s/C_i)(V_line - Vref)) / (C_s/C_i).
``cline ROWS V_WL JUNCTIONS``
    Sensed-line (SL) capacitance of a ROWS x 2 1T1R array (SKY130 nfet_g5v0d10v5 access FETs,
    met1 wires from pycim.assumptions), by AC at 1 MHz: BLs at Vref, WLs at V_WL (0.9 V: off,
    the held line; 2.2 V: on), cells as 100 kOhm resistors; JUNCTIONS 0 = the access FETs as
    the array netlists them (no diffusion areas), 1 = xschem-style diffusion areas.
``droop C_HOLD_FF [C_HOLD_FF ...]``
    Droop r = V(sample k) / V(sample k-1) of the neuron's hold node (the line bench: 2 kOhm
    driver, 100 fF line, 0.1 V above Vref, 4-bit in / 6-bit out, no mismatch; plane 3: the
    held value, then after each of its 4 samples) for each C_hold; with two or more, the
    least-squares fit of C_hold_extra and C_sample_eff in
    r = (C + C_hold_extra) / (C + C_hold_extra + C_sample_eff), solved linearly as
    C (1-r)/r = C_sample_eff - C_hold_extra (1-r)/r.
"""

from __future__ import annotations

import sys
from dataclasses import fields, replace

import numpy as np


def spec_kwargs(overrides) -> dict:
    """NeuronSpec field values from ``name=value`` strings (bools as True/False), checked
    against the dataclass's fields."""
    from pycim.netlist.neuron import NeuronSpec

    base = NeuronSpec()
    types = {f.name: type(getattr(base, f.name)) for f in fields(base)}
    kw = {}
    for item in overrides:
        k, v = item.split("=", 1)
        if k not in types:
            raise SystemExit(f"unknown NeuronSpec field {k!r}")
        t = float if types[k] is type(None) else types[k]  # optional fields: floats
        kw[k] = (v == "True") if t is bool else v if t is str else t(float(v))
    return kw


def _spec(overrides):
    from pycim.netlist.neuron import NeuronSpec

    return replace(NeuronSpec(), **spec_kwargs(overrides))


def offset(seed: int, which: str, overrides) -> None:
    from pycim.measure.neuron import read_neuron
    from pycim.netlist.mismatch import apply_mismatch
    from pycim.netlist.neuron import line_testbench, mvm_schedule, window_pwl
    from pycim.sim import NgspiceEngine, Tran

    spec = _spec(overrides)
    s = mvm_schedule(spec, 4, 6)
    lines = [window_pwl(s, spec, [spec.v_ref_v] * 3, spec.v_ref_v) for _ in range(8)]
    c, nodes = line_testbench(spec, s, lines, r_source_ohm=2e3, c_line_f=100e-15)
    ota = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f7", "h6")
    sel = {"all": None, "ota": lambda m: any(m.name.lower().endswith(f"_{t}") for t in ota)}
    if which != "none":
        apply_mismatch(c, seed, select=sel[which])
    res = NgspiceEngine(timeout_s=600).run(c, Tran(1e-9, s.t_stop, 2e-9))
    t = res["time"]
    errs = []
    for nd in nodes:
        ro = read_neuron(res, s, nd, spec)
        vl = np.interp([s.end(f"in{st}") for st in ro.steps], t, res[nd.line]) - spec.v_ref_v
        e = (np.diff(ro.v_int_steps) - spec.gain * vl[1:]) / spec.gain
        errs.append(e.mean())
    errs = np.array(errs) * 1e3
    print(f"seed {seed} mismatch {which} {' '.join(overrides)}: error per step (mV) "
          f"{np.round(errs, 3).tolist()}; rms {np.sqrt(np.mean(errs ** 2)):.3f} mV")


def cline(rows: int, v_wl: float, junctions: bool) -> None:
    from pycim.measure.neuron import run_ac
    from pycim.netlist.array import ArraySpec, dc_drive_circuit
    from pycim.netlist.circuit import Circuit, Mosfet, Resistor, VaDevice, VSource
    from pycim.netlist.neuron import diffusion_params

    vref = 0.9
    spec = ArraySpec(np.full((rows, 2), 10e-6), cell="linear")
    src = dc_drive_circuit(spec, np.full(rows, vref), v_wl_v=v_wl)
    c = Circuit("sensed-line capacitance bench")
    for m in src.models.values():
        if m.osdi is None and m.kind != "rram_linear":
            c.add_model(m)
    for e in src.iter_elements():
        if isinstance(e, VaDevice):
            e = Resistor("R" + e.name, e.nodes[0], e.nodes[1], 1e5)
        elif isinstance(e, Mosfet) and junctions:
            p = dict(e.params)
            p.update(diffusion_params(e.w_m * 1e6, 1))
            e = replace(e, params=tuple(p.items()))
        c.add(e)
    c.add(VSource("VAC", "sl0", "0", dc_v=vref), VSource("VS1", "sl1", "0", dc_v=vref))
    _, ac = run_ac(c, "VAC", 1e5, 1e7, 10, timeout_s=600)
    f = np.real(ac["frequency"])
    i = -ac[[k for k in ac if k.lower() in ("i(vac)", "vac#branch")][0]]
    k = int(np.argmin(abs(f - 1e6)))
    print(f"rows {rows} V_WL {v_wl} V junctions {junctions}: C_SL = "
          f"{np.imag(i[k]) / (2 * np.pi * f[k]) * 1e15:.1f} fF (wire alone "
          f"{rows * spec.wire.pitch_y_um * spec.wire.c_f_per_um * 1e15:.1f} fF)")


def droop(c_holds_ff) -> None:
    from pycim.measure.neuron import read_neuron
    from pycim.netlist.neuron import line_testbench, mvm_schedule
    from pycim.sim import NgspiceEngine, Tran

    rs = []
    for c_ff in c_holds_ff:
        spec = _spec([f"c_hold_f={c_ff * 1e-15}"])
        s = mvm_schedule(spec, 4, 6)
        c, nodes = line_testbench(spec, s, [spec.v_ref_v + 0.1], r_source_ohm=2e3,
                                  c_line_f=100e-15)
        res = NgspiceEngine(timeout_s=600).run(c, Tran(1e-9, s.t_stop, 2e-9))
        ro = read_neuron(res, s, nodes[0], spec)
        top = [st for st in ro.steps if st.startswith("3_")]  # plane 3: 4 samples
        t = [s.end("rd3_h")] + [s.end(f"in{st}") for st in top]
        v = np.interp(t, res["time"], res[nodes[0].hold]) - spec.v_ref_v
        # r from sample to sample (geometric over the last three): the first step, held ->
        # after sample 1, also carries the track switch's pedestal as it opens (an offset,
        # b_hold_v in the macro-model), not the charge sharing
        r = float((v[-1] / v[1]) ** (1 / (len(v) - 2)))
        rs.append(r)
        print(f"C_hold {c_ff:g} fF: droop r = {r:.5f} (first step {v[1] / v[0]:.5f}; held, "
              f"then after each sample: {np.round(v * 1e3, 3).tolist()} mV; nominal "
              f"C_h/(C_h + C_s) = {c_ff / (c_ff + spec.c_sample_f * 1e15):.5f})")
    if len(rs) >= 2:
        c = np.array(c_holds_ff, dtype=float)
        q = (1 - np.array(rs)) / np.array(rs)  # C_s_eff / (C + a) = q  ->  C q = C_s_eff - a q
        a_mat = np.column_stack([np.ones_like(q), -q])
        (cs, a), *_ = np.linalg.lstsq(a_mat, c * q, rcond=None)
        print(f"fit: C_sample_eff = {cs:.2f} fF, C_hold_extra = {a:.2f} fF")


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "offset" and len(a) >= 3:
        offset(int(a[1]), a[2], a[3:])
    elif a and a[0] == "droop" and len(a) >= 2:
        droop([float(v) for v in a[1:]])
    elif a and a[0] == "cline" and len(a) == 4:
        cline(int(a[1]), float(a[2]), a[3] == "1")
    else:
        raise SystemExit(__doc__)

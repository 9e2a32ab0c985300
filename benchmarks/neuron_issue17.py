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
``droop C_LINE_FF [C_LINE_FF ...]``
    Held-line droop r = V(sample k+1) / V(sample k) on the hold bench (4-bit in / 6-bit out,
    2 kOhm driver through the hold TG, 0.1 V above Vref, no mismatch) for each explicit line
    capacitor; with two or more, the least-squares fit of C_line_extra and C_sample_eff in
    r = (C + C_line_extra) / (C + C_line_extra + C_sample_eff), i.e.
    solved linearly as C (1-r)/r = C_sample_eff - C_line_extra (1-r)/r.
``coredroop ROWS COLS [ideal] [C_HOLD_FF]``
    Held-line droop on the MVM core itself: one 4-bit / 6-bit forward MVM (``pycim mvm``'s flow,
    SKY130 access FETs, wires and drivers, or ``ideal``) of a random ROWS x COLS weight matrix
    (seed 0), r = V(line) at sample k+1 over sample k in plane 3, per sensed line with
    |V| > 5 mV, against the closed form's C_line / (C_line + C_sample_eff); the WLs' kick on
    the held line; C_HOLD_FF: an explicit hold capacitor on every sensed line (MvmRequest.c_hold_f).
"""

from __future__ import annotations

import sys
from dataclasses import fields, replace

import numpy as np


def _spec(overrides):
    from pycim.netlist.neuron import NeuronSpec

    base = NeuronSpec()
    types = {f.name: type(getattr(base, f.name)) for f in fields(base)}
    kw = {}
    for item in overrides:
        k, v = item.split("=", 1)
        if k not in types:
            raise SystemExit(f"unknown NeuronSpec field {k!r}")
        kw[k] = (v == "True") if types[k] is bool else types[k](float(v))
    return replace(base, **kw)


def offset(seed: int, which: str, overrides) -> None:
    from pycim.measure.neuron import read_neuron
    from pycim.netlist.mismatch import apply_mismatch
    from pycim.netlist.neuron import line_testbench, mvm_schedule, window_pwl
    from pycim.sim import NgspiceEngine, Tran

    spec = _spec(overrides)
    s = mvm_schedule(spec, 4, 6)
    lines = [window_pwl(s, spec, [spec.v_ref_v] * 3, spec.v_ref_v) for _ in range(8)]
    c, nodes = line_testbench(spec, s, lines, hold=True, r_source_ohm=2e3, c_line_f=100e-15)
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


def droop(c_lines_ff) -> None:
    from pycim.measure.neuron import read_neuron
    from pycim.netlist.neuron import line_testbench, mvm_schedule, window_pwl
    from pycim.sim import NgspiceEngine, Tran

    spec = _spec([])
    s = mvm_schedule(spec, 4, 6)
    rs = []
    for c_ff in c_lines_ff:
        lines = [window_pwl(s, spec, [spec.v_ref_v + 0.1] * 3, spec.v_ref_v)]
        c, nodes = line_testbench(spec, s, lines, hold=True, r_source_ohm=2e3,
                                  c_line_f=c_ff * 1e-15)
        res = NgspiceEngine(timeout_s=600).run(c, Tran(1e-9, s.t_stop, 2e-9))
        ro = read_neuron(res, s, nodes[0], spec)
        top = [st for st in ro.steps if st.startswith("3_")]  # plane 3: 4 samples
        v = np.interp([s.end(f"in{st}") for st in top], res["time"],
                      res[nodes[0].line]) - spec.v_ref_v
        r = float(np.mean(v[1:] / v[:-1]))
        rs.append(r)
        print(f"C_line {c_ff:g} fF: droop r = {r:.4f} (samples {np.round(v * 1e3, 3).tolist()} mV;"
              f" nominal C/(C + C_s) = {c_ff / (c_ff + spec.c_sample_f * 1e15):.4f})")
    if len(rs) >= 2:
        c = np.array(c_lines_ff, dtype=float)
        q = (1 - np.array(rs)) / np.array(rs)  # C_s_eff / (C + a) = q  ->  C q = C_s_eff - a q
        a_mat = np.column_stack([np.ones_like(q), -q])
        (cs, a), *_ = np.linalg.lstsq(a_mat, c * q, rcond=None)
        print(f"fit: C_sample_eff = {cs:.1f} fF, C_line_extra = {a:.2f} fF")


def coredroop(rows: int, cols: int, ideal: bool, c_hold_ff: float = 0.0) -> None:
    from pycim import assumptions
    from pycim.cim.request import MvmRequest
    from pycim.flows.mvm import run_mvm
    from pycim.netlist.neuron import integration_steps

    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (rows, cols))
    x = rng.integers(-7, 8, (1, rows))
    x[0, :] = np.where(x[0] == 0, 7, x[0])
    req = MvmRequest(w, x, 4, 6, ideal=ideal, c_hold_f=c_hold_ff * 1e-15)
    wf: dict = {}
    out = run_mvm(req, progress=False, waveforms=wf)
    res, s, nodes, spec = wf["result"], wf["schedule"], wf["nodes"], wf["spec"]
    top = [st for st in integration_steps(s) if st.startswith("3_")]
    ts = [s.end(f"in{st}") for st in top]
    rs = []
    for nd in nodes:
        v = np.interp(ts, res["time"], res[nd.line]) - spec.v_ref_v
        v0 = np.interp(s.end("rd3"), res["time"], res[nd.line]) - spec.v_ref_v
        if abs(v0) > 5e-3:
            rs.append(np.concatenate([[v[0] / v0], v[1:] / v[:-1]]))
    rs = np.array(rs)
    c_line = (2 * rows * assumptions.value("line_c_per_cell_f")
              + assumptions.value("line_c_fixed_f") + c_hold_ff * 1e-15)
    cs = assumptions.value("neuron_c_sample_eff_f")
    kind = "ideal" if ideal else "sky130"
    print(f"{rows}x{cols} {kind} C_hold {c_hold_ff:g} fF: {len(rs)} lines; droop r per sample "
          f"(first = sample 1 over the end of the pulse) mean {np.round(rs.mean(0), 4).tolist()}"
          f", spread {np.round(rs.std(0), 4).tolist()}; closed form C_line {c_line * 1e15:.2f} fF"
          f" / (C_line + {cs * 1e15:.0f} fF) = {c_line / (c_line + cs):.4f}; implied C_line at "
          f"C_s_eff: {cs * np.mean(rs[:, 1:]) / (1 - np.mean(rs[:, 1:])) * 1e15:.2f} fF")
    t_off = s.phase_times()["rd3"][1]
    before = np.array([np.interp(t_off - spec.t_edge_s, res["time"], res[nd.line]) for nd in nodes])
    after = np.array([np.interp(s.start("in3_0"), res["time"], res[nd.line]) for nd in nodes])
    print(f"plane 3 line - Vref (mV) as the WLs start to open: "
          f"{np.round((before - spec.v_ref_v) * 1e3, 1).tolist()}; at the first sample's start "
          f"(WLs off): {np.round((after - spec.v_ref_v) * 1e3, 1).tolist()}; kick mean "
          f"{np.mean(after - before) * 1e3:.1f} mV, spread {np.std(after - before) * 1e3:.1f} mV")
    print(f"codes {out['code']}\ny_ideal {np.round(out['y_ideal'], 2).tolist()}")


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "offset" and len(a) >= 3:
        offset(int(a[1]), a[2], a[3:])
    elif a and a[0] == "coredroop" and 3 <= len(a) <= 5:
        rest = a[3:]
        ideal = "ideal" in rest
        num = [v for v in rest if v != "ideal"]
        coredroop(int(a[1]), int(a[2]), ideal, float(num[0]) if num else 0.0)
    elif a and a[0] == "droop" and len(a) >= 2:
        droop([float(v) for v in a[1:]])
    elif a and a[0] == "cline" and len(a) == 4:
        cline(int(a[1]), float(a[2]), a[3] == "1")
    else:
        raise SystemExit(__doc__)

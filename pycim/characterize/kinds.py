"""What one sweep point of each kind simulates and measures.

``compute(kind, point) -> payload``: ``{"rows": [tidy dicts], "summary": {scalars}}``, plain JSON
values only, deterministic for a given point (seeded), so cached payloads equal fresh ones.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .kinds_fit import COMPUTE_FIT
from .measure import transfer_fit


def _random_problem(n_in: int, n_out: int, in_bits: int, batch: int, seed: int):
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1.0, 1.0, (n_in, n_out))
    lim = 1 if in_bits == 1 else 2 ** (in_bits - 1) - 1
    x = rng.integers(0 if in_bits == 1 else -lim, lim + 1, (batch, n_in))
    return w, x


def cell_iv(p: dict) -> dict:
    from ..netlist import testbench as tb
    from ..sim import PRECISE_OPTIONS, Dc, NgspiceEngine
    from ..tech import rram

    gap_m = p["gap_nm"] / 1e9  # (1.7 * 1e-9 rounds above the 1.7e-9 bound)
    res = NgspiceEngine(timeout_s=300, options=PRECISE_OPTIONS).run(
        tb.cell_iv(gap_m), Dc("V1", -p["v_max_v"], p["v_max_v"], p["v_step_v"]))
    v = np.asarray(res["sweep"], float)
    i = -np.asarray(res["i(v1)"], float)
    i_ref = rram.current_a(v, gap_m)
    sig = np.abs(i_ref) > 0
    rel = np.abs(i[sig] - i_ref[sig]) / np.abs(i_ref[sig])
    rows = [{"v_v": float(a), "i_a": float(b), "i_ref_a": float(c)} for a, b, c in zip(v, i, i_ref)]
    return {"rows": rows, "summary": {
        "max_rel_err": float(rel.max()) if rel.size else 0.0,
        "g_read_s": float(rram.read_conductance_s(gap_m)),
        "odd_sym_err_a": float(np.max(np.abs(i[::-1] + i))),
        "monotonic": bool(np.all(np.diff(i) > 0))}}


def _mvm(p: dict, batch: int):
    from ..cim.request import MvmRequest
    from ..flows.mvm import run_mvm

    w, x = _random_problem(p["n_in"], p["n_out"], p["in_bits"], batch, p["seed"])
    req = MvmRequest(w, x, in_bits=p["in_bits"], out_bits=p["out_bits"], ideal=p["ideal"],
                     corner=p["corner"], temp_c=p["temp_c"], seed=p["seed"],
                     vdd_v=p.get("vdd_v", 1.8), prog_tol_s=p.get("prog_tol_us", 1.0) * 1e-6,
                     mismatch=p.get("mismatch", 0.0),
                     # / 1e9, not * 1e-9: 1000 ns is 1e-6 s exactly, the bound it is checked at
                     read_pulse_s=(p["read_pulse_ns"] / 1e9 if "read_pulse_ns" in p else None))
    return run_mvm(req, progress=False)


def mvm_transfer(p: dict) -> dict:
    out = _mvm(p, p["batch"])
    code = np.asarray(out["code"], float)
    y = np.asarray(out["y_ideal"], float)
    yt = np.asarray(out["y_target"], float)
    rows = [{"vector": b, "output": j, "y_ideal": float(y[b, j]), "y_target": float(yt[b, j]),
             "code": int(code[b, j])}
            for b in range(y.shape[0]) for j in range(y.shape[1])]
    # error against the target weights (programming noise and mismatch included): the Monte
    # Carlo figure; the mean is the run's systematic part (offset), the rms includes it
    err_t = code - np.floor(yt)
    return {"rows": rows, "summary": {**transfer_fit(y, code, p["out_bits"]),
                                      "rms_err_vs_target_lsb": float(np.sqrt(np.mean(err_t ** 2))),
                                      "mean_err_vs_target_lsb": float(np.mean(err_t)),
                                      "energy_per_mac_j": out["energy_per_mac_j"]}}


def energy_per_mac(p: dict) -> dict:
    out = _mvm(p, 1)
    e = out["energy_j"]
    row = {f"e_{k}_j": float(e.get(k, 0.0)) for k in ("array", "drivers", "wordlines", "neuron",
                                                      "total")}
    row.update(macs=out["macs"], energy_per_mac_j=out["energy_per_mac_j"],
               latency_s=out["latency_s"])
    return {"rows": [row], "summary": {"energy_per_mac_j": out["energy_per_mac_j"],
                                       "latency_s": out["latency_s"]}}


def pulse_ramp(v_max: float, n: int) -> tuple[float, ...]:
    """``set_reset``'s amplitudes: ``n`` pulses rising evenly from v_max / 2 to v_max, the last
    always v_max; one pulse is v_max alone (the ramp's last step, not its first)."""
    if n == 1:
        return (float(v_max),)
    return tuple(float(v) for v in np.linspace(v_max / 2, v_max, n))


def set_reset(p: dict) -> dict:
    """SET pulses (amplitudes v_set_max/2 .. v_set_max, :func:`pulse_ramp`) through
    ``r_series_ohm``, then RESET pulses (-v_reset_max/2 .. -v_reset_max) through
    ``r_reset_ohm``, each followed by a read. ``n_pulses = 1``: one pulse at each maximum."""
    from ..measure.cell import pulse_response
    from ..netlist import testbench as tb
    from ..sim import NgspiceEngine, Tran
    from ..tech import rram

    n = p["n_pulses"]
    setv = pulse_ramp(p["v_set_max_v"], n)
    resv = tuple(-v for v in pulse_ramp(p["v_reset_max_v"], n))
    gap = float(rram.gap_for_conductance_m(p["g_init_us"] * 1e-6))
    step = min(5e-9, p["width_s"] / 20)
    eng = NgspiceEngine(timeout_s=600)
    rows = []
    for phase, amps, r_ohm in (("set", setv, p["r_series_ohm"]), ("reset", resv, p["r_reset_ohm"])):
        train = tb.PulseTrain(amps, width_s=p["width_s"], r_series_ohm=r_ohm)
        res = eng.run(tb.pulse_train(train, gap), Tran(step, train.stop_s, step))
        r = pulse_response(res, train, gap)
        rows += [{"pulse": len(rows), "phase": phase, "amplitude_v": float(a),
                  "gap_nm": float(g * 1e9), "g_read_us": float(gr * 1e6)}
                 for a, g, gr in zip(r.amplitudes_v, r.gap_m, r.g_read_s)]
        gap = float(np.clip(r.gap_m[-1], rram.DEFAULT_PARAMS.gap_min_m,
                            rram.DEFAULT_PARAMS.gap_max_m))
    return {"rows": rows, "summary": {"g_after_set_us": rows[n - 1]["g_read_us"],
                                      "g_after_reset_us": rows[-1]["g_read_us"]}}


#: the ADC sweep's input width (two planes, three samples of the held line)
ADC_IN_BITS = 3


def adc_transfer(p: dict) -> dict:
    """The neuron's ADC alone: the integrator swept over the full scale (a 3-bit input: the
    same line level on both planes, three samples), codes read from the comparator decisions,
    transition levels -> INL/DNL (no gain/offset fit: the full scale is set by the DAC
    reference). Neurons share one circuit, 8 per transient.

    The held-line scheme: the samples see the held plane weights (r, r + r^2 with r =
    C_hold,eff / (C_hold,eff + C_s,eff): :func:`pycim.cim.closed_form.held_plane_weights`), so
    the line is swept over full scale / (gain x their sum); one sample at C_s / C_i = 0.25 would
    need +-1.8 V. The line is driven through 1 kOhm (the hold capacitor settles in the read
    pulse: through the testbench's default 30 kOhm it reached ~40 %)."""
    from .. import assumptions
    from ..cim.closed_form import held_plane_weights
    from ..measure.neuron import ideal_code, linearity, read_neuron
    from ..netlist.neuron import NeuronSpec, line_testbench, mvm_schedule, window_pwl
    from ..sim import NgspiceEngine, Tran

    bits = p["out_bits"]
    spec = NeuronSpec(corner=p["corner"])
    q = spec.lsb_v(bits)
    n = max(4, int(round((1 << bits) * p["points_per_code"])) + 2)
    # full range plus 1/3 LSB each side, offset off the code grid; < 2 LSB per step
    v = np.linspace(-spec.adc_fs_v - q / 3, spec.adc_fs_v + q / 3, n) + 0.123e-3
    sched = mvm_schedule(spec, ADC_IN_BITS, bits)
    w = float(held_plane_weights(ADC_IN_BITS, assumptions.value("neuron_c_hold_eff_f"),
                                 assumptions.value("neuron_c_sample_eff_f")).sum())
    ros = []
    for k in range(0, n, 8):
        lines = [window_pwl(sched, spec, [spec.v_ref_v + u / (spec.gain * w)] * 2, spec.v_ref_v)
                 for u in v[k:k + 8]]
        c, nodes = line_testbench(spec, sched, lines, r_source_ohm=1e3)
        res = NgspiceEngine(timeout_s=900).run(c, Tran(1e-9, sched.t_stop, 2e-9),
                                               temp_c=p["temp_c"])
        ros += [read_neuron(res, sched, nd, spec) for nd in nodes]
    v_int = np.array([r.v_int for r in ros])
    codes = np.array([r.code for r in ros])
    err = codes - ideal_code(v_int, q, bits)
    lin = linearity(ros, bits, q) if p["points_per_code"] >= 0.55 and bits <= 8 else None
    rows = [{"v_int_v": float(a), "code": int(b), "ideal_code": int(b - e)}
            for a, b, e in zip(v_int, codes, err)]
    return {"rows": rows, "summary": {
        "lsb_v": q, "exact_frac": float(np.mean(err == 0)),
        "within_1lsb_frac": float(np.mean(np.abs(err) <= 1)),
        "max_abs_dnl_lsb": float(np.max(np.abs(lin.dnl))) if lin and lin.dnl.size else float("nan"),
        "max_abs_inl_lsb": float(np.max(np.abs(lin.inl))) if lin else float("nan"),
        "comparator_threshold_v": float(lin.threshold_v) if lin else float("nan")}}


def _signed_array(rows: int, cols: int, seed: int, wire_r: float, cell: str = "linear"):
    from ..netlist.array import IDEAL_ACCESS, IDEAL_WIRES, ArraySpec, WireSpec
    from ..cim.mapping import interleave_rows, weights_to_conductances
    from .spec import check_pair_rows

    check_pair_rows(rows)
    rng = np.random.default_rng(seed)
    gp, gn = weights_to_conductances(rng.uniform(-1, 1, (rows // 2, cols)))
    x = rng.choice([-1.0, 1.0], rows // 2)
    wire = IDEAL_WIRES if wire_r == 0 else WireSpec(r_ohm_per_um=wire_r, c_f_per_um=0.0)
    return ArraySpec(interleave_rows(gp, gn), cell=cell, access=IDEAL_ACCESS, wire=wire), gp, gn, x


def ir_drop(p: dict) -> dict:
    """DC op of a linear-cell array with wire R, ideal drivers: sensed SL voltage vs the
    weighted-average closed form (the IR-drop error a compact model must carry)."""
    from ..cim.closed_form import closed_form_planes
    from ..netlist.array import dc_drive_circuit, row_voltages
    from ..sim import NgspiceEngine, Op

    spec, gp, gn, x = _signed_array(p["rows"], p["cols"], p["seed"], p["wire_r_ohm_per_um"])
    v_read, v_ref = spec.v_read_v, 0.9
    res = NgspiceEngine(timeout_s=900).run(dc_drive_circuit(spec, row_voltages(x, v_ref, v_read)),
                                           Op())
    v = np.array([res.value(f"sl{c}") for c in range(spec.cols)]) - v_ref
    closed = closed_form_planes(gp, gn, x, v_read, "forward")
    err = (v - closed) / v_read
    rows = [{"col": c, "v_sl_v": float(v[c]), "v_closed_v": float(closed[c]),
             "err_frac_vread": float(err[c])} for c in range(spec.cols)]
    return {"rows": rows, "summary": {"max_abs_err_frac_vread": float(np.max(np.abs(err))),
                                      "rms_err_frac_vread": float(np.sqrt(np.mean(err ** 2)))}}


def settling(p: dict) -> dict:
    """Time for a floating SL to settle within ``tol`` of its final value after every row steps
    from Vref to Vref + Vread (linear cells g_cell, wire R, sense capacitance on each SL)."""
    from ..netlist.array import IDEAL_ACCESS, IDEAL_WIRES, ArraySpec, WireSpec, add_array
    from ..netlist.circuit import Capacitor, Circuit, VSource
    from ..sim import NgspiceEngine, Tran

    rows, cols = p["rows"], p["cols"]
    wire = (IDEAL_WIRES if p["wire_r_ohm_per_um"] == 0
            else WireSpec(r_ohm_per_um=p["wire_r_ohm_per_um"]))
    from ..netlist.array import AccessSpec

    access = IDEAL_ACCESS if p.get("access", "ideal") == "ideal" else AccessSpec(corner=p["corner"])
    spec = ArraySpec(np.full((rows, cols), p["g_cell_us"] * 1e-6), cell="linear",
                     access=access, wire=wire)
    g_sum = rows * p["g_cell_us"] * 1e-6
    tau_est = (p["c_sense_f"] + wire.c_f_per_um * wire.pitch_y_um * rows) / g_sum
    t_stop = max(40 * tau_est, 2e-9)
    c = Circuit(f"pycim settling {rows}x{cols}")
    add_array(c, spec)
    pwl = ((0.0, 0.9), (t_stop / 100, 0.9), (t_stop / 100 + 1e-12, 1.0), (t_stop, 1.0))
    c.add(VSource("VIN", "vin", "0", dc_v=0.9, pwl=pwl))
    for r in range(rows):
        c.add(VSource(f"VB{r}", f"bl{r}", "vin", dc_v=0.0))
        if access.kind == "sky130":
            from .. import assumptions

            c.add(VSource(f"VW{r}", f"wl{r}", "0", dc_v=assumptions.value("v_wl_read_v")))
    for col in range(cols):
        if p["c_sense_f"] > 0:
            c.add(Capacitor(f"CSN{col}", f"sl{col}", "0", p["c_sense_f"]))
    res = NgspiceEngine(timeout_s=900).run(c, Tran(t_stop / 2000, t_stop, t_stop / 2000))
    t = res["time"]
    t0 = t_stop / 100
    out = []
    for col in range(cols):
        v = res[f"sl{col}"]
        final, start = v[-1], 0.9
        outside = np.abs(v - final) > p["tol"] * abs(final - start)
        idx = np.nonzero(outside & (t >= t0))[0]
        out.append(float(t[idx[-1] + 1] - t0) if idx.size and idx[-1] + 1 < t.size else 0.0)
    rows_out = [{"col": k, "t_settle_s": s_} for k, s_ in enumerate(out)]
    return {"rows": rows_out, "summary": {"t_settle_max_s": max(out), "g_sum_s": g_sum,
                                          "tau_rc_estimate_s": tau_est}}


def write_verify(p: dict) -> dict:
    """Write-verify programming of one 1T1R cell to ``target_us`` (see
    :mod:`pycim.characterize.write_verify` for the scheme)."""
    from .write_verify import WriteVerifyScheme, write_verify as run

    s = WriteVerifyScheme(scheme=p["scheme"], v_set_max_v=p["v_set_max_v"],
                          v_wl_set_v=p["v_wl_set_v"], refine_factor=p["refine_factor"],
                          width_s=p["width_s"],
                          tol_s=p["tol_us"] * 1e-6, max_pulses=p["max_pulses"])
    r = run(p["target_us"] * 1e-6, p["g_init_us"] * 1e-6, s, corner=p["corner"],
            temp_c=p["temp_c"])
    rows = [{"pulse": st.pulse, "op": st.op, "v_bl_v": st.v_bl_v, "v_sl_v": st.v_sl_v,
             "v_wl_v": st.v_wl_v, "g_read_us": st.g_cell_s * 1e6,
             "g_1t1r_us": st.g_1t1r_s * 1e6, "gap_nm": st.gap_m * 1e9} for st in r["steps"]]
    return {"rows": rows, "summary": {
        "converged": r["converged"], "pulses": r["pulses"], "n_set": r["n_set"],
        "n_reset": r["n_reset"], "overshoots": r["overshoots"],
        "g_final_us": r["g_final_s"] * 1e6, "g_1t1r_final_us": r["g_1t1r_final_s"] * 1e6,
        "err_us": r["err_s"] * 1e6, "v_wl_final_v": r["v_wl_final_v"],
        "v_pulse_final_v": r["v_pulse_final_v"]}}


COMPUTE = {"cell_iv": cell_iv, "mvm_transfer": mvm_transfer, "energy_per_mac": energy_per_mac,
           "set_reset": set_reset, "adc_transfer": adc_transfer, "ir_drop": ir_drop,
           "settling": settling, "write_verify": write_verify}
COMPUTE.update(COMPUTE_FIT)  # the kinds that feed pycim fit


def compute(kind: str, point: dict) -> dict:
    try:
        fn = COMPUTE[kind]
    except KeyError:
        raise InputError(f"unknown sweep kind {kind!r}") from None
    return fn(point)

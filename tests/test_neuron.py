"""NeuRRAM neuron at transistor level: schedule, integrator physics, ADC transfer, ReLU.

The physics tests share a handful of transients (run two at a time); the ADC sweeps put several
neurons into one circuit, each on its own line. Numbers the report quotes are printed (``-s``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from pycim import assumptions
from pycim.cim.closed_form import held_plane_weights
from pycim.errors import InputError
from pycim.measure.neuron import (charge_per_step, code_from_decisions, ideal_code, linearity,
                                  ota_metrics, plane_deltas, read_neuron, transition_decision)
from pycim.netlist.circuit import ngspice_lines
from pycim.netlist.neuron import (NeuronSpec, add_neuron, input_windows, integration_steps,
                                  line_testbench, mvm_schedule, window_pwl)
from pycim.netlist.schedule import LOGIC, Net, Phase, Schedule, ScheduleBuilder, schedule_sources
from pycim.sim import NgspiceEngine, Tran

SPEC = NeuronSpec()
ENGINE = NgspiceEngine(timeout_s=300)
C_LINE = 100e-15  # the held line's capacitance in the benches (before the switches' junctions)
R_HOLD = 2e3  # its driver: settles in 10 ns (a 256-row line's Thevenin resistance ~0.2-1 kOhm)
MAX_STEP = 2e-9
#: The converter's decision error, integrator-referred: the comparator's residual offset after
#: auto-zero plus the packets' switch charge (0.1 mV x ~6 transfers): allocated 2 mV. A code may
#: differ from the ideal quantisation of the measured integrator only within this of a boundary.
ADC_ERR_V = 2e-3


def _code_ok(code, v_int, q, bits, relu=False):
    """``code`` is the ideal quantisation of ``v_int``, or of ``v_int`` moved by at most
    :data:`ADC_ERR_V` (near a code boundary)."""
    lo, hi = (int(ideal_code(v_int + d, q, bits, relu=relu)) for d in (-ADC_ERR_V, ADC_ERR_V))
    return lo <= code <= hi  # vs 1 ns: integrator gain within 2e-5, offset 10 uV (5 ns: off by 0.2 mV)


def _run(spec, sched, lines, probe=False):
    """The line bench: each line driven through ``R_HOLD`` onto ``C_LINE``; the neuron's track
    switch copies it onto C_hold during the read pulses."""
    c, nodes = line_testbench(spec, sched, lines, probe=probe, r_source_ohm=R_HOLD,
                              c_line_f=C_LINE)
    t0 = time.perf_counter()
    res = ENGINE.run(c, Tran(1e-9, sched.t_stop, MAX_STEP))
    return res, nodes, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Schedule (no simulation)
# ---------------------------------------------------------------------------------------------

def test_schedule_timing_and_phase_names():
    s = mvm_schedule(SPEC, 4, 6)
    wins = input_windows(s)
    # held-line scheme: ONE read pulse per magnitude plane (was one per repetition)
    assert [(n, r) for n, r, _, _ in wins] == [(1, 0), (2, 0), (3, 0)]
    assert all(t1 - t0 == pytest.approx(SPEC.read_pulse_s) for _, _, t0, t1 in wins)
    # integration steps: one every 0.27 us inside a plane; a new plane adds its read pulse
    # (and its guard) in front of its first step
    steps = integration_steps(s)
    starts = np.array([s.start(f"in{st}") for st in steps])
    new_plane = np.array([st.endswith("_0") for st in steps[1:]])
    expect = SPEC.t_integration_step_s + new_plane * (SPEC.read_pulse_s + SPEC.t_guard_s)
    assert np.allclose(np.diff(starts), expect, rtol=0, atol=1e-15)
    assert steps == ["1_0", "2_0", "2_1", "3_0", "3_1", "3_2", "3_3"]
    # every sample of a plane comes after its read pulse and before the next plane's pulse
    for n, _, _, t_off in wins:
        mine = [st for st in steps if st.startswith(f"{n}_")]
        nxt = [t0 for m, _, t0, _ in wins if m == n + 1]
        assert all(s.start(f"in{st}") >= t_off for st in mine)
        assert all(s.end(f"int{st}_h") <= nxt[0] for st in mine) if nxt else True
    cmp_t = [s.start(f"cmp{j}") for j in range(6)]
    # one ADC step; the first also holds packet 1's first part (sample, early, integrate,
    # settle, and the two guards between them)
    part = (SPEC.t_packet_s + SPEC.t_early_s + SPEC.t_packet_integrate_s + SPEC.t_settle_s
            + 2 * SPEC.t_guard_s)
    assert SPEC.dac_first_parts == 2
    assert np.allclose(np.diff(cmp_t), [0.3e-6 + part] + [0.3e-6] * 4, rtol=0, atol=1e-15)
    assert s.end("pki1p1_h") + SPEC.t_guard_s == pytest.approx(s.start("pk1"))
    assert SPEC.t_integration_step_s == pytest.approx(0.27e-6)
    assert SPEC.t_adc_step_s == pytest.approx(0.3e-6)
    times = s.phase_times()
    assert list(times) == [p.name for p in s.phases]
    # the reset (auto-zero, then the OTA in integrator mode through C_az) fills t_reset_s
    assert times["reset"][0] == 0.0 and s.end("reset_o") == pytest.approx(SPEC.t_reset_s)
    assert [p.name for p in s.phases if p.tag == "reset"] == ["reset", "reset_z", "reset_f",
                                                                "reset_o"]
    assert s.high_windows("nc_az") == [(0.0, s.end("reset"))]
    assert s.t_stop == pytest.approx(max(t1 for _, t1 in times.values()))
    # inp is high exactly in the input windows
    assert s.high_windows("nc_inp") == [(t_on, t_off) for _, _, t_on, t_off in wins]
    # DAC references halve every step and sit at Vref outside packets
    for k, v in enumerate(SPEC.dac_levels(6), start=1):
        for name in [f"pk{k}"] + (["pk1p1"] if k == 1 else []):
            assert s.phase(name).level("nc_vdacp") == pytest.approx(0.9 + v)
            assert s.phase(name).level("nc_vdacn") == pytest.approx(0.9 - v)
    # packet k moves the integrator by fs / 2^k: V_dac,k = (C_i / C_s) fs / 2^k, packet 1 in
    # two halves
    ci_cs = SPEC.c_integ_f / SPEC.c_sample_f
    assert SPEC.dac_levels(6) == pytest.approx(
        [ci_cs * 0.4 / 2 / 2] + [ci_cs * 0.4 / 2 ** k for k in range(2, 6)])


def test_schedule_clocks_never_overlap_in_the_waveforms():
    s = mvm_schedule(SPEC, 3, 4)
    t = np.arange(0.0, s.t_stop, 0.05e-9)
    wave = {n: np.interp(t, *np.array(s.pwl(n)).T) for n in s.nets}
    for group in s.exclusive:
        on = np.array([wave[n] > 0.05 * SPEC.vdd_v for n in group])
        assert on.sum(axis=0).max() <= 1, f"clocks {sorted(group)} overlap"
    # complements are exact complements
    for src in schedule_sources(s):
        if src.name.endswith("_b"):
            base = np.interp(t, *np.array(s.pwl(src.np_[:-2])).T)
            comp = np.interp(t, *np.array(src.pwl).T)
            assert np.allclose(base + comp, SPEC.vdd_v)


def test_schedule_is_deterministic_and_validated():
    a = [(v.name, v.pwl) for v in schedule_sources(mvm_schedule(SPEC, 2, 3))]
    b = [(v.name, v.pwl) for v in schedule_sources(mvm_schedule(SPEC, 2, 3))]
    assert a == b
    nets = [Net("c1"), Net("c2"), Net("ref", "analog", default=0.9)]
    bld = ScheduleBuilder(nets, vdd_v=1.8, edge_s=1e-9, guard_s=3e-9, exclusive=[("c1", "c2")])
    bld.add("p1", 10e-9, high=("c1",)).add("p2", 10e-9, high=("c2",), analog={"ref": 1.0})
    s = bld.build()
    assert [p.name for p in s.phases] == ["p1", "p2_g", "p2"]  # break-before-make guard
    assert s.phase("p2_g").level("ref") == 0.9 and s.phase("p2").level("ref") == 1.0
    with pytest.raises(InputError):
        bld.add("p3", 10e-9, high=("nope",))
    with pytest.raises(InputError):  # exclusive nets adjacent without a guard
        Schedule(nets, [Phase("a", 10e-9, (("c1", 1.0), ("c2", 0.0), ("ref", 0.9))),
                        Phase("b", 10e-9, (("c1", 0.0), ("c2", 1.0), ("ref", 0.9)))],
                 vdd_v=1.8, edge_s=1e-9, exclusive=[("c1", "c2")])
    with pytest.raises(InputError):  # logic level not 0/1
        Schedule(nets, [Phase("a", 10e-9, (("c1", 0.5), ("c2", 0.0), ("ref", 0.9)))],
                 vdd_v=1.8, edge_s=1e-9)
    with pytest.raises(InputError):  # shorter than two edges
        Schedule(nets, [Phase("a", 1e-9, (("c1", 0.0), ("c2", 0.0), ("ref", 0.9)))],
                 vdd_v=1.8, edge_s=1e-9)
    with pytest.raises(InputError):  # levels must cover the nets
        Schedule(nets, [Phase("a", 10e-9, (("c1", 0.0),))], vdd_v=1.8, edge_s=1e-9)
    with pytest.raises(InputError):
        Net("bad name; .control", LOGIC)
    with pytest.raises(InputError):
        mvm_schedule(SPEC, 0, 6)
    with pytest.raises(InputError):  # outputs up to 10 bits (the paper's in + 2)
        mvm_schedule(SPEC, 4, 11)
    with pytest.raises(InputError):  # first packet would leave the supply
        replace(SPEC, c_sample_f=10e-15)


def test_neurons_coexist_with_prefixes():
    s = mvm_schedule(SPEC, 1, 2)
    c, nodes = line_testbench(SPEC, s, [0.9, 0.95, 1.0])
    names = [e.name.lower() for e in c.iter_elements()]
    assert len(names) == len(set(names))
    assert {n.out for n in nodes} == {"n0_o", "n1_o", "n2_o"}
    text = "\n".join(ngspice_lines(c))
    assert text == "\n".join(ngspice_lines(line_testbench(SPEC, s, [0.9, 0.95, 1.0])[0]))
    with pytest.raises(InputError):
        add_neuron(c, SPEC, "n0_", "line0", s)  # same prefix twice
    for bad in ("bad prefix", "n9", "nc_"):  # not an identifier / no trailing _ / clock prefix
        with pytest.raises(InputError):
            add_neuron(c, SPEC, bad, "line0", s)


def test_code_decoding():
    assert code_from_decisions([1, 1, 1, 1]) == 7
    assert code_from_decisions([-1, -1, -1, -1]) == -8
    assert code_from_decisions([1, -1, -1, -1]) == 0
    assert code_from_decisions([-1, 1, 1, 1]) == -1
    assert code_from_decisions([-1, 1, 1, 1], relu=True) == 0
    q = SPEC.lsb_v(4)
    assert list(ideal_code([-1.0, -q / 2, 0.0, 2.5 * q, 1.0], q, 4)) == [-8, -1, 0, 2, 7]
    # transitions: MSB decides -1|0, LSB decides 2|3, bit 2 decides 1|2 at 4 bits
    assert transition_decision(0, 4) == 0
    assert transition_decision(3, 4) == 3
    assert transition_decision(2, 4) == 2


# ---------------------------------------------------------------------------------------------
# Amplifier
# ---------------------------------------------------------------------------------------------

def test_ota_open_loop_gain_bandwidth_phase_margin():
    light = ota_metrics(SPEC, 40e-15)  # ~ C_i in series with C_s + C_x, plus switches
    heavy = ota_metrics(SPEC, 100e-15)
    print(f"\nOTA tt: A0 {light.a0_db:.1f} dB, GBW {light.gbw_hz / 1e6:.1f} MHz, "
          f"PM {light.phase_margin_deg:.1f} deg (40 fF); {heavy.gbw_hz / 1e6:.1f} MHz, "
          f"{heavy.phase_margin_deg:.1f} deg (100 fF); offset {light.offset_v * 1e3:.3f} mV, "
          f"I_supply {light.i_supply_a * 1e6:.1f} uA")
    assert light.a0_db > 65  # residue error A^-1 per step << 1 LSB at 8 bits
    # closed-loop tau = 1 / (2 pi beta GBW), beta ~ 0.6: settling to 1e-4 (9 tau) within the
    # integrate phase
    assert 9 / (2 * np.pi * 0.6 * light.gbw_hz) < SPEC.t_integrate_s
    assert light.phase_margin_deg > 65 and heavy.phase_margin_deg > 60
    assert abs(light.offset_v) < 1e-3
    # the bench's OTA has its own reference: 1 + m_tail + m_out bias units (M6 = M7's current)
    units = 1 + SPEC.m_tail + SPEC.m_out
    assert light.i_supply_a == pytest.approx(units * SPEC.ibias_a, rel=0.2)


# ---------------------------------------------------------------------------------------------
# Shared transients
# ---------------------------------------------------------------------------------------------

PLANES = {  # per-plane driven line voltage minus Vref, one neuron each (LSB plane first)
    "mixed": (0.12, -0.06, 0.04),
    "pos": (0.06, 0.06, 0.06),
    "neg": (-0.06, -0.06, -0.06),
}
ADC_POINTS = {4: 24, 6: 48}
ADC_CHUNK = 8


ADC_IN_BITS = 3  # the ADC sweep's input width: two planes, three samples


def _adc_plane_weights():
    return held_plane_weights(ADC_IN_BITS, assumptions.value("neuron_c_hold_eff_f"),
                              assumptions.value("neuron_c_sample_eff_f"))


def _adc_inputs(bits):
    q = SPEC.lsb_v(bits)
    # full range plus 1/3 LSB each side; step < 2 LSB so every transition has a point beside it
    return np.linspace(-SPEC.adc_fs_v - q / 3, SPEC.adc_fs_v + q / 3, ADC_POINTS[bits]) + 0.29e-3


@pytest.fixture(scope="session")  # shared on one worker: tests/conftest.py
def sims():
    jobs = {}
    s_mvm = mvm_schedule(SPEC, 4, 6)
    lines = [window_pwl(s_mvm, SPEC, [SPEC.v_ref_v + u for u in v], SPEC.v_ref_v)
             for v in PLANES.values()]
    jobs["mvm"] = (SPEC, s_mvm, lines, True)
    jobs["single"] = (SPEC, s_mvm, [window_pwl(s_mvm, SPEC, [0.94, 0.94, 0.94], 0.9)], False)
    relu = replace(SPEC, relu=True)
    s1 = mvm_schedule(relu, 1, 6)
    jobs["relu"] = (relu, s1, [relu.v_ref_v + u for u in (-0.3, -0.012, 0.1, 0.3)], False)
    for bits in ADC_POINTS:
        s = mvm_schedule(SPEC, ADC_IN_BITS, bits)
        # the same held value on both planes of a 3-bit input, three samples in all:
        # v = (C_s/C_i) (V_SL - Vref) (r + r + r^2), r the droop of one sample (effective
        # capacitances, pycim.assumptions); at C_s/C_i = 0.25 one sample could not reach
        # the full scale inside the supply
        u = _adc_inputs(bits) / (SPEC.gain * _adc_plane_weights().sum())
        for k in range(0, len(u), ADC_CHUNK):
            jobs[("adc", bits, k)] = (SPEC, s, [
                window_pwl(s, SPEC, [SPEC.v_ref_v + x] * 2, SPEC.v_ref_v)
                for x in u[k:k + ADC_CHUNK]], False)
    order = sorted(jobs, key=lambda k: 0 if k in ("single", "mvm", "relu") else 1)
    with ThreadPoolExecutor(2) as ex:
        futs = {k: ex.submit(_run, *jobs[k]) for k in order}
        out = {k: (f.result(), jobs[k][1], jobs[k][0]) for k, f in futs.items()}
    return out


def _readouts(sims, key):
    (res, nodes, _), sched, spec = sims[key]
    return [read_neuron(res, sched, n, spec) for n in nodes]


# ---------------------------------------------------------------------------------------------
# Integrator physics
# ---------------------------------------------------------------------------------------------

R_NOM = SPEC.c_hold_f / (SPEC.c_hold_f + SPEC.c_sample_f)  # droop per sample (closed form)


def _plane_and_sample(steps):
    """(plane n, sample index k = 1..2^(n-1) since the plane's read pulse) per step name."""
    n = np.array([int(st.split("_")[0]) for st in steps])
    k = np.array([int(st.split("_")[1]) + 1 for st in steps])
    return n, k


def _droop(v_line, n, k):
    """Measured droop ratio per sample of the held line (median over the planes' samples)."""
    r = [v_line[i + 1] / v_line[i] for i in range(len(n) - 1) if n[i + 1] == n[i]]
    return float(np.median(r))


def test_charge_conservation_per_integration_step(sims):
    """Per step, both signs: the held line droops as the closed form says (each sample shares
    its charge with C_sample); the charge C_integ gains equals C_sample (V_SL - Vref) with V_SL
    the line voltage at that sample (to the OTA offset's C_sample V_os ~ 6 aC) and equals what
    C_sample gave up, to < 2 aC (0.02 mV on C_integ); the integrate switch's current carries
    that charge plus its own channel charge."""
    (res, nodes, _), sched, spec = sims["mvm"]
    worst = {"rel": 0.0, "resid": 0.0, "probe": 0.0, "droop": 0.0}
    steps = integration_steps(sched)
    n, k = _plane_and_sample(steps)
    for (name, planes), nn in zip(PLANES.items(), nodes):
        q = charge_per_step(res, sched, nn, spec)
        u = np.array([planes[i - 1] for i in n])
        v_sl = q["v_line"] - spec.v_ref_v
        # the held value: sample k of a plane sees u r^k, r = C_hold / (C_hold + C_s); the
        # switches' junctions add a few fF to C_hold (and to C_sample's top plate): 3 % per
        # sample; the track switch's charge injection moves the held value by ~2 %
        same = n[1:] == n[:-1]
        droop = v_sl[1:][same] / v_sl[:-1][same]
        assert np.allclose(droop, R_NOM, rtol=0.03), (name, droop)
        assert np.allclose(v_sl[k == 1], u[k == 1] * R_NOM, rtol=0.05), (name, v_sl / u)
        worst["droop"] = max(worst["droop"], np.max(np.abs(droop / R_NOM - 1)))
        ideal = spec.c_sample_f * v_sl  # C_sample (V_SL - Vref), 0.4 .. 4 fC
        rel = np.abs(q["dq_integ"] / ideal - 1)
        # 1 % plus the OTA offset's C_s V_os (|V_os| <= 0.2 mV)
        assert np.all(np.abs(q["dq_integ"] - ideal) < 0.01 * np.abs(ideal)
                      + spec.c_sample_f * 0.2e-3), (name, q["dq_integ"] / ideal)
        # exactly, C_sample's plates go from (V_SL, Vref) to (Vref, V_x): the virtual ground sits
        # at the OTA offset (-0.1 mV), which is the whole per-step error
        exact = spec.c_sample_f * (v_sl + q["v_x"] - spec.v_ref_v)
        # (the first step also carries the OTA's first power-down after the reset: 5 aC)
        assert np.abs(q["dq_integ"] - exact)[1:].max() < 2e-18, (name, q["dq_integ"] - exact)
        assert abs(q["dq_integ"] - exact)[0] < 5e-18, (name, q["dq_integ"] - exact)
        # strict bookkeeping: C_integ's gain minus C_sample's loss, per step
        resid = q["dq_integ"] - q["q_sampled"]
        assert np.abs(resid)[1:].max() < 2e-18 and abs(resid[0]) < 5e-18, (name, resid)
        # the integral of the current through the integrate switch (includes its channel charge)
        # the switch's channel charge: Cox (W_n + W_p) L (VDD - Vref) = 1.6 fC when on; its
        # net part in the probe's window (closing and opening split it unevenly) is a few %
        q_ch = 8.5e-3 * (spec.sw_wn_um + spec.sw_wp_um) * spec.sw_l_um * 1e-12 * (
            spec.vdd_v - spec.v_ref_v)
        probe = q["q_probe"] - ideal
        assert np.all(np.abs(probe) < 0.01 * np.abs(ideal) + 0.03 * q_ch), (name, probe)
        worst = {"rel": max(worst["rel"], rel.max()),
                 "resid": max(worst["resid"], np.abs(resid).max()),
                 "probe": max(worst["probe"], np.abs(probe).max()), "droop": worst["droop"]}
    signs = np.sign([u for p in PLANES.values() for u in p])
    assert (signs > 0).any() and (signs < 0).any()
    # the effective capacitances every closed form takes (y_ideal's plane weights, the code
    # tests' reference) against this neuron's sample-to-sample droop: 3e-4 in r is a 0.1 %
    # gain on four planes (8 samples), a third of what the (8, 10) code check can take
    r_eff = assumptions.value("neuron_c_hold_eff_f") / (
        assumptions.value("neuron_c_hold_eff_f") + assumptions.value("neuron_c_sample_eff_f"))
    r_all = []
    for (name, _), nn in zip(PLANES.items(), nodes):
        v_sl = charge_per_step(res, sched, nn, spec)["v_line"] - spec.v_ref_v
        same = n[1:] == n[:-1]
        r_all += list((v_sl[1:] / v_sl[:-1])[same])
    r_meas = float(np.median(r_all))
    print(f"\nheld-line droop per sample: median {r_meas:.5f}, assumptions' effective "
          f"capacitances {r_eff:.5f}")
    assert abs(r_meas - r_eff) < 3e-4, (r_meas, r_eff)
    print(f"charge per step: held-line droop vs C_line / (C_line + C_s) within "
          f"{worst['droop'] * 100:.2f} %; "
          f"|dQ_Ci / (C_s (V_SL - Vref)) - 1| <= {worst['rel']:.4f}; "
          f"|dQ_Ci - dQ_Cs| <= {worst['resid'] * 1e18:.1f} aC; "
          f"|int(i_switch) - C_s (V_SL - Vref)| <= {worst['probe'] * 1e18:.1f} aC")


def test_multibit_plane_weights_follow_the_held_line(sims):
    """Plane n integrates its held value 2^(n-1) times: the plane's integrator change is
    (C_s/C_i) u held_line_gain(C_hold, C_s, 2^(n-1)) (1, 2, 4 undrooped; 0.91, 1.74, 3.17 for
    250 fF against 25 fF). Checked with the droop measured on the hold node (C_hold plus
    junctions) to 1.5 %, and that droop against the nominal closed form to 3 %."""
    (res, nodes, _), sched, spec = sims["mvm"]
    ros = _readouts(sims, "mvm")
    n, k = _plane_and_sample(integration_steps(sched))
    for (name, planes), ro, nn in zip(PLANES.items(), ros, nodes):
        d = plane_deltas(ro)
        v_line = np.interp([sched.end(f"in{st}") for st in ro.steps], res["time"],
                           res[nn.hold]) - spec.v_ref_v
        r = _droop(v_line, n, k)
        assert r == pytest.approx(R_NOM, rel=0.03), name
        c_eff = spec.c_sample_f * r / (1 - r)  # the hold capacitance that droop means
        w = held_plane_weights(4, c_eff, spec.c_sample_f, in_pulse=False)
        assert held_plane_weights(4, 1.0, 0.0, in_pulse=False) == pytest.approx([1, 2, 4])
        total, v0s = 0.0, {}
        for i, u in enumerate(planes, start=1):
            # the level the line held after the pulse: its first sample over r (the bench's
            # driver, 2 kOhm and a TG, reaches u to 2-4 % in the 10 ns pulse when the line
            # starts from the previous plane's opposite level)
            v0 = v0s[i] = v_line[(n == i) & (k == 1)][0] / r
            assert v0 == pytest.approx(u, rel=0.05), (name, i)
            expect = SPEC.gain * v0 * w[i - 1]
            assert d[i] == pytest.approx(expect, rel=0.015), (name, i, d[i], expect)
            total += expect
        # per volt held: plane weights r : (r + r^2) : (r + .. + r^4), i.e. 1 : (1 + r) :
        # (1 + r + r^2 + r^3) (1 : 2 : 4 undrooped)
        g = {i: d[i] / v0s[i] for i in d}
        assert g[2] / g[1] == pytest.approx(1 + r, rel=0.015)
        assert g[3] / g[1] == pytest.approx(1 + r + r ** 2 + r ** 3, rel=0.015)
        assert ro.v_int - ro.v_int0 == pytest.approx(total, abs=1e-3)
        assert _code_ok(ro.code, ro.v_int, SPEC.lsb_v(6), 6), (ro.code, ro.v_int)
    print("\nplane deltas (pos): " + ", ".join(f"{k}: {v * 1e3:.3f} mV"
                                              for k, v in plane_deltas(ros[1]).items()))


def test_full_cycle_single_neuron_runtime(sims):
    (res, nodes, wall), sched, spec = sims["single"]
    ro = read_neuron(res, sched, nodes[0], spec)
    # (C_s/C_i = 50/200) 40 mV x the held weights 0.909 + 1.736 + 3.170 (C_hold 500 fF,
    # C_s 50 fF) = 58.1 mV -> code floor(58.1 / 12.5) = 4; the junctions lower the droop ~1 %
    r = 500 / 550
    expect = 0.25 * 0.04 * (r + (r + r**2) + (r + r**2 + r**3 + r**4))
    assert expect == pytest.approx(spec.gain * 0.04 * held_plane_weights(
        4, spec.c_hold_f, spec.c_sample_f).sum())
    assert ro.v_int - ro.v_int0 == pytest.approx(expect, rel=0.05)
    assert ro.code == 4 and _code_ok(ro.code, ro.v_int, spec.lsb_v(6), 6)
    print(f"\none 4-bit-input / 6-bit-output cycle ({sched.t_stop * 1e6:.3f} us simulated): "
          f"{wall:.2f} s wall, {res.elapsed_s:.2f} s ngspice, {len(res['time'])} time points")
    # its time is reported, not asserted: speed targets live in `make bench` (mvm_transient)


# ---------------------------------------------------------------------------------------------
# ADC transfer
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", sorted(ADC_POINTS))
def test_adc_transfer_codes_inl_dnl_sign(sims, bits):
    ros = [r for k in sorted(k for k in sims if isinstance(k, tuple) and k[1] == bits)
           for r in _readouts(sims, k)]
    v_nom = _adc_inputs(bits)
    q = SPEC.lsb_v(bits)
    v = np.array([r.v_int for r in ros])  # the ADC's input: integrator voltage, measured
    codes = np.array([r.code for r in ros])
    assert len(ros) == len(v_nom)
    # the sweep covers the full range, both ends saturating
    assert codes.min() == -(1 << (bits - 1)) and codes.max() == (1 << (bits - 1)) - 1
    # three samples of the held value: the track switch's charge injection adds ~2 % of gain at
    # +-0.8 V line swings (+16 mV/V near Vref, pycim.assumptions neuron_trk_wp_um); these are
    # +-0.6 V
    assert np.allclose(v, v_nom, rtol=0.03, atol=1.5e-3)
    err = codes - ideal_code(v, q, bits)
    err_nom = codes - ideal_code(v_nom, q, bits)
    assert np.mean(np.abs(err) <= 1) >= 0.95 and np.mean(np.abs(err_nom) <= 1) >= 0.95
    assert np.all(np.abs(err) <= 1)
    lin = linearity(ros, bits, q)
    # every point farther than 1 mV from a measured transition has the code the transitions
    # predict (the DAC-level model explains the sweep)
    pred = np.searchsorted(lin.transitions, v, side="right") - (1 << (bits - 1))
    far = np.min(np.abs(v[:, None] - lin.transitions[None, :]), axis=1) > 1e-3
    assert np.array_equal(pred[far], codes[far])
    assert lin.max_abs_dnl < 0.5 and lin.max_abs_inl < 0.5
    # sign detection: right for every input beyond one LSB
    big = np.abs(v) > q
    assert all(r.sign == np.sign(x) for r, x in zip(np.array(ros)[big], v[big]))
    print(f"\nADC {bits} bit: {np.mean(err == 0) * 100:.0f} % of {len(v)} codes exact vs the "
          f"measured input ({np.mean(err_nom == 0) * 100:.0f} % vs nominal), all within 1 LSB; "
          f"DNL max {lin.max_abs_dnl:.3f} LSB, INL max {lin.max_abs_inl:.3f} LSB; comparator "
          f"threshold {lin.threshold_v * 1e3:.2f} +- {lin.threshold_halfwidth_v * 1e3:.2f} mV")


# ---------------------------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------------------------

def test_relu_forces_negative_outputs_to_zero(sims):
    (res, nodes, _), sched, spec = sims["relu"]
    ros = [read_neuron(res, sched, n, spec) for n in nodes]
    q = spec.lsb_v(6)
    for ro in ros:
        if ro.v_int < -q:
            assert ro.sign == -1 and ro.code == 0
            # conversion skipped: no packet reached C_integ (a normal neuron moves >= 0.2 V)
            assert abs(ro.v_final - ro.v_int) < 5e-3
        elif ro.v_int < 0:
            assert ro.code == 0
        else:
            assert ro.sign == 1
            assert ro.code > 0 and _code_ok(ro.code, ro.v_int, q, 6), (ro.code, ro.v_int)
    assert sorted(r.code for r in ros)[:2] == [0, 0]
    assert all(_code_ok(r.code, r.v_int, q, 6, relu=True) for r in ros)


def test_latch_levels_metastable_warns_out_of_rails_errors():
    """A latch read between 1/4 and 3/4 of vdd had not resolved (its residue within the
    latch's resolution): read at vdd/2 with a MetastableWarning, as a CMOS gate would; a level
    beyond the rails by a quarter vdd is an error (a broken deck, not a slow latch)."""
    from pycim.errors import MetastableWarning
    from pycim.measure.neuron import _logic

    assert _logic(1.7, 1.8, "d") == 1 and _logic(0.05, 1.8, "d") == -1
    with pytest.warns(MetastableWarning, match="had not resolved"):
        assert _logic(0.859, 1.8, "n15_ decision 0") == -1
    with pytest.warns(MetastableWarning):
        assert _logic(0.95, 1.8, "d") == 1
    with pytest.raises(InputError):
        _logic(2.5, 1.8, "d")

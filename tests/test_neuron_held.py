"""The chip's scheme (issue 17): one read pulse per plane, the settled line held on the neuron's
C_hold and re-sampled 2^(n-1) times, charge sharing against the closed form, codes against the ideal quantisation, neuron power from
the supply current against bias x duty x VDD, out_bits up to 10 and the ADC range."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from pycim.cim.closed_form import held_line_gain, held_plane_weights
from pycim.errors import InputError
from pycim.measure.neuron import ideal_code, read_neuron
from pycim.netlist.neuron import (NeuronSpec, input_windows, line_testbench, mvm_schedule,
                                  window_pwl)
from pycim.sim import NgspiceEngine, Tran

SPEC = NeuronSpec()
C_LINE = 100e-15
R_SRC = 2e3  # a 256-row line's Thevenin resistance is ~0.2-1 kOhm; settles well within 10 ns
ALPHAS = (-0.9, -0.4, 0.3, 0.85)  # fractions of the full scale: outputs span > half the range


def test_schedule_one_read_pulse_per_plane_and_latency():
    for in_bits, planes in ((1, 1), (4, 3), (6, 5), (8, 7)):
        s = mvm_schedule(SPEC, in_bits, min(in_bits + 2, 10))
        w = input_windows(s)
        assert [(n, r) for n, r, _, _ in w] == [(n, 0) for n in range(1, planes + 1)]
        assert all(t1 - t0 == pytest.approx(SPEC.read_pulse_s) for _, _, t0, t1 in w)
        assert s.high_windows(SPEC.net("inp")) == [(t0, t1) for _, _, t0, t1 in w]
        # 2^(n-1) integrations per plane, each after its plane's pulse and before the next
        steps = [p.name for p in s.phases if p.tag == "integrate"]
        assert len(steps) == sum(2 ** (n - 1) for n in range(1, planes + 1))
    s46 = mvm_schedule(SPEC, 4, 6)
    assert abs(s46.t_stop / 4.23e-6 - 1) < 0.25  # the paper's 4-bit MVM latency
    assert mvm_schedule(SPEC, 8, 10).t_stop > 0
    with pytest.raises(InputError):
        mvm_schedule(SPEC, 4, 11)
    with pytest.raises(InputError):
        mvm_schedule(SPEC, 9, 10)
    with pytest.raises(InputError):  # LSB below the comparator's resolution
        replace(SPEC, adc_fs_v=0.1).lsb_v(10)
    with pytest.raises(InputError):
        replace(SPEC, adc_fs_v=0.9)
    # the DAC levels follow the full scale
    # (packet 1 in dac_first_parts equal parts)
    assert replace(SPEC, adc_fs_v=0.1).dac_levels(4) == pytest.approx(
        [0.1 / SPEC.gain / 2 / SPEC.dac_first_parts] + [0.1 / SPEC.gain / 2 ** k for k in (2, 3)])


def test_held_line_gain_closed_form():
    r = 2 / 3  # C_hold = 100 fF, C_s = 50 fF: sample k sees r^k of the held value
    assert held_line_gain(100e-15, 50e-15, 1) == pytest.approx(r)
    assert held_line_gain(100e-15, 50e-15, 3) == pytest.approx(r + r * r + r ** 3)
    assert held_line_gain(100e-15, 50e-15, 3, in_pulse=True) == pytest.approx(1 + r + r * r)
    assert held_line_gain(1e-9, 0.0, 8) == pytest.approx(8.0)
    assert held_plane_weights(4, 100e-15, 50e-15) == pytest.approx(
        [r, r + r**2, r + r**2 + r**3 + r**4])


def _bench(spec, in_bits, out_bits):
    s = mvm_schedule(spec, in_bits, out_bits)
    w = held_plane_weights(in_bits, spec.c_hold_f, spec.c_sample_f)
    u = [a * spec.adc_fs_v / (spec.gain * w.sum()) for a in ALPHAS]
    lines = [window_pwl(s, spec, [spec.v_ref_v + x] * len(w), spec.v_ref_v) for x in u]
    c, nodes = line_testbench(spec, s, lines, r_source_ohm=R_SRC, c_line_f=C_LINE)
    res = NgspiceEngine(timeout_s=300).run(c, Tran(1e-9, s.t_stop, 2e-9))
    return res, s, nodes, spec, u


CASES = {(1, 3): 0.05, (2, 4): 0.08, (4, 6): 0.25, (6, 8): 0.4}  # adc_fs_v per (in, out)


@pytest.fixture(scope="session")  # shared on one worker: tests/conftest.py
def sims():
    jobs = {k: (replace(SPEC, adc_fs_v=fs), *k) for k, fs in CASES.items()}
    jobs["gain"] = (replace(SPEC, adc_fs_v=0.25, c_integ_f=1.1 * SPEC.c_integ_f), 4, 6)
    with ThreadPoolExecutor(2) as ex:
        futs = {k: ex.submit(_bench, *v) for k, v in jobs.items()}
        return {k: f.result() for k, f in futs.items()}


def _codes(sim, ref_spec):
    """(codes, reference codes): reference = ideal quantisation of (C_s/C_i) x the sum of the
    held voltages the neuron sampled (V(hold) at the end of each sample phase)."""
    res, s, nodes, spec, _ = sim
    t = res["time"]
    got, ref = [], []
    for nd in nodes:
        ro = read_neuron(res, s, nd, spec)
        v = np.interp([s.end(f"in{st}") for st in ro.steps], t, res[nd.hold]) - spec.v_ref_v
        got.append(ro.code)
        out_bits = sum(1 for p in s.phases if p.tag == "decision")
        ref.append(int(ideal_code(ref_spec.gain * v.sum(), ref_spec.lsb_v(out_bits), out_bits)))
    return np.array(got), np.array(ref)


@pytest.mark.parametrize("case", sorted(CASES))
def test_codes_vs_ideal_quantisation_of_the_held_line(sims, case):
    res, s, nodes, spec, _ = sims[case]
    got, ref = _codes(sims[case], spec)
    out_bits = case[1]
    span = got.max() - got.min()
    print(f"\n(in, out) = {case}: codes {got.tolist()}, ideal {ref.tolist()}")
    assert span >= 2 ** out_bits / 2 * 0.9  # the inputs span about half the code range or more
    assert np.all(np.abs(got - ref) <= 1)
    # the held value droops as the closed form says: r = C_hold / (C_hold + C_s), with the
    # switches' junctions adding a few fF to both (5 %)
    t = res["time"]
    r_nom = spec.c_hold_f / (spec.c_hold_f + spec.c_sample_f)
    if case[0] >= 4:
        ro = read_neuron(res, s, nodes[0], spec)
        top = [st for st in ro.steps if st.startswith(f"{case[0] - 1}_")]
        v = np.interp([s.end(f"in{st}") for st in top], t, res[nodes[0].hold]) - spec.v_ref_v
        assert v[1:] / v[:-1] == pytest.approx(r_nom, rel=0.05)


def test_gain_error_of_ten_percent_fails(sims):
    """The same criterion with the ideal spec's gain against a neuron whose C_integ is 10 %
    larger: some code is off by more than one LSB."""
    got, _ = _codes(sims["gain"], sims["gain"][3])
    _, ref_nominal = _codes(sims["gain"], replace(SPEC, adc_fs_v=0.25))
    assert np.any(np.abs(got - ref_nominal) > 1)


def test_neuron_power_from_supply_current(sims):
    """Average VDD power per neuron over a whole 4-bit / 6-bit cycle, from the simulated supply
    current, against the independent estimate VDD x bias units x duty: first stage (m_tail
    units) always on, second stage (m_out units) on while ``en`` is high; the shared reference's
    current (measured from its resistor) is split over a 256-neuron core. The chip's neuron
    averages 29.1 fJ/op x 256 ops / 4.23 us = 1.76 uW (CiMLoop): within 2x, <= 3.6 uW."""
    res, s, nodes, spec, _ = sims[(4, 6)]
    t = res["time"]
    p_vdd = -np.trapezoid(spec.vdd_v * res["i(vdd)"], t) / s.t_stop
    i_ref = np.trapezoid((spec.vdd_v - res[spec.bias_net]) / spec.rbias(), t) / s.t_stop
    p_neuron = (p_vdd - spec.vdd_v * i_ref) / len(nodes)
    p_core = p_neuron + spec.vdd_v * i_ref / 256
    duty = sum(b - a for a, b in s.high_windows(spec.net("en"))) / s.t_stop
    est = spec.vdd_v * spec.ibias_a * (spec.m_tail + spec.m_out * duty)
    paper = 29.1e-15 * 256 / 4.23e-6
    print(f"\nneuron VDD power {p_neuron * 1e6:.2f} uW, {p_core * 1e6:.2f} uW with its share of "
          f"the core's reference (estimate {spec.vdd_v:.1f} V x {spec.ibias_a * 1e6:.2f} uA x "
          f"({spec.m_tail} + {spec.m_out} x {duty:.3f}) = {est * 1e6:.2f} uW; reference "
          f"{i_ref * 1e6:.3f} uA; paper {paper * 1e6:.2f} uW; t_stop {s.t_stop * 1e6:.3f} us)")
    assert i_ref == pytest.approx(spec.ibias_a, rel=0.1)
    assert p_neuron == pytest.approx(est, rel=0.15)
    assert p_core <= 2 * paper

"""Core MVM at transistor level: closed form, quantisation, backward, energy, non-ideal corners."""

import json
import subprocess
import sys
import warnings
from dataclasses import replace

import mvm_reference as ref  # the code checks' reference, shared with benchmarks/codes_cases
import numpy as np
import pytest
from mvm_reference import C_I_F, G_MAX_S, G_MIN_S, MIN_HIT, READ_PULSE_SMALL_S

from pycim import assumptions
from pycim.cim.request import MvmRequest
from pycim.dispatch import run_mvm
from pycim.errors import SettlingWarning

V_READ = assumptions.value("v_read_v")  # the read voltage the flow drives


def _x(rng, n, in_bits, batch=1):
    lim = 1 if in_bits == 1 else 2 ** (in_bits - 1) - 1
    return rng.integers(0 if in_bits == 1 else -lim, lim + 1, (batch, n))


@pytest.mark.parametrize("shape", [(5, 3), (12, 7)])
def test_ideal_settled_voltage_is_the_weighted_average(rng, shape):
    w = rng.uniform(-1, 1, shape)
    x = rng.choice([-1, 1], (1, shape[0]))
    out = run_mvm(MvmRequest(w, x, in_bits=2, out_bits=4, ideal=True,
                             read_pulse_s=READ_PULSE_SMALL_S), progress=False)
    gp, gn = np.array(out["g_pos_s"]), np.array(out["g_neg_s"])
    closed = out["v_read_v"] * (x[0] @ (gp - gn)) / (gp + gn).sum(axis=0)
    v = np.array(out["v_settled_v"])[0, 0]
    assert np.max(np.abs(v - closed)) < 0.005 * out["v_read_v"]
    assert np.ptp(closed) > 0.02 * V_READ



#: the spread problem's shape per pair: 16 x 8, but 16 outputs at 3 and 4 output bits, where
#: only the codes' least-squares gain sees a 10 % gain error and needs the mirrored 0.6-scaled
#: columns ((1,3), 24 outputs: slope -0.07 against a bound of 0.14; 48: -0.16 against 0.12).
#: (2,4) on 16 x 8 caught it only while the neuron's own offset helped: with the az switch
#: re-centred (fourteenth round) C_integ x 1.1 gave slope -0.024 against 0.058, budget 1.0;
#: on 16 x 16, -0.083 against 0.052 (budget 0.958), nominal 0.000
SPREAD_SHAPE = {(1, 3): (16, 16), (2, 4): (16, 16)}
#: read pulse per pair where the 0.6-scaled columns' lines need more than READ_PULSE_SMALL_S
#: ((2,4) on 16 x 16: tau 15 ns, the flow asks for 110 ns)
SPREAD_READ_PULSE_S = {(2, 4): 150e-9}


def _run_spread(in_bits, out_bits, shape=None, vectors=slice(None), **neuron):
    shape = shape or SPREAD_SHAPE.get((in_bits, out_bits), (16, 8))
    fs = ref.matched_fs_v(in_bits)
    w, x = ref.spread_problem(in_bits, out_bits, *shape, fs_v=fs)
    x = x[vectors]
    with ref.neuron_defaults(**neuron), warnings.catch_warnings():
        warnings.simplefilter("error", SettlingWarning)
        out = run_mvm(MvmRequest(w, x, in_bits, out_bits, ideal=True, prog_tol_s=0.0,
                                 adc_full_scale_v=fs, read_pulse_s=SPREAD_READ_PULSE_S.get(
                                     (in_bits, out_bits), READ_PULSE_SMALL_S)),
                      progress=False)
    return out, ref.reference_y(out, in_bits, out_bits, fs), fs


PAIRS = [(1, 3), (2, 4), (4, 6), (4, 8)]


@pytest.fixture(scope="session")  # shared on one worker: tests/conftest.py
def spread_runs():
    """Nominal runs at every (in, out) pair, shared by the code tests and the offset mutation."""
    return {p: _run_spread(*p) for p in PAIRS}


@pytest.mark.parametrize("in_bits,out_bits", [(1, 3), (2, 4), (4, 6), (4, 8)] + [
    pytest.param(8, 6, marks=pytest.mark.xfail(
    reason="one-phase 8-bit inputs integrate 127 windows and the neuron's offset and switch "
    "charge accumulate: codes 1.4-2.3 LSB low with the simulated programming error's "
    "conductances (issue 17: two-phase inputs and auto-zero)", strict=False, run=False))])
def test_codes_equal_ideal_quantisation(spread_runs, in_bits, out_bits, capsys):
    """Transistor-level neurons on an ideal array: codes over at least half the code range
    against the independent reference, within +-1 LSB of floor(y) for >= 95 % of outputs and,
    for >= 95 %, exactly floor((1 + g) y + e) for one gain and offset inside the budget."""
    if (in_bits, out_bits) in spread_runs:
        out, y, fs = spread_runs[(in_bits, out_bits)]
    else:  # 8-bit inputs: 127 windows per vector, so a narrower array
        out, y, fs = _run_spread(in_bits, out_bits, shape=(16, 4))
    code = np.array(out["code"])
    half = 2 ** (out_bits - 1)  # half the 2^out_bits codes
    assert np.ptp(y) >= half and np.ptp(code) >= half, (y, code)
    assert out["lsb"] == pytest.approx(ref.lsb_line_v(out_bits, fs), rel=1e-12)
    np.testing.assert_allclose(out["y_ideal"], y, rtol=1e-9, atol=1e-9)  # the code's closed form
    budget = ref.budget(in_bits, out_bits, fs)
    score = ref.code_check(code, y, out_bits, budget)
    with capsys.disabled():
        print(f"\n({in_bits},{out_bits}) y {y.min():.1f}..{y.max():.1f} LSB, budget (offset, "
              f"gain, per-output) {np.round(budget, 4).tolist()}: {score}")
    assert score["pm1"] >= MIN_HIT, (code, y)
    assert score["budget"] >= MIN_HIT, (code, y)
    assert abs(score["bias"]) <= score["bias_max"], (code, y)
    assert abs(score["gain"]) <= score["gain_max"], (code, y)
    assert not ref.caught(score)


@pytest.mark.parametrize("in_bits,out_bits", PAIRS)
def test_code_check_catches_a_one_code_offset(spread_runs, in_bits, out_bits, capsys):
    """Mutation (post-processing): every code one step up, or down. The budget criterion must
    fall below 95 % or the mean error leave its bound; the +-1 LSB criterion alone cannot see
    it (printed)."""
    out, y, fs = spread_runs[(in_bits, out_bits)]
    for step in (1, -1):
        score = ref.code_check(np.array(out["code"]) + step, y, out_bits,
                            ref.budget(in_bits, out_bits, fs))
        with capsys.disabled():
            print(f"\n({in_bits},{out_bits}) codes {step:+d}: {score}")
        assert ref.caught(score), (step, score)



@pytest.mark.parametrize("in_bits,out_bits,split", [(6, 8, (3, 2)), (8, 10, (4, 3))])
def test_two_phase_code_check_has_teeth(in_bits, out_bits, split):
    """The mvm_codes benchmark's two-phase criterion, no simulation: on the spread problem's
    conductances (one side G_min + |w| (G_max - G_min), the other G_min, written out here),
    ideal phase quantisers pass it; a 10 % low gain in both phases fails the +-1 LSB share and
    the budget share; one code up in the high phase (2^L in the output) fails the +-1 LSB
    share (not the budget box: the high phase's offset budget is > 1 of its LSBs). The split
    is the paper's (8 bits: 4 + 3 magnitude bits) and pycim's agrees with it."""
    from pycim.cim.phases import split_bits

    assert ref.split_bits(in_bits) == split == split_bits(in_bits)
    fs = ref.matched_fs_two_phase_v(in_bits)
    w, x = ref.spread_problem_two_phase(in_bits, out_bits, 16, 16, fs)
    gp = G_MIN_S + np.clip(w, 0, None) * (G_MAX_S - G_MIN_S)
    gn = G_MIN_S + np.clip(-w, 0, None) * (G_MAX_S - G_MIN_S)
    y_hi, y_lo, q = ref.reference_two_phase(gp, gn, x, in_bits, out_bits, fs)
    y = 2 ** split[1] * y_hi + y_lo
    assert np.ptp(y) >= 2 ** (out_bits - 1) and np.ptp(q) >= 2 ** (out_bits - 1)
    b_p = out_bits - split[1]

    def check(scale=1.0, hi_step=0):
        code = ref.shift_add(ref.quantise(y_hi / scale, b_p) + hi_step,
                             ref.quantise(y_lo / scale, b_p), in_bits, out_bits)
        return ref.code_check_two_phase(code, y_hi, y_lo, in_bits, out_bits, fs)

    ok = check()
    assert ok["pm1"] == 1.0 and ok["budget"] == 1.0 and ok["bias"] == 0.0
    gain = check(scale=1.1)
    assert gain["pm1"] < MIN_HIT and gain["budget"] < MIN_HIT, gain
    # one code up in the high phase: the +-1 LSB share sees it; the budget box does not,
    # since its offset allowance for the shift-added code (both phases' neuron offsets, the
    # high phase's x 2^L) exceeds the 2^L codes that one high-phase code moves
    hi = check(hi_step=1)
    assert hi["pm1"] < MIN_HIT
    assert hi["bias_max"] > 2 ** split[1] and not ref.caught(hi), hi

@pytest.mark.parametrize("in_bits,out_bits", [(1, 3), (2, 4), (4, 6), (4, 8)])
def test_code_check_catches_integration_capacitor_10_percent_off(in_bits, out_bits, capsys):
    """Mutation (circuit): the neuron built with C_integ x 1.1 (the deck's capacitor, the DAC
    levels the schedule derives from it and the LSB the flow reports) converts 10 % low. The
    flow's own y_ideal follows the mutation; the independent reference does not, and the
    budget criterion must fall below 95 %, or the mean error or the codes' least-squares gain
    leave their bounds (:func:`mvm_reference.gain_check`: at 3 output bits the box cannot see
    a 10 % gain, the slope can). Above 4 output bits the first vector alone (x = m s: every
    target, its boundary targets among them, at its designed value) so that the mutation
    costs one transient; at 3 and 4 bits the slope needs all three (and 16 outputs:
    :data:`SPREAD_SHAPE`)."""
    vectors = slice(None) if out_bits <= 4 else slice(0, 1)
    out, y, _ = _run_spread(in_bits, out_bits, vectors=vectors, c_integ_f=1.1 * C_I_F)
    fs = ref.matched_fs_v(in_bits)
    assert out["lsb"] == pytest.approx(1.1 * ref.lsb_line_v(out_bits, fs), rel=1e-9)  # applied
    score = ref.code_check(out["code"], y, out_bits, ref.budget(in_bits, out_bits, fs))
    with capsys.disabled():
        print(f"\n({in_bits},{out_bits}) C_integ x 1.1: {score}")
    assert ref.caught(score), score


def _backward_problem(n_out=6, n_cols=8, in_bits=4, out_bits=6):
    """Backward (``row_pair``) weights and inputs whose outputs span the code range, chosen
    deterministically (exact conductances: ``prog_tol_s=0``).

    The inputs drive the n_cols source-lines; weight row i's G+ and G- bit-lines are each
    sensed by a neuron and output i is the difference of their codes. Column signs alternate,
    s = (+1, -1, ...); row i's weights are s_j c_i, so with x = m s the G+ line settles to
    Vread r(c_i) per window and the G- line to -Vread r(c_i) (as many + as - columns),
    r(c) = c (Gmax - Gmin) / (2 Gmin + (Gmax - Gmin) |c|); c_i is solved from the target
    t_i = windows Vread r(c_i) / LSB of the G+ neuron: 0.95 of the code range, +-0.55, -0.3,
    +0.15, -0.8 of that. Vectors: x = m s, -m s, and m s with every other pair of columns at
    m - 2 (another plane pattern)."""
    m = 2 ** (in_bits - 1) - 1
    j = np.arange(n_cols)
    s = np.where(j % 2 == 0, 1, -1)
    y_per_r = assumptions.value("v_read_v") * ref.total_weight(in_bits) / ref.lsb_line_v(out_bits)
    t1 = 0.95 * min(y_per_r, 2 ** (out_bits - 1))
    t = t1 * np.resize([1.0, -1.0, 0.55, -0.3, 0.15, -0.8], n_out)
    r = t / y_per_r
    c = np.sign(r) * 2 * G_MIN_S * np.abs(r) / ((G_MAX_S - G_MIN_S) * (1 - np.abs(r)))
    w = c[:, None] * s[None, :]
    x = np.array([m * s, -m * s, np.where(j % 4 < 2, m, m - 2) * s])
    return w, x


def _reference_backward_y(out, in_bits, out_bits):
    """Backward ``row_pair`` reference in LSB, written out independently: bit-line r of row i
    (G+ or G-) settles per plane n to Vread sum_j p_nj G_ij / sum_j G_ij (the source-lines
    driven, the bit-line floating); each neuron integrates sum_n w_n of that. Returns
    (y of the G+ neurons, y of the G- neurons); the output code is the difference."""
    gp, gn, x = np.array(out["g_pos_s"]), np.array(out["g_neg_s"]), np.array(out["x"])
    v_read = assumptions.value("v_read_v")
    yp = np.zeros((x.shape[0], gp.shape[0]))
    yn = np.zeros_like(yp)
    for n in range(max(in_bits - 1, 1)):
        plane = ((np.abs(x) >> n) & 1) * np.sign(x)
        yp += ref.plane_weight(n) * v_read * (plane @ gp.T) / gp.sum(axis=1)
        yn += ref.plane_weight(n) * v_read * (plane @ gn.T) / gn.sum(axis=1)
    return yp / ref.lsb_line_v(out_bits), yn / ref.lsb_line_v(out_bits)


def _run_backward(vectors=slice(None), **neuron):
    w, x = _backward_problem()
    x = x[vectors]
    with ref.neuron_defaults(**neuron), warnings.catch_warnings():
        warnings.simplefilter("error", SettlingWarning)
        # its weakest bit-lines sum 9.3 uS at v_read 0.1 V, 8.5 uS at 0.2 V (the weights are
        # solved for the targets): tau <= 513 fF / 8.5 uS = 60 ns, 0.1 % in 6.9 tau (the flow
        # checks it)
        out = run_mvm(MvmRequest(w, x, 4, 6, direction="backward", ideal=True, prog_tol_s=0.0,
                                 read_pulse_s=450e-9), progress=False)
    return out, *_reference_backward_y(out, 4, 6)


def test_backward_uses_the_same_array(capsys):
    """Backward on the forward array (ideal array, transistor-level neurons, 4-bit inputs,
    6-bit outputs): settled bit-line differences against the closed form; codes over at least
    half the code range against the independent reference with the forward tests' budget (two
    neurons per output); the same conductances as forward."""
    out, yp, yn = _run_backward()
    gp, gn = np.array(out["g_pos_s"]), np.array(out["g_neg_s"])
    x0 = np.array(out["x"])[0]
    p0 = (np.abs(x0) & 1) * np.sign(x0)  # LSB plane of the first vector
    v = np.array(out["v_settled_v"])[0, 0]
    closed = V_READ * ((gp @ p0) / gp.sum(1) - (gn @ p0) / gn.sum(1))
    assert np.max(np.abs(v - closed)) < 0.005 * V_READ
    code = np.array(out["code"])
    assert code.shape == (3, 6)
    half = 2 ** (6 - 1)
    assert np.ptp(yp - yn) >= half and np.ptp(code) >= half, (yp - yn, code)
    assert out["lsb"] == pytest.approx(ref.lsb_line_v(6), rel=1e-12)
    np.testing.assert_allclose(out["y_ideal"], yp - yn, rtol=1e-9, atol=1e-9)
    budget = ref.budget(4, 6)
    score = ref.code_check(code, yp, 6, budget, y_neg=yn)
    with capsys.disabled():
        print(f"\nbackward (4,6) y {np.min(yp - yn):.1f}..{np.max(yp - yn):.1f} LSB, codes "
              f"{code.tolist()}: {score}")
    assert score["pm1"] >= MIN_HIT, (code, yp - yn)
    assert score["budget"] >= MIN_HIT, (code, yp, yn)
    assert abs(score["bias"]) <= score["bias_max"], (code, yp, yn)
    w, _ = _backward_problem()
    # one array: a forward request of the same weights programs the same conductances (its
    # programming step is the transistor-level flow's; the macro engine reports it without a
    # transient, tests/test_macro_engine.py checks the two engines' conductances equal)
    fwd = run_mvm(MvmRequest(w, np.ones((1, 6), int), 1, 3, ideal=True, prog_tol_s=0.0,
                             read_pulse_s=READ_PULSE_SMALL_S, engine="macro"), progress=False)
    assert fwd["g_pos_s"] == out["g_pos_s"] and fwd["g_neg_s"] == out["g_neg_s"]


def test_backward_code_check_catches_integration_capacitor_10_percent_off(capsys):
    """Mutation (circuit), backward: every neuron built with C_integ x 1.1 (the fixture of the
    forward mutation test) converts 10 % low; the backward budget check must catch it, on the
    first vector alone (x = m s: every target at its designed value; one transient)."""
    out, yp, yn = _run_backward(vectors=slice(0, 1), c_integ_f=1.1 * C_I_F)
    assert out["lsb"] == pytest.approx(1.1 * ref.lsb_line_v(6), rel=1e-9)  # applied
    score = ref.code_check(out["code"], yp, 6, ref.budget(4, 6), y_neg=yn)
    with capsys.disabled():
        print(f"\nbackward (4,6) C_integ x 1.1: {score}")
    assert ref.caught(score), score


def test_transposable_mapping_backward_closed_form(rng):
    """Transposable mapping, ideal: backward row 2i settles to the forward form on W^T."""
    w = rng.uniform(-1, 1, (5, 7))
    x = rng.choice([-1, 1], (1, 7))
    out = run_mvm(MvmRequest(w, x, 2, 5, direction="backward", ideal=True, mapping="transposable",
                             read_pulse_s=READ_PULSE_SMALL_S), progress=False)
    gp, gn = np.array(out["g_pos_s"]), np.array(out["g_neg_s"])
    closed = V_READ * ((gp - gn) @ x[0]) / (gp + gn).sum(axis=1)
    v = np.array(out["v_settled_v"])[0, 0]
    assert v.shape == (5,)
    assert np.max(np.abs(v - closed)) < 0.005 * V_READ
    assert np.ptp(closed) > 0.02 * V_READ


def test_backward_on_w_equals_forward_on_w_transposed(rng, capsys):
    """TNSA transposability at transistor level (SKY130 access FETs, wire R/C, transistor
    neurons): backward on the programmed W gives the codes of forward on W^T within 1 LSB.
    Exact conductances (prog_tol_s=0) so the two arrays are each other's transpose and only
    the circuit differs (BL- vs SL-side driving and sensing, FET orientation, wires)."""
    w = rng.uniform(-1, 1, (6, 8))
    x = _x(rng, 8, 4)
    # the full scale that puts the outputs on the same share of the code range (max |y| ~ 9
    # LSB) at any read voltage: the 1 LSB bound is ~11 % of the largest output
    fs = round(assumptions.value("neuron_adc_fs_v") * V_READ / 0.1, 9)
    kw = dict(mapping="transposable", prog_tol_s=0.0, read_pulse_s=READ_PULSE_SMALL_S,
              adc_full_scale_v=fs)
    bwd = run_mvm(MvmRequest(w, x, 4, 6, direction="backward", **kw), progress=False)
    fwd = run_mvm(MvmRequest(w.T.copy(), x, 4, 6, **kw), progress=False)
    cb, cf = np.array(bwd["code"]), np.array(fwd["code"])
    with capsys.disabled():
        print(f"\nbackward(W) {cb.tolist()}\nforward(WT) {cf.tolist()}\n"
              f"ideal       {np.round(bwd['y_ideal'], 2).tolist()}")
    np.testing.assert_allclose(bwd["y_ideal"], fwd["y_ideal"], rtol=1e-12, atol=1e-12)
    assert np.abs(cb - cf).max() <= 1
    assert np.ptp(cb) >= 2
    # the macro engine's energy of the same transposable MVMs: the 2 x 2 blocks double the
    # floating lines (the unsensed copies), which its column switches and word-line cells
    # count (until the twenty-ninth round they did not: 7 % low at 8 x 8)
    for req, spice in ((MvmRequest(w, x, 4, 6, direction="backward", **kw), bwd),
                       (MvmRequest(w.T.copy(), x, 4, 6, **kw), fwd)):
        macro = run_mvm(replace(req, engine="macro"), progress=False)
        assert macro["energy_j"]["total"] == pytest.approx(spice["energy_j"]["total"], rel=0.05)


def test_energy_accounting(rng):
    """The array energy equals the closed-form dissipation sum G (V_row - V_line)^2 over every
    input window (ideal case: linear cells, ideal drivers). The groups against each source's
    own integral of V * I, C V^2 and the OTA bias: tests/test_energy_independent.py."""
    w = rng.uniform(-1, 1, (6, 5))
    x = rng.choice([-1, 1], (1, 6))
    out = run_mvm(MvmRequest(w, x, 2, 4, ideal=True), progress=False)
    e = out["energy_j"]
    from pycim.netlist.neuron import NeuronSpec, input_windows, mvm_schedule

    sched = mvm_schedule(NeuronSpec(), 2, 4)
    t_on = sum(t1 - t0 for _, _, t0, t1 in input_windows(sched))
    gp, gn = np.array(out["g_pos_s"]), np.array(out["g_neg_s"])
    v_line = np.array(out["v_settled_v"])[0, 0]
    v_rows_p, v_rows_n = V_READ * x[0], -V_READ * x[0]
    p = (gp * (v_rows_p[:, None] - v_line[None, :]) ** 2).sum() + \
        (gn * (v_rows_n[:, None] - v_line[None, :]) ** 2).sum()
    assert e["array"] == pytest.approx(p * t_on, rel=0.05)
    assert e["neuron"] > 0 and e["total"] > e["array"]


# Budget of the realistic case against the closed form plus the fitted non-idealities of the
# packaged macro-model (pycim/macro/default_model.json), in LSB of the 6-bit output.
#
# Which fitted terms: the cells' series resistance (effective conductances G / (1 + G r_series),
# r_series = 3.9 kOhm), the line's settling and memory of the previous plane, the line (held,
# per plane) and per-sample offsets (b_line, b_g, b_ig; b0) and the ADC
# gain and offset. Not the line-gain terms a0, a_rows, a_g, a_rg, a_cubic: the fit saw per-window
# lines of -0.061..+0.044 V (its ``ranges.v_window_v``), |u| <= 0.6, on random weights whose
# outputs sit within a few LSB of zero, where a few % of gain is a fraction of an LSB, so those
# terms are not determined by their data. Here (|u| up to 0.95) they predict a gain ~10 % low
# (the packaged model's y is printed beside the codes: 22.9 / -24.8 where the circuit gives
# 26 / -27 and the target is +-26.6; first run of this test, the finding is reported in issue
# 20's closing note); they are left out rather than budgeted, since a 10 % budget would let
# the mutation below pass.
#: The fit's own residual on its training MVMs (tt, 27 C, 16-128 rows, 2-4 / 4-8 bits): codes
#: RMS 0.55 LSB, max 4, all of the max at 4-bit in / 8-bit out; at 6 output bits max 1
#: (`pycim fit characterization/results/fit`, stored as fits.codes of the packaged model). A
#: max code error of 1 with floor on both sides: analog error < 1 LSB.
MACRO_FIT_ERR_LSB = 1.0
#: ss lies outside the fitted corners (tt only). The kept non-idealities come from the access
#: FETs', drivers' and wires' resistance and the neuron's offsets; the ss corner raises the
#: FETs' on-resistance (higher |Vth|, lower mobility) and slows the OTA. Allocation: the corner
#: changes each output's fitted deviation from the ideal closed form by up to half of it
#: (per output, |y_model - y_closed|, <= 1.3 LSB here), and the neuron's budget (ref.budget:
#: offset, gain, per-output) is counted a second time for the slower OTA.
SS_EXTRA_FRAC = 0.5


def _macro_y(out, in_bits, out_bits, n_rows, gain_terms=True):
    """Continuous output (LSB) the packaged macro-model predicts for a forward run's programmed
    conductances and inputs: effective conductances, the driven rows' sag through the drive
    resistance, per plane, the active-fraction offsets (mean field and each line's own share),
    line transfer, ADC gain and offset
    (pycim/macro/model.py, module docstring), written out here; ``gain_terms=False`` drops the
    line-gain terms a0, a_rows, a_g, a_rg, a_cubic. ``n_rows``: driven physical rows."""
    from pycim.macro.model import MacroModel

    m = MacroModel.load()
    if not gain_terms:
        m = m.with_(line={**m.line, **{k: 0.0 for k in ("a0", "a_rows", "a_g", "a_rg",
                                                         "a_cubic")}})
    gp, gn, x = np.array(out["g_pos_s"]), np.array(out["g_neg_s"]), np.array(out["x"])
    gpe, gne = m.effective_g_s(gp), m.effective_g_s(gn)
    g_sum = (gp + gn).sum(axis=0)
    # the held plane weights, and the line's memory of the previous plane: a line that does
    # not settle in the read pulse (s = 1 - exp(-t_track g_sum / C)) keeps c = k_mem (1 - s)
    # of it, so plane j weighs sum_{n >= j} w_n c^(n - j)
    ln = m.line
    c_line = ln["c_settle_f"] + ln["c_settle_row_f"] * n_rows
    c_mem = ln["k_mem"] * np.exp(-m.timing["t_track_s"] * g_sum / c_line)
    n_pl = max(in_bits - 1, 1)
    # the droop per sample of the model's own effective capacitances (a model fitted before
    # the assumptions' values were remeasured keeps those it was fitted with)
    r_m = m.c_hold_eff_f / (m.c_hold_eff_f + m.c_sample_eff_f)
    w_pl = [sum(r_m ** k for k in range(1, 2 ** n + 1)) for n in range(n_pl)]
    v_e = np.zeros((x.shape[0], gp.shape[1]))
    act = np.zeros((3, x.shape[0], gp.shape[1]))
    # each driven row (G+ rows at +x, G- rows at -x) behind r_drive + r_drive_cell n_out: its
    # voltage sags by the current it sends into the floating source-lines, solved here by
    # fixed-point iteration (not the model's linear solve)
    r_row = ln["r_drive_ohm"] + ln["r_drive_cell_ohm"] * gp.shape[1]
    g_rows = np.vstack([gpe, gne])
    s_col = g_rows.sum(axis=0)
    # the active fractions, mean field over the array (programmed conductances): the share of
    # the array's conductance driven away from Vref, and the same weighted by each row's own
    # conductance / 1 mS
    g_all = (gp + gn).sum()
    q_act = (gp + gn).sum(axis=1) / g_all
    q_load = (gp.sum(axis=1) ** 2 + gn.sum(axis=1) ** 2) / g_all / 1e-3
    # and each source-line's own share against that mean field, times the driven rows / 256
    q_line = (gp + gn) / (gp + gn).sum(axis=0)
    for j in range(n_pl):
        plane = ((np.abs(x) >> j) & 1) * np.sign(x)
        w_j = sum(w_pl[n] * c_mem ** (n - j) for n in range(j, n_pl))
        u = m.v_read_v * np.hstack([plane, -plane]).astype(float)
        v = (u @ g_rows) / s_col
        for _ in range(1000):
            row = (u + r_row * (v @ g_rows.T)) / (1.0 + r_row * g_rows.sum(axis=1))
            v_new = (row @ g_rows) / s_col
            done = np.max(np.abs(v_new - v)) < 1e-13
            v = v_new
            if done:
                break
        else:
            raise AssertionError("drive sag: no fixed point")
        v_e += w_j * v
        act[0] += w_j * (np.abs(plane) @ q_act)[:, None]
        act[1] += w_j * (np.abs(plane) @ q_load)[:, None]
        act[2] += w_j * (np.abs(plane) @ q_line - (np.abs(plane) @ q_act)[:, None]) \
            * n_rows / 256
    # the hold pedestal scales with the cells: n_rows on each line x gp.shape[1] lines
    v_line = m.line_transfer(v_e, in_bits, n_rows, g_sum, act, n_cells=gp.shape[1])
    assert not m.adc.get("inl_lsb", {}).get(str(out_bits))  # no INL table to apply
    lsb = m.lsb_v(out_bits)
    return m.adc["gain"] * v_line / lsb + m.adc["offset_lsb"], m


def _nonideal_check(corner, vectors=slice(None), **neuron):
    """Run the realistic case (16 x 8, 4/6 bits, spread inputs) and score it against the
    closed form plus the fitted non-idealities (see the budget above)."""
    in_bits, out_bits, n_rows = 4, 6, 16
    w, x = ref.spread_problem(in_bits, out_bits, n_in=n_rows, n_out=8)
    x = x[vectors]
    req = {"in_bits": in_bits, "out_bits": out_bits, "corner": corner}
    with ref.neuron_defaults(**neuron):
        out = run_mvm(MvmRequest(w, x, **req), progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        macro = run_mvm(MvmRequest(w, x, engine="macro", **req), progress=False)
    msgs = [str(c.message) for c in caught]
    assert (corner == "tt") != any(f"corner {corner}" in t for t in msgs), msgs  # in its fit?
    assert macro["g_pos_s"] == out["g_pos_s"] and macro["g_neg_s"] == out["g_neg_s"]
    y_pack, m = _macro_y(out, in_bits, out_bits, 2 * n_rows)  # row_pair: G+, G- rows driven
    np.testing.assert_array_equal(macro["code"], ref.quantise(y_pack, out_bits))  # same model
    y_m, _ = _macro_y(out, in_bits, out_bits, 2 * n_rows, gain_terms=False)
    y0 = ref.reference_y(out, in_bits, out_bits)  # ideal closed form on the same conductances
    code = np.array(out["code"])
    off, gain, jit = ref.budget(in_bits, out_bits)
    bound = MACRO_FIT_ERR_LSB + off + gain * np.abs(y_m) + jit
    if corner != "tt":
        bound = bound + SS_EXTRA_FRAC * np.abs(y_m - y0) + off + gain * np.abs(y_m) + jit
    lo, hi = ref.quantise(y_m - bound, out_bits), ref.quantise(y_m + bound, out_bits)
    hit = float(np.mean((code >= lo) & (code <= hi)))
    bias = float(np.mean(code - ref.quantise(y_m, out_bits)))
    # the fit's code RMS on its forward MVMs (these are forward runs)
    c_rms = m.fits["codes"].get("by_direction", {}).get("forward", m.fits["codes"])["rms"]
    bias_max = off * (1 if corner == "tt" else 2) + 3 * c_rms / np.sqrt(code.size)
    return {"out": out, "code": code, "y_m": y_m, "y_pack": y_pack, "y0": y0, "bound": bound,
            "hit": hit, "bias": bias, "bias_max": bias_max}


@pytest.mark.parametrize("corner", ["tt", pytest.param("ss", marks=pytest.mark.heavy)])
def test_nonideal_sky130_with_wires_completes(corner, capsys):
    """The realistic transistor-level case (SKY130 access FETs and drivers, RRAM cells, wire
    R/C, transistor neurons; 16 x 8, 4-bit in / 6-bit out, default programming error) against
    the closed form plus the fitted non-idealities, on inputs whose outputs span at least half
    the code range.

    Per output the bound is B = fit error (1 LSB) + the neuron's budget (offset + gain |y| +
    per-output term, ref.budget) [+ at ss: half the fitted deviation from the closed form + the
    neuron budget again]; >= 95 % of the codes must lie in [floor(y_m - B), floor(y_m + B)]
    and the mean code error within the offset budget + 3 x 0.39 / sqrt(n). A 10 % gain error
    moves the +-25 LSB outputs by ~2.5 LSB, beyond B (1.2-1.4 LSB at tt, printed), on at
    least 4 of the 24 outputs: test_nonideal_catches_integration_capacitor_10_percent_off."""
    r = _nonideal_check(corner)
    code, y_m = r["code"], r["y_m"]
    with capsys.disabled():
        print(f"\n[{corner}] codes {code.tolist()}\n expected {np.round(y_m, 2).tolist()}\n "
              f"packaged model (with line-gain terms) {np.round(r['y_pack'], 2).tolist()}\n "
              f"bound {np.round(r['bound'], 2).tolist()}\n in-bound {r['hit']:.3f}, bias "
              f"{r['bias']:+.3f} (max {r['bias_max']:.3f}), fitted deviation from the closed "
              f"form max {np.abs(y_m - r['y0']).max():.2f} LSB")
    half = 2 ** (6 - 1)
    assert np.ptp(y_m) >= half and np.ptp(code) >= half, (y_m, code)
    assert np.all(np.isfinite(r["out"]["v_settled_v"]))
    assert r["hit"] >= MIN_HIT, (code, y_m, r["bound"])
    assert abs(r["bias"]) <= r["bias_max"], (r["bias"], r["bias_max"])
    assert r["out"]["energy_j"]["wordlines"] > 0 and r["out"]["energy_j"]["drivers"] > 0


@pytest.mark.slow
def test_nonideal_catches_integration_capacitor_10_percent_off(capsys):
    """Mutation (circuit) on the realistic case at tt: every neuron built with C_integ x 1.1
    (the code tests' fixture) converts 10 % low; the check above must fail, on the first
    vector alone (x = m s: every target at its designed value; one transient)."""
    r = _nonideal_check("tt", vectors=slice(0, 1), c_integ_f=1.1 * C_I_F)
    with capsys.disabled():
        print(f"\n[tt, C_integ x 1.1] codes {r['code'].tolist()}\n in-bound {r['hit']:.3f}, "
              f"bias {r['bias']:+.3f} (max {r['bias_max']:.3f})")
    assert r["hit"] < MIN_HIT or abs(r["bias"]) > r["bias_max"], r


@pytest.mark.parametrize("args,msg", [
    (["--in-bits", "9"], "--in-bits"),
    (["--out-bits", "0"], "--out-bits"),
    (["--corner", "xx"], "--corner"),
    (["--mapping", "diagonal"], "--mapping"),
])
def test_cli_bad_input_exit_2_no_file(tmp_path, args, msg):
    np.save(tmp_path / "W.npy", np.zeros((3, 2)))
    np.save(tmp_path / "X.npy", np.array([1, 0, -1]))
    out = tmp_path / "o.json"
    p = subprocess.run([sys.executable, "-m", "pycim.cli", "mvm", "--weights", str(tmp_path / "W.npy"),
                        "--x", str(tmp_path / "X.npy"), "--json", str(out), *args],
                       capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr and "Traceback" not in p.stderr
    assert not out.exists()


@pytest.mark.parametrize("w,x,msg", [
    (np.full((3, 2), 1.5), np.array([1, 0, -1]), "[-1, 1]"),
    (np.zeros((3, 2)), np.array([1, 0]), "shape"),
    (np.zeros((3, 2)), np.array([9, 0, 0]), "[-7, 7]"),
    (np.full((3, 2), np.nan), np.array([1, 0, -1]), "NaN"),
    (np.zeros((3, 2)), np.array([0.5, 0, 0]), "integers"),
])
def test_request_validation(w, x, msg):
    from pycim.errors import InputError

    with pytest.raises(InputError) as exc:
        MvmRequest(w, x, in_bits=4)
    assert msg in str(exc.value)


def test_cli_writes_contract_keys(tmp_path):
    np.save(tmp_path / "W.npy", np.array([[0.5, -0.5], [1.0, 0.25], [-1.0, 0.0]]))
    np.save(tmp_path / "X.npy", np.array([1, 0, -1]))
    out = tmp_path / "o.json"
    p = subprocess.run([sys.executable, "-m", "pycim.cli", "mvm", "--weights", str(tmp_path / "W.npy"),
                        "--x", str(tmp_path / "X.npy"), "--in-bits", "2", "--out-bits", "4",
                        "--ideal", "--json", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    for k in ("g_pos_s", "g_neg_s", "v_read_v", "v_ref_v", "x", "v_settled_v", "code", "y_ideal",
              "lsb", "energy_j", "macs", "energy_per_mac_j", "latency_s", "engine", "pycim_version"):
        assert k in d
    assert set(d["energy_j"]) >= {"total", "array", "neuron"}
    assert np.array(d["v_settled_v"]).shape == (1, 1, 2)
    assert np.array(d["g_pos_s"]).shape == (3, 2) and d["macs"] == 6


def test_vacask_engine_agrees_on_codes(capsys):
    """Second simulator on the same transistor-level neurons (ideal array): codes within 1 LSB,
    settled lines within 0.2 mV + 1e-3 v_read, every energy group within 2 %, on inputs whose
    codes span at least half the code range (2-bit inputs, 4-bit outputs, the neuron's full
    scale matched to one window as in the code tests), so the agreement is not empty."""
    fs = ref.matched_fs_v(2)
    w, x = ref.spread_problem(2, 4, n_in=8, n_out=8, fs_v=fs)
    x = x[:2]  # x = m s and its mirror -m s: the targets and their negatives
    kw = dict(ideal=True, prog_tol_s=0.0, adc_full_scale_v=fs, read_pulse_s=READ_PULSE_SMALL_S)
    a = run_mvm(MvmRequest(w, x, 2, 4, **kw), progress=False)
    b = run_mvm(MvmRequest(w, x, 2, 4, engine="vacask", **kw), progress=False)
    assert b["engine"] == "vacask"
    ca, cb = np.array(a["code"]), np.array(b["code"])
    with capsys.disabled():
        print(f"\nngspice {ca.tolist()}\nvacask  {cb.tolist()}")
    assert a["lsb"] == b["lsb"] == pytest.approx(ref.lsb_line_v(4, fs), rel=1e-12)
    half = 2 ** (4 - 1)
    assert np.ptp(ca) >= half and np.ptp(cb) >= half, (ca, cb)
    assert np.all(np.abs(ca - cb) <= 1)
    # the engines' own step and tolerance control (0.2 mV) + 1e-3 v_read for the BSIM4
    # implementations, as tests/test_held_out.py
    np.testing.assert_allclose(a["v_settled_v"], b["v_settled_v"],
                               atol=0.2e-3 + 1e-3 * assumptions.value("v_read_v"))
    # every energy group, the neurons' among them: their latches start cleared (the reset
    # phase's NFET) in both engines; VACASK's operating point left them metastable before
    # (+30 % of neuron energy on a 16 x 16 MVM: benchmarks/vacask_neuron_energy.py)
    for group, e in a["energy_j"].items():
        assert b["energy_j"][group] == pytest.approx(e, rel=0.02, abs=1e-15), group


def test_short_read_pulse_warns():
    """A 4 x 2 ideal array of 1 uS cells: each sensed line's 8 cells give 8 uS, so the hold
    capacitor (513 fF effective) settles with tau >= 64 ns: the paper's 10 ns pulse cannot
    settle it and the flow says so, with the pulse that would (tau ln 1000 + 3 edges = 446 ns).
    No simulation: the check runs before the deck (the warning is promoted to an error)."""
    from pycim.cim.request import check_settling

    g = np.full((8, 2), 1e-6)
    req = MvmRequest(np.zeros((4, 2)), np.zeros((1, 4), int), 2, 4, ideal=True,
                     read_pulse_s=10e-9)
    with pytest.warns(SettlingWarning, match="read pulse 10 ns is short"):
        err = check_settling(req, g, 1e-9)
    tau = assumptions.value("neuron_c_hold_eff_f") / 8e-6
    assert err == pytest.approx(np.exp(-(10e-9 - 3e-9) / tau))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SettlingWarning)
        check_settling(MvmRequest(np.zeros((4, 2)), np.zeros((1, 4), int), 2, 4,
                                  read_pulse_s=500e-9), g, 1e-9)


def test_auto_zero_removes_the_neurons_mismatch_offsets():
    """Monte Carlo (3x the PDK's Pelgrom sigma on every FET, seeds 0 and 1: 16 neurons), ideal
    4 x 8 array, exact conductances, 4-bit in / 6-bit out: the codes' excess error over the
    mismatch-free run, auto-zero on against the same neuron with it off. Off, every transfer
    integrates its OTA's offset (C_s/C_i) V_os: at least the 7 windows' part e_win, in LSB,
    from the PDK's sigma (as tests/test_characterize.py writes it out). On, C_az stores it:
    what remains must be under a quarter of the off excess."""
    from pycim.specs.neuron import NeuronSpec
    from pycim.tech.sky130 import vth_mismatch_sigma_v

    rng = np.random.default_rng(7)
    w = 0.5 * rng.uniform(-1, 1, (4, 8))
    x = rng.integers(-7, 8, (2, 4))[:1]  # one vector: the offsets are the neurons', not x's
    kw = {"ideal": True, "prog_tol_s": 0.0, "read_pulse_s": 200e-9}

    def excess(auto_zero):
        with ref.neuron_defaults(auto_zero=auto_zero):
            runs = {(m, s): run_mvm(MvmRequest(w, x, 4, 6, mismatch=m, seed=s, **kw),
                                    progress=False)
                    for m, s in ((0.0, 0), (3.0, 0), (3.0, 1))}
        err = {k: np.array(o["code"]) + 0.5 - np.array(o["y_ideal"]) for k, o in runs.items()}
        rms0 = np.sqrt(np.mean(err[(0.0, 0)] ** 2))
        rms3 = np.sqrt(np.mean(np.concatenate([err[(3.0, 0)], err[(3.0, 1)]]) ** 2))
        return float(np.sqrt(max(rms3 ** 2 - rms0 ** 2, 0.0)))

    ns = NeuronSpec()
    sig_pair_v = np.sqrt(2) * vth_mismatch_sigma_v("nfet_01v8", ns.n_unit_w_um * ns.m_in * 1e-6,
                                                   ns.ota_ln_um * 1e-6)
    e_win = 3.0 * sig_pair_v * 7 * ns.gain / (2 * ns.adc_fs_v / 2 ** 6)
    on, off = excess(True), excess(False)
    print(f"\nmismatch x3: excess {on:.2f} LSB with auto-zero, {off:.2f} without (windows' "
          f"part alone {e_win:.2f})")
    assert off >= e_win  # the mismatch is applied, and enters every transfer without auto-zero
    assert 0 < on < off / 4

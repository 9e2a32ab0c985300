"""Core MVM at transistor level: closed form, quantisation, backward, energy, non-ideal corners."""

import contextlib
import json
import subprocess
import sys

import numpy as np
import pytest

from pycim import assumptions
from pycim.cim.request import MvmRequest
from pycim.dispatch import run_mvm

V_READ = 0.1


def _x(rng, n, in_bits, batch=1):
    lim = 1 if in_bits == 1 else 2 ** (in_bits - 1) - 1
    return rng.integers(0 if in_bits == 1 else -lim, lim + 1, (batch, n))


@pytest.mark.parametrize("shape", [(5, 3), (12, 7)])
def test_ideal_settled_voltage_is_the_weighted_average(rng, shape):
    w = rng.uniform(-1, 1, shape)
    x = rng.choice([-1, 1], (1, shape[0]))
    out = run_mvm(MvmRequest(w, x, in_bits=2, out_bits=4, ideal=True), progress=False)
    gp, gn = np.array(out["g_pos_s"]), np.array(out["g_neg_s"])
    closed = out["v_read_v"] * (x[0] @ (gp - gn)) / (gp + gn).sum(axis=0)
    v = np.array(out["v_settled_v"])[0, 0]
    assert np.max(np.abs(v - closed)) < 0.005 * out["v_read_v"]
    assert np.ptp(closed) > 0.02 * V_READ


# ---------------------------------------------------------------------------------------------
# Codes against an independent reference over the whole code range (issue 20, item 1)
# ---------------------------------------------------------------------------------------------
#
# The reference is written out here, not taken from the code under test: the closed form on the
# programmed conductances the run reports, the bit planes of x, and the LSB from the design
# values (C_sample, C_integ, the ADC full scale). ``out["y_ideal"]`` is computed from the same
# NeuronSpec that built the deck, so it follows a wrong C_integ and cannot catch it.

C_S_F, C_I_F = assumptions.value("neuron_c_sample_f"), assumptions.value("neuron_c_integ_f")
FS_V = assumptions.value("neuron_adc_fs_v")
G_MIN_S, G_MAX_S = assumptions.value("g_min_s"), assumptions.value("g_max_s")

# Error budget of the transistor-level neuron (integrator-referred; each term with its source).
#: OTA input offset: ota_metrics measures -0.1 mV at tt (tests/test_neuron.py, OTA test), +20 %.
#: It enters every charge transfer as (C_s/C_i) V_os and the comparator threshold once.
BUDGET_V_OS_V = 0.12e-3
#: Switch charge per transfer beyond C_s V_os: <= 2 aC (tests/test_neuron.py, charge
#: conservation per integration step), i.e. 0.02 mV on C_i per transfer.
BUDGET_Q_INJ_C = 2e-18
#: Comparator decision (finite open-loop gain in t_compare, latch kickback) and clock
#: feedthrough of the fb/cy switches onto C_i: an allocation. A 0.5/0.15 um + 0.9/0.15 um
#: transmission gate's overlap charge, ~0.3 fF x 1.8 V, is ~5 mV on 100 fF per edge before its
#: NMOS/PMOS halves cancel; 1 mV is 20 % of that left over.
BUDGET_V_CMP_V = 1.0e-3
#: OTA open-loop gain >= 65 dB (asserted in tests/test_neuron.py): each transfer leaves
#: (C_s/C_i) V_int / A0 behind, a gain error of (C_s/C_i) / A0 per transfer.
BUDGET_A0 = 10 ** (65 / 20)
#: Line sampling and DAC levels: ideal row sources and ideal DAC sources in these runs, the line
#: settles in < 1 ns of a >= 20 ns sample phase (tau = (C_line + C_s) / sum G); 0.5 % allocation.
BUDGET_GAIN_OTHER = 0.005
#: Share of outputs allowed outside the budget (the >= 95 % criterion).
MIN_HIT = 0.95


def _n_windows(in_bits):
    return 2 ** max(in_bits - 1, 1) - 1


def _lsb_line_v(out_bits, fs_v=FS_V):
    """Line-referred volts per code: integrator LSB 2 fs / 2^out_bits over C_s / C_i."""
    return 2 * fs_v / 2 ** out_bits / (C_S_F / C_I_F)


def _reference_y(out, in_bits, out_bits, fs_v=FS_V):
    """y in LSB from the run's programmed conductances and x, written out independently:
    sum over magnitude planes n of 2^n Vread sum_i p_ni (G+ - G-)_ij / sum_i (G+ + G-)_ij."""
    gp, gn, x = np.array(out["g_pos_s"]), np.array(out["g_neg_s"]), np.array(out["x"])
    v_read = assumptions.value("v_read_v")
    y = np.zeros((x.shape[0], gp.shape[1]))
    for n in range(max(in_bits - 1, 1)):
        plane = ((np.abs(x) >> n) & 1) * np.sign(x)
        y += 2 ** n * v_read * (plane @ (gp - gn)) / (gp + gn).sum(axis=0)
    return y / _lsb_line_v(out_bits, fs_v)


def _quantise(y, out_bits):
    return np.clip(np.floor(y), -(2 ** (out_bits - 1)), 2 ** (out_bits - 1) - 1)


def _budget(in_bits, out_bits, fs_v=FS_V):
    """(common offset, relative gain error, per-output jitter) in LSB that the budget above
    allows at (in_bits, out_bits). The OTA offset and the switch charge are the same in every
    neuron (no mismatch here): a common offset; the comparator term depends on each output's
    decisions: per output."""
    n_tr = _n_windows(in_bits) + out_bits - 1  # input windows + DAC packets
    k = C_S_F / C_I_F
    v_off = BUDGET_V_OS_V * (1 + n_tr * k) + n_tr * BUDGET_Q_INJ_C / C_I_F
    lsb_int_v = 2 * fs_v / 2 ** out_bits
    return (v_off / lsb_int_v, n_tr * k / BUDGET_A0 + BUDGET_GAIN_OTHER,
            BUDGET_V_CMP_V / lsb_int_v)


def _code_check(code, y, out_bits, budget):
    """Scores of ``code`` against the reference ``y`` (LSB), ``budget`` from :func:`_budget`:

    ``pm1``: share within +-1 code of the ideal quantisation floor(y);
    ``budget``: the largest share, over one common gain (1 + g), |g| <= gain budget, and one
    common offset e, |e| <= offset budget, of outputs with floor((1 + g) y + e - j) <= code <=
    floor((1 + g) y + e + j), j the per-output budget (>= 95 % required);
    ``bias``: mean(code - floor(y)) over unclipped outputs, against ``bias_max`` = offset budget
    + 3 j / sqrt(n) (per-output terms average down).
    A 10 % gain or a one-code offset lies outside the box.
    """
    off, gain, jit = budget
    code, y = np.asarray(code, float).ravel(), np.asarray(y, float).ravel()
    q = _quantise(y, out_bits)
    pm1 = float(np.mean(np.abs(code - q) <= 1))
    best = 0.0
    for g in np.linspace(-gain, gain, 21):
        for e in np.linspace(-off, off, 201):
            yy = (1 + g) * y + e
            ok = (code >= _quantise(yy - jit, out_bits)) & (code <= _quantise(yy + jit, out_bits))
            best = max(best, float(np.mean(ok)))
    inside = np.abs(y) < 2 ** (out_bits - 1) - 1
    bias = float(np.mean(code[inside] - q[inside]))
    bias_max = off + 3 * jit / np.sqrt(inside.sum())
    return {"pm1": pm1, "budget": best, "bias": bias, "bias_max": bias_max}


def _caught(score):
    return score["budget"] < MIN_HIT or abs(score["bias"]) > score["bias_max"]


def _spread_problem(in_bits, out_bits, n_in=16, n_out=8, fs_v=FS_V):
    """Weights and inputs whose outputs span the code range, chosen deterministically (exact
    conductances: the run uses ``prog_tol_s=0``).

    Row signs s_i (every third row negative); column j's weights are s_i c_j, so an input
    x = m s (every magnitude plane set) adds every row of column j with the same sign and
    y_j = windows Vread r(c_j) / LSB, r(c) = c (Gmax - Gmin) / (2 Gmin + (Gmax - Gmin) |c|),
    solved for c_j from the target y_j. Targets (first 8 columns, more columns repeat them
    scaled by 0.6): +-t1 = 0.95 of the reachable range (|r| <= 0.95) or of the code range,
    +-0.3 t1, and +-b(k) for k = floor(0.8 t1), floor(0.55 t1): b(k) = k + offset budget +
    gain budget k + 0.02, just above the code boundary k by more than the budget allows, so a
    gain 10 % low (b / 1.1 < k - 0.1) moves the code while no gain and offset in the budget
    can. Vectors: x = m s, -m s (mirrors the targets) and m s with alternate rows at
    max(m - 2, 0);
    1-bit inputs (0/1, s = +1): all rows, three quarters, half.
    """
    m = 1 if in_bits == 1 else 2 ** (in_bits - 1) - 1
    i = np.arange(n_in)
    s = np.ones(n_in, int) if in_bits == 1 else np.where(i % 3 == 1, -1, 1)
    y_per_r = assumptions.value("v_read_v") * _n_windows(in_bits) / _lsb_line_v(out_bits, fs_v)
    t1 = 0.95 * min(y_per_r, 2 ** (out_bits - 1))
    off, gain, jit = _budget(in_bits, out_bits, fs_v)
    band = [k * (1 + gain) + off + jit + 0.02 for k in (np.floor(0.8 * t1), np.floor(0.55 * t1))]
    base = np.array([t1, 0.3 * t1] + band)
    targets = np.stack([base, -base], axis=1).ravel()
    y = np.resize(targets, n_out) * np.repeat(0.6 ** np.arange(-(-n_out // 8)), 8)[:n_out]
    r = y / y_per_r
    c = np.sign(r) * 2 * G_MIN_S * np.abs(r) / ((G_MAX_S - G_MIN_S) * (1 - np.abs(r)))
    w = s[:, None] * c[None, :]
    if in_bits == 1:
        x = np.array([np.ones(n_in), i % 4 != 3, i % 2 == 0], dtype=int)
    else:
        x = np.array([m * s, -m * s, np.where(i % 2 == 0, m, max(m - 2, 0)) * s])
    return w, x


def _matched_fs_v(in_bits):
    """ADC full scale for the code-range tests. At 4 bits and more the default (0.4 V) already
    holds the largest integrated line (7 x 0.095 V x C_s/C_i = 0.33 V); with one input window
    (1- and 2-bit inputs) the largest line (0.095 V) integrates to 0.05 V, 1/8 of the default
    range, so outputs could never leave +-1 LSB. NeuRRAM sets the conversion range per layer
    (issue 17, item 6); until a request carries it, the test sets the neuron's full scale to
    C_s/C_i x Vread x windows, the largest integrated line."""
    return FS_V if in_bits >= 4 else C_S_F / C_I_F * assumptions.value("v_read_v") \
        * _n_windows(in_bits)


@contextlib.contextmanager
def _neuron_defaults(**overrides):
    """Every NeuronSpec built without these fields gets these values (the deck's neuron, its
    schedule's DAC levels and the LSB alike): a test-only change of the neuron's design."""
    from pycim.specs.neuron import NeuronSpec

    orig = NeuronSpec.__init__

    def init(self, *args, **kw):
        for k, v in overrides.items():
            kw.setdefault(k, v)
        orig(self, *args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(NeuronSpec, "__init__", init)
        yield


def _run_spread(in_bits, out_bits, shape=(16, 8), **neuron):
    fs = _matched_fs_v(in_bits)
    w, x = _spread_problem(in_bits, out_bits, *shape, fs_v=fs)
    with _neuron_defaults(adc_fs_v=fs, **neuron):
        out = run_mvm(MvmRequest(w, x, in_bits, out_bits, ideal=True, prog_tol_s=0.0),
                      progress=False)
    return out, _reference_y(out, in_bits, out_bits, fs), fs


PAIRS = [(1, 3), (2, 4), (4, 6), (4, 8)]


@pytest.fixture(scope="module")
def spread_runs():
    """Nominal runs at every (in, out) pair, shared by the code tests and the offset mutation."""
    return {p: _run_spread(*p) for p in PAIRS}


@pytest.mark.parametrize("in_bits,out_bits", PAIRS + [pytest.param(8, 6, marks=pytest.mark.xfail(
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
    assert out["lsb"] == pytest.approx(_lsb_line_v(out_bits, fs), rel=1e-12)
    np.testing.assert_allclose(out["y_ideal"], y, rtol=1e-9, atol=1e-9)  # the code's closed form
    budget = _budget(in_bits, out_bits, fs)
    score = _code_check(code, y, out_bits, budget)
    with capsys.disabled():
        print(f"\n({in_bits},{out_bits}) y {y.min():.1f}..{y.max():.1f} LSB, budget (offset, "
              f"gain, per-output) {np.round(budget, 4).tolist()}: {score}")
    assert score["pm1"] >= MIN_HIT, (code, y)
    assert score["budget"] >= MIN_HIT, (code, y)
    assert abs(score["bias"]) <= score["bias_max"], (code, y)


@pytest.mark.parametrize("in_bits,out_bits", PAIRS)
def test_code_check_catches_a_one_code_offset(spread_runs, in_bits, out_bits, capsys):
    """Mutation (post-processing): every code one step up, or down. The budget criterion must
    fall below 95 % or the mean error leave its bound; the +-1 LSB criterion alone cannot see
    it (printed)."""
    out, y, fs = spread_runs[(in_bits, out_bits)]
    for step in (1, -1):
        score = _code_check(np.array(out["code"]) + step, y, out_bits,
                            _budget(in_bits, out_bits, fs))
        with capsys.disabled():
            print(f"\n({in_bits},{out_bits}) codes {step:+d}: {score}")
        assert _caught(score), (step, score)


@pytest.mark.parametrize("in_bits,out_bits", PAIRS)
def test_code_check_catches_integration_capacitor_10_percent_off(in_bits, out_bits, capsys):
    """Mutation (circuit): the neuron built with C_integ x 1.1 (the deck's capacitor, the DAC
    levels the schedule derives from it and the LSB the flow reports) converts 10 % low. The
    flow's own y_ideal follows the mutation; the independent reference does not, and the
    budget criterion must fall below 95 % (or the mean error leave its bound)."""
    out, y, _ = _run_spread(in_bits, out_bits, c_integ_f=1.1 * C_I_F)
    fs = _matched_fs_v(in_bits)
    assert out["lsb"] == pytest.approx(1.1 * _lsb_line_v(out_bits, fs), rel=1e-9)  # applied
    score = _code_check(out["code"], y, out_bits, _budget(in_bits, out_bits, fs))
    with capsys.disabled():
        print(f"\n({in_bits},{out_bits}) C_integ x 1.1: {score}")
    assert _caught(score), score


def test_backward_uses_the_same_array(rng):
    w = rng.uniform(-1, 1, (6, 8))
    x = rng.choice([-1, 1], (1, 8))
    out = run_mvm(MvmRequest(w, x, 2, 5, direction="backward", ideal=True), progress=False)
    gp, gn = np.array(out["g_pos_s"]), np.array(out["g_neg_s"])
    v = np.array(out["v_settled_v"])[0, 0]
    closed = V_READ * ((gp @ x[0]) / gp.sum(1) - (gn @ x[0]) / gn.sum(1))
    assert np.max(np.abs(v - closed)) < 0.005 * V_READ
    assert len(out["code"][0]) == 6
    assert np.all(np.abs(np.array(out["code"][0]) - np.floor(np.array(out["y_ideal"][0]))) <= 2)
    fwd = run_mvm(MvmRequest(w, rng.choice([-1, 1], (1, 6)), 2, 5, ideal=True), progress=False)
    assert fwd["g_pos_s"] == out["g_pos_s"]  # one programming model, same seed


def test_transposable_mapping_backward_closed_form(rng):
    """Transposable mapping, ideal: backward row 2i settles to the forward form on W^T."""
    w = rng.uniform(-1, 1, (5, 7))
    x = rng.choice([-1, 1], (1, 7))
    out = run_mvm(MvmRequest(w, x, 2, 5, direction="backward", ideal=True, mapping="transposable"),
                  progress=False)
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
    bwd = run_mvm(MvmRequest(w, x, 4, 6, direction="backward", mapping="transposable",
                             prog_tol_s=0.0), progress=False)
    fwd = run_mvm(MvmRequest(w.T.copy(), x, 4, 6, mapping="transposable", prog_tol_s=0.0),
                  progress=False)
    cb, cf = np.array(bwd["code"]), np.array(fwd["code"])
    with capsys.disabled():
        print(f"\nbackward(W) {cb.tolist()}\nforward(WT) {cf.tolist()}\n"
              f"ideal       {np.round(bwd['y_ideal'], 2).tolist()}")
    np.testing.assert_allclose(bwd["y_ideal"], fwd["y_ideal"], rtol=1e-12, atol=1e-12)
    assert np.abs(cb - cf).max() <= 1
    assert np.ptp(cb) >= 2


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


@pytest.mark.parametrize("corner", ["tt", "ss"])
def test_nonideal_sky130_with_wires_completes(rng, corner, capsys):
    w = rng.uniform(-1, 1, (8, 8))
    x = _x(rng, 8, 4)
    ref = run_mvm(MvmRequest(w, x, 4, 6, ideal=True), progress=False)
    out = run_mvm(MvmRequest(w, x, 4, 6, corner=corner), progress=False)
    err = np.array(out["code"]) - np.array(ref["code"])
    v_err = np.array(out["v_settled_v"]) - np.array(ref["v_settled_v"])
    with capsys.disabled():
        print(f"\n[{corner}] non-ideal vs ideal: code error {err.tolist()}, "
              f"settled-voltage error max {np.abs(v_err).max() * 1e3:.2f} mV")
    assert np.all(np.isfinite(v_err))
    assert np.abs(v_err).max() < 0.25 * V_READ  # IR drop and FET Ron shift, not break, the MVM
    assert out["energy_j"]["wordlines"] > 0 and out["energy_j"]["drivers"] > 0


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


def test_vacask_engine_agrees_on_codes(rng):
    """Second simulator on the same transistor-level neurons (ideal array): codes within 1 LSB."""
    w = rng.uniform(-1, 1, (5, 3))
    x = rng.choice([-1, 0, 1], (1, 5))
    a = run_mvm(MvmRequest(w, x, 2, 4, ideal=True), progress=False)
    b = run_mvm(MvmRequest(w, x, 2, 4, ideal=True, engine="vacask"), progress=False)
    assert np.all(np.abs(np.array(a["code"]) - np.array(b["code"])) <= 1)
    np.testing.assert_allclose(a["v_settled_v"], b["v_settled_v"], atol=2e-4)
    assert b["engine"] == "vacask"

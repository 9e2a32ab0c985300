"""The code tests' independent reference for transistor-level MVMs on ideal arrays, shared by
tests/test_mvm.py and the ``mvm_codes`` benchmark group (benchmarks/codes_cases.py).

Nothing here is imported from the code under test: the closed form is written out on the
conductances a run reports, the LSB and the droop from the design values in
:mod:`pycim.assumptions`, and the two-phase split and per-phase full scale (below) from the
paper's description, not from :mod:`pycim.cim.phases`.
"""

from __future__ import annotations

import contextlib

import numpy as np

from pycim import assumptions

#: Read pulse for the ideal small arrays: their weakest sensed lines (10-32 cells near
#: 1 uS) settle onto the neuron's hold capacitor with tau up to ~8 ns, where a full 256-row core
#: needs < 1 ns (the flow warns, SettlingWarning; test_short_read_pulse_warns). The code checks
#: test the closed form and the neuron, not the settling, so they give the lines the time.
READ_PULSE_SMALL_S = 100e-9

# ---------------------------------------------------------------------------------------------
# Codes against an independent reference over the whole code range (issue 20, item 1)
# ---------------------------------------------------------------------------------------------
#
# The reference is written out here, not taken from the code under test: the closed form on the
# programmed conductances the run reports, the bit planes of x, the chip's scheme (plane n's
# settled line held on C_hold and sampled 2^(n-1) times, sample k seeing r^k of it), and the
# LSB from the design values (C_sample, C_integ, the ADC full scale). ``out["y_ideal"]`` is
# computed from the same NeuronSpec that built the deck, so it follows a wrong C_integ and
# cannot catch it.

C_S_F, C_I_F = assumptions.value("neuron_c_sample_f"), assumptions.value("neuron_c_integ_f")
#: Droop per sample, r = C_hold / (C_hold + C_sample) with the effective capacitances measured
#: on the line bench (benchmarks/neuron_issue17.py droop 150 250: the switches' junctions add
#: 7.4 fF to C_hold and 3 fF to C_sample; nominal 250 / 275 = 0.909, measured 0.902)
R_DROOP = assumptions.value("neuron_c_hold_eff_f") / (
    assumptions.value("neuron_c_hold_eff_f") + assumptions.value("neuron_c_sample_eff_f"))
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
#: Line sampling and DAC levels: ideal row sources and ideal DAC sources in these runs; the hold
#: capacitor settles within the read pulse (READ_PULSE_SMALL_S: > 10 tau); 0.5 % allocation.
BUDGET_GAIN_OTHER = 0.005
#: The track switch's charge injection onto C_hold when it opens, after its half-size dummies:
#: the switch's channel charge ~Cox W L V ~ 14 fF x V would be a 2.7 % gain on 535 fF; the
#: dummies take up all but its mismatch with them (allocated 1/5: 0.5 %) and 0.2 mV of it.
BUDGET_TRK_GAIN = 0.005
BUDGET_TRK_OFFSET_V = 0.2e-3
#: The integrator's starting level after the reset: rst's channel charge when it opens, ~Cox W L
#: (VDD - Vref - Vth) = 8.5 fF/um2 x 0.075 um2 x 0.4 V = 0.26 fC per device before the NMOS and
#: PMOS halves cancel, i.e. up to 2.6 mV on C_integ; allocated 1.5 mV (integrator-referred).
BUDGET_V_RESET_V = 1.5e-3
#: Share of outputs allowed outside the budget (the >= 95 % criterion).
MIN_HIT = 0.95


def n_windows(in_bits):
    """Integrations (samples) of a one-phase MVM: sum over planes of 2^(n-1)."""
    return 2 ** max(in_bits - 1, 1) - 1


def plane_weight(n):
    """Weight of magnitude plane n (0 = LSB): its 2^n samples of the held value, r^1 .. r^(2^n)."""
    return sum(R_DROOP ** k for k in range(1, 2 ** n + 1))


def total_weight(in_bits):
    """Sum of the plane weights: a line held at u for every plane integrates to gain u x this."""
    return sum(plane_weight(n) for n in range(max(in_bits - 1, 1)))


def lsb_line_v(out_bits, fs_v=FS_V):
    """Line-referred volts per code: integrator LSB 2 fs / 2^out_bits over C_s / C_i."""
    return 2 * fs_v / 2 ** out_bits / (C_S_F / C_I_F)


def reference_y(out, in_bits, out_bits, fs_v=FS_V):
    """y in LSB from the run's programmed conductances and x, written out independently:
    sum over magnitude planes n of w_n Vread sum_i p_ni (G+ - G-)_ij / sum_i (G+ + G-)_ij,
    w_n = sum_{k=1..2^n} r^k (:func:`plane_weight`)."""
    return reference_y_g(out["g_pos_s"], out["g_neg_s"], out["x"], in_bits, out_bits, fs_v)


def reference_y_g(g_pos_s, g_neg_s, x, in_bits, out_bits, fs_v=FS_V):
    """:func:`reference_y` on explicit conductances (S, [n_in][n_out]) and inputs
    ([batch][n_in], signed ``in_bits``)."""
    gp, gn, x = np.array(g_pos_s), np.array(g_neg_s), np.array(x)
    v_read = assumptions.value("v_read_v")
    y = np.zeros((x.shape[0], gp.shape[1]))
    for n in range(max(in_bits - 1, 1)):
        plane = ((np.abs(x) >> n) & 1) * np.sign(x)
        y += plane_weight(n) * v_read * (plane @ (gp - gn)) / (gp + gn).sum(axis=0)
    return y / lsb_line_v(out_bits, fs_v)


def quantise(y, out_bits):
    return np.clip(np.floor(y), -(2 ** (out_bits - 1)), 2 ** (out_bits - 1) - 1)


def budget(in_bits, out_bits, fs_v=FS_V):
    """(common offset, relative gain error, per-output jitter) in LSB that the budget above
    allows at (in_bits, out_bits). The OTA offset and the switch charge are the same in every
    neuron (no mismatch here): a common offset; the comparator term depends on each output's
    decisions: per output."""
    n_tr = n_windows(in_bits) + out_bits - 1  # input samples + DAC packets
    k = C_S_F / C_I_F
    v_off = (BUDGET_V_OS_V * (1 + n_tr * k) + n_tr * BUDGET_Q_INJ_C / C_I_F
             + k * BUDGET_TRK_OFFSET_V * total_weight(in_bits) + BUDGET_V_RESET_V)
    lsb_int_v = 2 * fs_v / 2 ** out_bits
    return (v_off / lsb_int_v, n_tr * k / BUDGET_A0 + BUDGET_GAIN_OTHER + BUDGET_TRK_GAIN,
            BUDGET_V_CMP_V / lsb_int_v)


def code_check(code, y, out_bits, budget, y_neg=None):
    """Scores of ``code`` against the reference ``y`` (LSB), ``budget`` from :func:`budget`:

    ``pm1``: share within +-1 code of the ideal quantisation floor(y);
    ``budget``: the largest share, over one common gain (1 + g), |g| <= gain budget, and one
    common offset e, |e| <= offset budget, of outputs with floor((1 + g) y + e - j) <= code <=
    floor((1 + g) y + e + j), j the per-output budget (>= 95 % required);
    ``bias``: mean(code - floor(y)) over unclipped outputs, against ``bias_max`` = offset budget
    + 3 j / sqrt(n) (per-output terms average down).
    A 10 % gain or a one-code offset lies outside the box.

    ``y_neg``: the output is the difference of two neurons' codes (backward ``row_pair``:
    floor(y) - floor(y_neg)); each neuron gets the same gain and offset and its own j, so the
    box is [floor(y' - j) - floor(y_neg' + j), floor(y' + j) - floor(y_neg' - j)] and the
    per-output term of ``bias_max`` is sqrt(2) j.
    """
    off, gain, jit = budget
    code, y = np.asarray(code, float).ravel(), np.asarray(y, float).ravel()
    yn = None if y_neg is None else np.asarray(y_neg, float).ravel()
    q = quantise(y, out_bits) - (0 if yn is None else quantise(yn, out_bits))
    pm1 = float(np.mean(np.abs(code - q) <= 1))
    best = 0.0
    for g in np.linspace(-gain, gain, 21):
        for e in np.linspace(-off, off, 201):
            yy = (1 + g) * y + e
            lo, hi = quantise(yy - jit, out_bits), quantise(yy + jit, out_bits)
            if yn is not None:
                nn = (1 + g) * yn + e
                lo, hi = lo - quantise(nn + jit, out_bits), hi - quantise(nn - jit, out_bits)
            best = max(best, float(np.mean((code >= lo) & (code <= hi))))
    inside = np.abs(y) < 2 ** (out_bits - 1) - 1
    if yn is not None:
        inside &= np.abs(yn) < 2 ** (out_bits - 1) - 1
    bias = float(np.mean(code[inside] - q[inside]))
    bias_max = off + 3 * (1 if yn is None else np.sqrt(2)) * jit / np.sqrt(inside.sum())
    out = {"pm1": pm1, "budget": best, "bias": bias, "bias_max": bias_max}
    if yn is None:
        out.update(gain_check(code, y, out_bits, budget, inside))
    return out


def _slope(code, y):
    """Least-squares slope of (code + 1/2 - y) against y: the codes' gain error."""
    a = np.stack([y, np.ones(y.size)], axis=1)
    return float(np.linalg.lstsq(a, code + 0.5 - y, rcond=None)[0][0])


def gain_check(code, y, out_bits, budget, inside):
    """``gain``: the codes' least-squares gain error against y over the unclipped outputs,
    less that of the ideal quantisation floor(y) of the same y (the floor's own slope on a
    few mirrored values is not zero: +0.047 at (1,3)); ``gain_max``: the gain budget plus
    three standard errors of that slope, rounding (1/12 LSB^2) and the per-output budget j
    taken as independent noise: sqrt(1/12 + j^2) / sqrt(sum (y - mean y)^2). Where few codes
    are spanned a 10 % gain moves too few codes for the budget box, but it tilts the codes:
    (1,3) -0.14 against a bound of 0.115, (2,4) -0.07 against 0.052 (ideal quantisers)."""
    off, gain, jit = budget
    y_in, c_in = y[inside], code[inside]
    g = _slope(c_in, y_in) - _slope(quantise(y_in, out_bits), y_in)
    se = np.sqrt(1 / 12 + jit ** 2) / np.sqrt(np.sum((y_in - y_in.mean()) ** 2))
    return {"gain": g, "gain_max": float(gain + 3 * se)}


def caught(score):
    return (score["budget"] < MIN_HIT or abs(score["bias"]) > score["bias_max"]
            or abs(score.get("gain", 0.0)) > score.get("gain_max", np.inf))


def spread_problem(in_bits, out_bits, n_in=16, n_out=8, fs_v=FS_V):
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
    y_per_r = assumptions.value("v_read_v") * total_weight(in_bits) / lsb_line_v(out_bits, fs_v)
    t1 = 0.95 * min(y_per_r, 2 ** (out_bits - 1))
    off, gain, jit = budget(in_bits, out_bits, fs_v)
    band = [k * (1 + gain) + off + jit + 0.02 for k in (np.floor(0.8 * t1), np.floor(0.55 * t1))]
    return _spread_from_targets(np.array([t1, 0.3 * t1] + band), y_per_r, in_bits, n_in, n_out)


def _spread_from_targets(base, y_per_r, in_bits, n_in, n_out):
    """Weights and inputs of :func:`spread_problem` for the base targets ``base`` (LSB, first
    column pair +-base[0], ...) and the outputs ``y_per_r`` (LSB) of a column whose every row
    settles its line to Vread r, r = 1."""
    m = 1 if in_bits == 1 else 2 ** (in_bits - 1) - 1
    i = np.arange(n_in)
    s = np.ones(n_in, int) if in_bits == 1 else np.where(i % 3 == 1, -1, 1)
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


def matched_fs_v(in_bits):
    """ADC full scale for the code-range tests (the request's ``adc_full_scale_v``, NeuRRAM's
    per-layer conversion range). At 4 bits and more the default (0.4 V) holds the largest
    integrated line (0.5 x 0.1 V x 5.8 = 0.29 V, outputs over 3/4 of the codes); with one
    plane (1- and 2-bit inputs) the largest line integrates to 0.045 V, 1/9 of the default
    range, so the full scale is that, not below the neuron's 0.05 V."""
    return FS_V if in_bits >= 4 else max(
        C_S_F / C_I_F * assumptions.value("v_read_v") * total_weight(in_bits), 0.05)


@contextlib.contextmanager
def neuron_defaults(**overrides):
    """Every NeuronSpec built without these fields gets these values (the deck's neuron, its
    schedule's DAC levels and the LSB alike): a test-only change of the neuron's design."""
    from pycim.specs.neuron import NeuronSpec

    orig = NeuronSpec.__init__

    def init(self, *args, **kw):
        for k, v in overrides.items():
            kw.setdefault(k, v)
        orig(self, *args, **kw)

    NeuronSpec.__init__ = init
    try:
        yield
    finally:
        NeuronSpec.__init__ = orig



# ---------------------------------------------------------------------------------------------
# Two phases (inputs wider than 4 bits)
# ---------------------------------------------------------------------------------------------
#
# Written out from the paper's description (inputs wider than 4 bits are split into a high and
# a low magnitude slice, each integrated with the one-phase scheme, then shift-added; 8-bit
# inputs = 4 + 3 magnitude bits, 15 + 7 integrations, CiMLoop's wan_nature_2022) and the issue
# text, not imported from pycim.cim.phases: M = in_bits - 1 magnitude bits, the high slice
# takes H = ceil(M / 2) of them, the low slice L = M - H. Each slice is converted with
# out_bits - L bits; for both phases' codes to be in the final LSB (so that 2^L c_hi + c_lo is
# the MVM in that LSB), the phase LSB 2 FS_p / 2^(B - L) must equal 2 FS / 2^B: FS_p = FS / 2^L.

#: smallest ADC full scale of the neuron (V): NeuronSpec's range 0.05-0.8 V (pycim README)
FS_MIN_V = 0.05


def split_bits(in_bits):
    """(H, L): magnitude bits of the high and low slice of a signed ``in_bits`` input."""
    m = in_bits - 1
    return -(-m // 2), m - (-(-m // 2))


def phase_fs_v(fs_v, in_bits):
    """Per-phase ADC full scale FS / 2^L (V): the phases convert in the MVM's LSB."""
    return fs_v / 2 ** split_bits(in_bits)[1]


def slices(x, in_bits):
    """(x_hi, x_lo): sign(x) (|x| // 2^L), sign(x) (|x| mod 2^L)."""
    x = np.asarray(x, dtype=np.int64)
    low = 2 ** split_bits(in_bits)[1]
    return np.sign(x) * (np.abs(x) // low), np.sign(x) * (np.abs(x) % low)


def phase_bits(in_bits, out_bits):
    """((in_hi, out_p), (in_lo, out_p)): the slices' signed input widths H + 1, L + 1 and the
    phases' conversion bits out_bits - L."""
    h, low = split_bits(in_bits)
    return (h + 1, out_bits - low), (low + 1, out_bits - low)


def matched_fs_two_phase_v(in_bits):
    """ADC full scale of a two-phase code check: the largest integrated line of the MVM in
    one-phase units, (C_s / C_i) Vread (2^L W_hi + W_lo) (W: the slices' total plane weights),
    capped at the default 0.4 V as :func:`matched_fs_v` does, and not below 2^L x 0.05 V (each
    phase's full scale FS / 2^L must stay in the neuron's range). 6 bits: 0.5 x 0.1 V x 25.9 =
    1.3 V, 8 bits: 4.8 V, so both 0.4 V (outputs over 0.95 of the codes at |r| <= 0.31 and
    0.08: the lines' share of Vread)."""
    (b_hi, _), (b_lo, _) = phase_bits(in_bits, in_bits + 2)
    low = split_bits(in_bits)[1]
    line = C_S_F / C_I_F * assumptions.value("v_read_v") * (
        2 ** low * total_weight(b_hi) + total_weight(b_lo))
    return max(min(FS_V, line), FS_MIN_V * 2 ** low)


def spread_problem_two_phase(in_bits, out_bits, n_in=16, n_out=16, fs_v=FS_V):
    """:func:`spread_problem` for a two-phase MVM: the same rows signs, columns and vectors
    (x = m s, -m s, alternate rows at m - 2), the targets on the shift-added output
    y = 2^L y_hi + y_lo, whose line at Vread r gives y_per_r = Vread (2^L W_hi + W_lo) / LSB
    for x = m s (both slices full). t1 = 0.95 of the reachable or the code range, 0.3 t1, and
    the boundary targets placed on the HIGH phase (its code boundary k enters 2^L times):
    y_hi = k (1 + g) + e + j + 0.02 for k = floor(0.8 t1_hi), floor(0.55 t1_hi) with the high
    phase's budget (e, g, j), t1_hi the high phase's share of t1."""
    (b_hi, b_p), (b_lo, _) = phase_bits(in_bits, out_bits)
    low = split_bits(in_bits)[1]
    fs_p = phase_fs_v(fs_v, in_bits)
    lsb = lsb_line_v(out_bits, fs_v)
    v_read = assumptions.value("v_read_v")
    y_per_r = v_read * (2 ** low * total_weight(b_hi) + total_weight(b_lo)) / lsb
    y_hi_per_r = v_read * total_weight(b_hi) / lsb
    t1 = 0.95 * min(y_per_r, 2 ** (out_bits - 1))
    t1_hi = t1 * y_hi_per_r / y_per_r
    off, gain, jit = budget(b_hi, b_p, fs_p)
    band = [(k * (1 + gain) + off + jit + 0.02) * y_per_r / y_hi_per_r
            for k in (np.floor(0.8 * t1_hi), np.floor(0.55 * t1_hi))]
    return _spread_from_targets(np.array([t1, 0.3 * t1] + band), y_per_r, in_bits, n_in, n_out)


def reference_two_phase(g_pos_s, g_neg_s, x, in_bits, out_bits, fs_v=FS_V):
    """(y_hi, y_lo, q): each slice's reference (:func:`reference_y_g` of the slice at its own
    width, conversion bits and the phase full scale; in the MVM's LSB) and the ideal two-phase
    codes q = 2^L floor(y_hi) + floor(y_lo) (each phase's quantiser clipped to its own range,
    the sum to the signed out_bits range)."""
    (b_hi, b_p), (b_lo, _) = phase_bits(in_bits, out_bits)
    fs_p = phase_fs_v(fs_v, in_bits)
    x_hi, x_lo = slices(x, in_bits)
    y_hi = reference_y_g(g_pos_s, g_neg_s, x_hi, b_hi, b_p, fs_p)
    y_lo = reference_y_g(g_pos_s, g_neg_s, x_lo, b_lo, b_p, fs_p)
    return y_hi, y_lo, shift_add(quantise(y_hi, b_p), quantise(y_lo, b_p), in_bits, out_bits)


def shift_add(c_hi, c_lo, in_bits, out_bits):
    """2^L c_hi + c_lo clipped to the signed ``out_bits`` range."""
    c = 2 ** split_bits(in_bits)[1] * np.asarray(c_hi) + np.asarray(c_lo)
    return np.clip(c, -(2 ** (out_bits - 1)), 2 ** (out_bits - 1) - 1)


def code_check_two_phase(code, y_hi, y_lo, in_bits, out_bits, fs_v=FS_V):
    """:func:`code_check` for a two-phase MVM against :func:`reference_two_phase`.

    ``pm1``: share within +-1 code of q = 2^L floor(y_hi) + floor(y_lo);
    ``budget``: the largest share, over one gain and one offset common to both phases (the
    same neuron: g = f_g x each phase's gain budget, e = f_e x each phase's offset budget,
    |f| <= 1), of outputs inside 2^L [floor(y_hi' - j_hi), floor(y_hi' + j_hi)] +
    [floor(y_lo' - j_lo), floor(y_lo' + j_lo)] (y' = (1 + g) y + e, each phase's per-output j);
    ``bias``: mean(code - q) over outputs inside the range, against 2^L e_hi + e_lo +
    3 sqrt(4^L j_hi^2 + j_lo^2) / sqrt(n)."""
    (b_hi, b_p), (b_lo, _) = phase_bits(in_bits, out_bits)
    fs_p = phase_fs_v(fs_v, in_bits)
    shift = 2 ** split_bits(in_bits)[1]
    bh, bl = budget(b_hi, b_p, fs_p), budget(b_lo, b_p, fs_p)
    code = np.asarray(code, float).ravel()
    y_hi, y_lo = np.asarray(y_hi, float).ravel(), np.asarray(y_lo, float).ravel()
    q = shift_add(quantise(y_hi, b_p), quantise(y_lo, b_p), in_bits, out_bits)
    pm1 = float(np.mean(np.abs(code - q) <= 1))
    best = 0.0
    for fg in np.linspace(-1, 1, 21):
        for fe in np.linspace(-1, 1, 201):
            yh, yl = (1 + fg * bh[1]) * y_hi + fe * bh[0], (1 + fg * bl[1]) * y_lo + fe * bl[0]
            lo = shift_add(quantise(yh - bh[2], b_p), quantise(yl - bl[2], b_p), in_bits,
                           out_bits)
            hi = shift_add(quantise(yh + bh[2], b_p), quantise(yl + bl[2], b_p), in_bits,
                           out_bits)
            best = max(best, float(np.mean((code >= lo) & (code <= hi))))
    half_p = 2 ** (b_p - 1) - 1
    inside = (np.abs(y_hi) < half_p) & (np.abs(y_lo) < half_p) & (
        np.abs(shift * y_hi + y_lo) < 2 ** (out_bits - 1) - 1)
    bias = float(np.mean(code[inside] - q[inside]))
    bias_max = shift * bh[0] + bl[0] + 3 * np.hypot(shift * bh[2], bl[2]) / np.sqrt(inside.sum())
    return {"pm1": pm1, "budget": best, "bias": bias, "bias_max": float(bias_max)}

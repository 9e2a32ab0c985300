"""Measurement code on inputs with known answers: ``linearity`` (INL/DNL) on synthetic ADC
staircases and the OTA AC metrics (A0, GBW, phase margin) on one- and two-pole amplifiers, as
arrays and as an ngspice deck of linear controlled sources."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from pycim.errors import InputError
from pycim.measure.neuron import (
    NeuronReadout,
    ac_metrics,
    code_from_decisions,
    linearity,
    transition_decision,
)

B = 5  # bits of the synthetic ADC
Q = 2e-3  # V per LSB
M = 1 << (B - 1)
CODES = np.arange(-M + 1, M)  # m of every transition (between codes m - 1 and m)
IDEAL_T = CODES * Q


def _binary_search(v: float, t_levels: np.ndarray, c_v: float) -> NeuronReadout:
    """One conversion of ``v`` by a binary-search ADC whose comparison j of the current subtree
    is against the transition level of that subtree's middle code: the DAC sum before
    comparison j is ``S_j = T(mid) - c`` and the comparator (threshold ``c_v``) sees the residue
    ``r_j = v - S_j``. Written from the ADC's definition, not from ``linearity``."""
    lo, hi = -M, M - 1  # codes still possible
    residues, decisions = [], []
    for _ in range(B):
        mid = (lo + hi + 1) // 2  # the transition between mid - 1 and mid splits the range
        s_j = t_levels[mid + M - 1] - c_v
        r = v - s_j
        d = 1 if r > c_v else -1
        residues.append(r)
        decisions.append(d)
        lo, hi = (mid, hi) if d > 0 else (lo, mid - 1)
    assert lo == hi
    code = code_from_decisions(decisions)
    assert code == lo
    return NeuronReadout((), 0.0, np.zeros(0), v, np.array(residues), tuple(decisions), code,
                         decisions[0], 0.0)


def _sweep(t_levels, c_v=0.3 * Q, step_v=0.37 * Q):
    v = np.arange(-(M + 1) * Q, (M + 1) * Q, step_v)
    return [_binary_search(float(x), np.asarray(t_levels), c_v) for x in v]


def _expected(t_levels):
    t = np.asarray(t_levels)
    return (t - IDEAL_T) / Q, np.diff(t) / Q - 1.0  # INL (no fit), DNL of inner codes


def test_search_convention_matches_transition_decision():
    """The synthetic search decides transition m at comparison ``transition_decision(m)``:
    the ADC model above and the module's convention agree (else the tests below are moot)."""
    for m in CODES:
        ro_lo = _binary_search((m - 0.5) * Q, IDEAL_T, 0.0)
        ro_hi = _binary_search((m + 0.5) * Q, IDEAL_T, 0.0)
        assert (ro_lo.code, ro_hi.code) == (m - 1, m)
        j = transition_decision(int(m), B)
        assert ro_lo.decisions[:j] == ro_hi.decisions[:j]
        assert ro_lo.decisions[j] != ro_hi.decisions[j]


@pytest.mark.parametrize("case", ["ideal", "gain", "missing", "bow", "offset"])
def test_linearity_of_known_staircases(case):
    """Known transition levels in, known INL/DNL out. The comparator threshold (0.3 LSB) is
    bracketed from the decisions, so every level is exact to within the bracket's half-width
    (< half the sweep step, 0.37 LSB): that is the tolerance."""
    t = IDEAL_T.astype(float).copy()
    if case == "gain":  # +4 % gain: INL = 0.04 m, DNL = 0.04 everywhere
        t = 1.04 * IDEAL_T
    elif case == "missing":  # code 5 has zero width: its upper transition moved onto its lower
        t[CODES == 6] = 5 * Q
    elif case == "bow":  # quadratic bow of 0.8 LSB at mid-scale, 0 at the ends
        t = IDEAL_T + 0.8 * Q * (1 - (CODES / M) ** 2)
    elif case == "offset":  # every level 0.5 LSB high
        t = IDEAL_T + 0.5 * Q
    inl, dnl = _expected(t)
    c_true = 0.3 * Q
    lin = linearity(_sweep(t, c_true), B, Q)
    tol = lin.threshold_halfwidth_v / Q + 1e-9
    assert lin.threshold_halfwidth_v < 0.5 * 0.37 * Q
    assert abs(lin.threshold_v - c_true) <= lin.threshold_halfwidth_v + 1e-12
    np.testing.assert_allclose(lin.transitions, t, atol=lin.threshold_halfwidth_v + 1e-12)
    np.testing.assert_allclose(lin.inl, inl, atol=tol)
    np.testing.assert_allclose(lin.dnl, dnl, atol=2 * tol)
    if case == "ideal":
        assert lin.max_abs_inl <= tol and lin.max_abs_dnl <= 2 * tol
    if case == "gain":
        assert lin.max_abs_inl == pytest.approx(0.04 * (M - 1), abs=tol)
        assert lin.dnl == pytest.approx(np.full(len(dnl), 0.04), abs=2 * tol)
    if case == "missing":
        k = int(np.nonzero(CODES == 5)[0][0])  # dnl[k] is code 5's width - 1
        assert lin.dnl[k] == pytest.approx(-1.0, abs=2 * tol)  # the missing code
        assert lin.dnl[k + 1] == pytest.approx(1.0, abs=2 * tol)  # code 6 is two LSB wide
        assert lin.inl[k + 1] == pytest.approx(-1.0, abs=tol)  # transition 6 one LSB low
        assert np.sum(lin.dnl < -0.9) == 1  # one missing code, no other
    if case == "bow":
        assert lin.max_abs_inl == pytest.approx(0.8, abs=tol)
        assert lin.inl[CODES == 0][0] == pytest.approx(0.8, abs=tol)
    if case == "offset":
        assert lin.inl == pytest.approx(np.full(len(inl), 0.5), abs=tol)
        assert lin.max_abs_dnl <= 2 * tol


def test_linearity_refuses_a_sweep_that_misses_transitions():
    """Two adjacent missing codes leave the transition between them unseen: refused."""
    t = IDEAL_T.astype(float).copy()
    t[CODES == 5] = 4 * Q
    t[CODES == 6] = 4 * Q  # codes 4 and 5 empty: transition 5 has no neighbouring code
    with pytest.raises(InputError, match="misses transitions"):
        linearity(_sweep(t), B, Q)


# -- OTA AC metrics ---------------------------------------------------------------------------

def _f():
    return np.logspace(1, 10, 9 * 40 + 1)  # 40 points per decade, as ota_metrics sweeps


def _unity_two_pole(a0, p1, p2):
    """|A0 / ((1 + j f/p1)(1 + j f/p2))| = 1: a quadratic in f^2."""
    a, b, c = 1 / (p1 * p2) ** 2, 1 / p1 ** 2 + 1 / p2 ** 2, 1 - a0 ** 2
    return float(np.sqrt((-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)))


@pytest.mark.parametrize("a0,p1,p2", [(1000.0, 1e3, None), (3162.0, 2e3, None),
                                      (3000.0, 1e4, 5e7), (10000.0, 500.0, 3e6)])
def test_ac_metrics_of_pole_amplifiers(a0, p1, p2):
    """Closed forms: fu solves |H(fu)| = 1 (single pole: p1 sqrt(A0^2 - 1)); PM = 180 deg minus
    the phase lag of each pole at fu, atan(fu / p). Log interpolation at 40 points per decade:
    fu within 0.2 %, PM within 0.2 deg."""
    f = _f()
    h = a0 / (1 + 1j * f / p1)
    if p2 is not None:
        h = h / (1 + 1j * f / p2)
        fu = _unity_two_pole(a0, p1, p2)
        pm = 180 - np.degrees(np.arctan(fu / p1) + np.arctan(fu / p2))
    else:
        fu = p1 * np.sqrt(a0 ** 2 - 1)
        pm = 180 - np.degrees(np.arctan(fu / p1))
    a0_db, fu_got, pm_got = ac_metrics(f, h)
    assert a0_db == pytest.approx(20 * np.log10(a0), abs=0.01)
    assert fu_got == pytest.approx(fu, rel=2e-3)
    assert pm_got == pytest.approx(pm, abs=0.2)
    if p2 is not None:
        assert pm_got < 90 - 1  # the second pole costs margin: not a one-pole answer


def test_ac_metrics_refuses_bad_input():
    f = _f()
    with pytest.raises(Exception, match="never crosses unity"):
        ac_metrics(f, 0.5 / (1 + 1j * f))
    with pytest.raises(InputError):
        ac_metrics(f[:-1], 1 / (1 + 1j * f))


def test_ac_metrics_on_an_ngspice_two_pole_amplifier(tmp_path):
    """A behavioural two-stage amplifier of linear controlled sources in ngspice (G stages into
    R || C), driven on its inverting input as ``ota_metrics`` drives the OTA: A0 = gm1 R1 gm2 R2,
    poles 1 / (2 pi R C) each; the same closed forms as above."""
    from pycim import toolchain
    from pycim.sim.rawfile import read_raw

    gm1, r1, c1 = 1e-4, 1e6, 1.6e-12  # 100 uS into 1 MOhm || 1.6 pF: 99.5 kHz
    gm2, r2, c2 = 1e-3, 1e5, 40e-15  # 1 mS into 100 kOhm || 40 fF: 39.8 MHz
    deck = f"""two-pole behavioural amplifier
vin inm 0 dc 0 ac 1
g1 0 n1 0 inm {gm1}
r1 n1 0 {r1}
c1 n1 0 {c1}
g2 out 0 0 n1 {gm2}
r2 out 0 {r2}
c2 out 0 {c2}
.control
set filetype=binary
ac dec 40 10 1e10
write ac.raw
.endc
.end
"""
    (tmp_path / "deck.cir").write_text(deck)
    p = subprocess.run([toolchain.ngspice_path(), "-b", "deck.cir"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    ac = read_raw(tmp_path / "ac.raw")[0][1]
    a0 = gm1 * r1 * gm2 * r2
    p1, p2 = 1 / (2 * np.pi * r1 * c1), 1 / (2 * np.pi * r2 * c2)
    # G pushes gm (V(c+) - V(c-)) from n+ through itself to n-: g1 puts -gm1 inm into n1,
    # g2 draws -gm2 V(n1) out of out, so out = -A(f) inm, as the OTA's inverting input sees it
    a0_db, fu_got, pm_got = ac_metrics(ac["frequency"], -ac["v(out)"])
    fu = _unity_two_pole(a0, p1, p2)
    pm = 180 - np.degrees(np.arctan(fu / p1) + np.arctan(fu / p2))
    assert a0_db == pytest.approx(20 * np.log10(a0), abs=0.01)
    assert fu_got == pytest.approx(fu, rel=2e-3)
    assert pm_got == pytest.approx(pm, abs=0.2)

"""Neuron measurements: decisions, codes, integrator voltages, charge, INL/DNL, OTA metrics.

Conventions (see :mod:`pycim.netlist.neuron`):

* integrator voltage ``v_int = V(o) - Vref``, read at the end of each ``int<n>_<r>_h`` phase
  (virtual-ground switch open for ``t_settle_s``: settled after its charge kick); it grows by
  ``(C_s/C_i)(V_SL - Vref)`` per step; residues before comparison j >= 1 are read the same way at
  the end of ``pki<j>_h``;
* decision ``d_j`` (+1: residue positive) is the latch output ``lq`` at the end of ``cmp<j>_h``;
* the code of a signed ``B``-bit conversion is two's-complement-ranged
  ``m = sum_j b_j 2^(B-1-j) - 2^(B-1)`` with ``b_j = (d_j + 1) / 2``: the sign decision and
  B-1 halving charge packets form a non-restoring binary search whose result is the mid-rise
  quantiser ``m = floor(v_int / q)`` clipped to ``[-2^(B-1), 2^(B-1) - 1]``,
  ``q = 2 adc_fs / 2^B``; ReLU reports 0 when the sign decision is negative.

Static linearity of this binary-search ADC is measured from its DAC levels: every code
transition is decided by one comparison ``j`` (the first bit in which the two neighbouring codes
differ), at the input where the residue before that comparison, ``r_j = v - S_j``, crosses the
comparator threshold. ``S_j`` (the sum of the packets applied before comparison ``j``) is
measured in the transient for every sweep point as ``v - r_j``, so each transition level is
``T = S_j + c`` with ``c`` the comparator threshold, bracketed from all decisions of a sweep.
A sweep with a step below two LSB (each transition then has a point on one side) gives every
transition level to within the threshold bracket, where a code-edge search would need many
points per code; the codes of the sweep are checked against the levels found.

The OTA's AC metrics (:func:`ota_metrics`) need an AC analysis, which :mod:`pycim.sim` does not
offer yet; :func:`run_ac` writes its own small ngspice deck through the validated emitter (it
belongs in ``pycim.sim`` once the engines grow an ``Ac`` analysis).
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, MetastableWarning, SimulationError
from ..netlist.neuron import (NeuronNodes, NeuronSpec, conversion_bits, integration_steps,
                              ota_testbench, settled_read_times)
from ..specs.schedule import Schedule
from ..sim.result import SimResult
from .waveform import sample


# ---------------------------------------------------------------------------------------------
# Codes
# ---------------------------------------------------------------------------------------------

def code_from_decisions(decisions, relu: bool = False) -> int:
    """Signed code from decisions ``d_0..d_{B-1}`` (each +1/-1); ReLU gives 0 if d_0 < 0."""
    d = [int(v) for v in decisions]
    if not d or any(v not in (-1, 1) for v in d):
        raise InputError(f"decisions must be a non-empty sequence of +1/-1, got {decisions!r}")
    if relu and d[0] < 0:
        return 0
    b = len(d)
    return sum(((v + 1) // 2) << (b - 1 - j) for j, v in enumerate(d)) - (1 << (b - 1))


def ideal_code(v_int, lsb_v: float, out_bits: int, relu: bool = False):
    """Ideal mid-rise quantiser ``floor(v / q)`` clipped to the signed ``out_bits`` range."""
    v = np.asarray(v_int, dtype=float)
    m = np.clip(np.floor(v / lsb_v), -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1)
    if relu:
        m = np.where(v < 0, 0, m)
    return m.astype(int)


def transition_decision(m: int, out_bits: int) -> int:
    """Index j of the comparison deciding the transition between codes m-1 and m."""
    lo, hi = m - 1 + (1 << (out_bits - 1)), m + (1 << (out_bits - 1))
    if not 0 <= lo < hi < (1 << out_bits):
        raise InputError(f"no transition below code {m} at {out_bits} bits")
    diff = lo ^ hi
    return out_bits - diff.bit_length()


# ---------------------------------------------------------------------------------------------
# Reading one neuron out of a transient
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NeuronReadout:
    """What one neuron did in one schedule.

    v_int0 : V(o) - Vref before the first integration step (reset level: OTA offset and the
        reset switch's charge injection)
    v_int_steps : V(o) - Vref at the end of every integration step, in order
    v_int : the ADC input (integrator voltage after the last integration step)
    residues : r_j, the residue before comparison j (r_0 = v_int), j = 0..B-1
    decisions : d_j (+1/-1) from the latch at the end of ``cmp<j>_h``
    code : signed code (ReLU applied if the neuron has it)
    sign : +1/-1 sign decision (the sign latch for a ReLU neuron, else d_0)
    v_final : residue after the last comparison (integrator mode, ``done`` phase)
    """

    steps: tuple[str, ...]
    v_int0: float
    v_int_steps: np.ndarray
    v_int: float
    residues: np.ndarray
    decisions: tuple[int, ...]
    code: int
    sign: int
    v_final: float


def _logic(v: float, vdd: float, what: str) -> int:
    """A latch output as logic: above vdd / 2 is 1. Between 1/4 and 3/4 of vdd the latch had
    not resolved at its read time (a residue within its resolution): :class:`MetastableWarning`,
    read at vdd / 2 as a gate would; outside the rails by more than 1/4 vdd: an error."""
    if not -0.25 * vdd < v < 1.25 * vdd:
        raise InputError(f"{what} is not a logic level ({v:.3f} V of {vdd:.2f} V)")
    if 0.25 * vdd < v < 0.75 * vdd:
        warnings.warn(f"{what} had not resolved at its read time ({v:.3f} V of {vdd:.2f} V: "
                      f"metastable, its input within the latch's resolution); read as "
                      f"{1 if v > 0.5 * vdd else 0} at vdd/2", MetastableWarning, stacklevel=3)
    return 1 if v > 0.5 * vdd else -1


def _reset_end(sched: Schedule) -> float:
    """End of the last phase tagged ``reset`` (with auto-zero the reset is three phases)."""
    return max(sched.end(p.name) for p in sched.phases if p.tag == "reset")


def read_neuron(res: SimResult, sched: Schedule, nodes: NeuronNodes,
                spec: NeuronSpec) -> NeuronReadout:
    """Decisions, code, integrator voltage per step and residues of one neuron."""
    t = res["time"]
    o = res[nodes.out]
    steps = tuple(integration_steps(sched))
    t_steps = [sched.end(f"int{s}_h") for s in steps]
    v_steps = sample(t, o, t_steps) - spec.v_ref_v if steps else np.zeros(0)
    b = conversion_bits(sched)
    if b == 0:
        raise InputError("schedule has no conversion")
    # residue before comparison j: end of the last integration (j=0) / packet integration
    t_res = [t_steps[-1] if steps else _reset_end(sched)]
    t_res += [sched.end(f"pki{j}_h") for j in range(1, b)]
    residues = sample(t, o, t_res) - spec.v_ref_v
    q = res[nodes.q]
    d = tuple(_logic(float(sample(t, q, [sched.end(f"cmp{j}_h") - 0.1 * spec.t_hold_s])[0]),
                     spec.vdd_v, f"{nodes.prefix} decision {j}") for j in range(b))
    if spec.relu and nodes.sign_q:
        sign = _logic(float(sample(t, res[nodes.sign_q], [sched.end("cmp0_h")])[0]),
                      spec.vdd_v, f"{nodes.prefix} sign latch")
        code = 0 if sign < 0 else code_from_decisions(d)
    else:
        sign = d[0]
        code = code_from_decisions(d)
    v_final = float(sample(t, o, [min(sched.end("done"), t[-1])])[0]) - spec.v_ref_v
    # before the first integration: the end of the reset, the OTA in integrator mode and settled
    # (later the power-gated OTA idles through each sample; it wakes with a transient on x that
    # charge conservation undoes by the end of the integration)
    t0 = _reset_end(sched)
    v0 = float(sample(t, o, [t0])[0]) - spec.v_ref_v
    return NeuronReadout(steps, v0, np.asarray(v_steps), float(residues[0]),
                         np.asarray(residues), d, code, sign, v_final)


def settled_lines_v(t, lines_v, sched: Schedule, spec: NeuronSpec) -> np.ndarray:
    """Settled line voltage minus Vref per plane, (planes, lines), of line waveforms
    ``lines_v`` (rows on time points ``t``), read at
    :func:`~pycim.netlist.neuron.settled_read_times` (as the track switch starts to open)."""
    t_read = settled_read_times(sched, spec)
    return np.array([[np.interp(t_read[n], t, row) for row in lines_v]
                     for n in sorted(t_read)]) - spec.v_ref_v


#: the window before the settled reading over which :func:`line_drift_v_per_s` takes a slope
DRIFT_WINDOW_S = 1e-9


def line_drift_v_per_s(t, lines_v, sched: Schedule, spec: NeuronSpec,
                       window_s: float = DRIFT_WINDOW_S) -> np.ndarray:
    """How fast each sensed line still moves where :func:`settled_lines_v` reads it: the mean
    slope (V/s) over ``window_s`` before each plane's reading, (planes, lines). A line that
    settles exponentially with time constant tau and is still moving at slope s when held is
    s * tau from its settled value."""
    if not window_s > 0:
        raise InputError(f"line_drift_v_per_s: window_s must be > 0, got {window_s!r}")
    t_read = settled_read_times(sched, spec)
    t = np.asarray(t, dtype=float)
    return np.array([[(np.interp(t_read[n], t, row) - np.interp(t_read[n] - window_s, t, row))
                      / window_s for row in lines_v] for n in sorted(t_read)])


def plane_deltas(ro: NeuronReadout) -> dict[int, float]:
    """Integrator change contributed by each magnitude plane n (sum over its repetitions)."""
    out: dict[int, float] = {}
    prev = ro.v_int0
    for s, v in zip(ro.steps, ro.v_int_steps):
        n = int(s.split("_")[0])
        out[n] = out.get(n, 0.0) + (v - prev)
        prev = v
    return out


def charge_per_step(res: SimResult, sched: Schedule, nodes: NeuronNodes,
                    spec: NeuronSpec) -> dict[str, np.ndarray]:
    """Per integration step: charge sampled on C_sample, charge change on C_integ, and (with a
    probe) the integral of the integrate-switch current.

    ``q_sampled`` = C_s (V(a) - V(b)) at the end of ``in<s>_h`` (line still connected, bottom
    plate already open: the held charge) minus C_s (V(a) - V(b)) at the end of ``int<s>_h``
    (what is left); ``dq_integ`` = change of C_i (V(y) - V(x)) from the end of the previous
    ``int<s>_h`` (or of the reset) to the end of ``int<s>_h``, both with the OTA settled in
    integrator mode (in between, the power-gated OTA idles and wakes, moving x: C_i's charge
    is only defined again once x is back at the virtual ground); ``v_x`` = the virtual ground at the
    end of ``int<s>`` (Vref + the OTA's offset; ideal transfer: dq_integ = C_s (V_line - Vref +
    V_x - Vref)); ``v_line`` = the voltage C_sample sampled: V(hold node) (V(line) for nodes
    without one) at the end of ``in<s>``; ``q_probe`` = -integral of
    i(V<p>iq) over ``int<s>`` and ``int<s>_h``: the charge that left ``x`` into C_sample, which
    C_integ's ``x`` plate gave up. Charges in coulombs, voltages in volts.
    """
    t = res["time"]
    steps = integration_steps(sched)
    if not steps:
        raise InputError("schedule has no integration steps")
    va, vb, vx, vy = (res[n] for n in (nodes.a, nodes.b, nodes.x, nodes.y))
    held_t = [sched.end(f"in{s}_h") for s in steps]
    left_t = [sched.end(f"int{s}_h") for s in steps]
    q_held = spec.c_sample_f * (sample(t, va, held_t) - sample(t, vb, held_t))
    q_left = spec.c_sample_f * (sample(t, va, left_t) - sample(t, vb, left_t))
    before = [_reset_end(sched)] + left_t[:-1]
    qi = lambda ts: spec.c_integ_f * (sample(t, vy, ts) - sample(t, vx, ts))  # noqa: E731
    out = {"q_sampled": q_held - q_left, "dq_integ": qi(left_t) - qi(before),
           "v_line": sample(t, res[nodes.hold or nodes.line],
                            [sched.end(f"in{s}") for s in steps]),
           "v_x": sample(t, vx, [sched.end(f"int{s}") for s in steps])}
    if nodes.probe:
        i = res[f"i({nodes.probe})"]
        qs = []
        for s in steps:
            t0, t1 = sched.start(f"int{s}"), sched.end(f"int{s}_h")
            m = (t >= t0) & (t <= t1)
            tt = np.concatenate([[t0], t[m], [t1]])
            ii = np.concatenate([sample(t, i, [t0]), i[m], sample(t, i, [t1])])
            qs.append(-np.trapezoid(ii, tt))
        out["q_probe"] = np.asarray(qs)
    return out


# ---------------------------------------------------------------------------------------------
# Static linearity
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Linearity:
    """Transition levels (V, integrator-referred) and INL/DNL in LSB.

    ``transitions[k]`` is the level between codes ``m - 1`` and ``m = -2^(B-1) + k + 1``
    (ideal: ``m q``); ``dnl[k]`` is the width of code ``-2^(B-1) + k + 1`` (the inner codes)
    minus one LSB; ``inl[k]`` the deviation of ``transitions[k]`` from ideal, in LSB, without
    any gain/offset fit (the full scale is set by the DAC reference, so gain and offset errors
    are real errors here); ``threshold_v`` the comparator threshold (bracket midpoint, integrator
    referred) and ``threshold_halfwidth_v`` the bracket's half-width.
    """

    out_bits: int
    lsb_v: float
    transitions: np.ndarray
    dnl: np.ndarray
    inl: np.ndarray
    threshold_v: float
    threshold_halfwidth_v: float

    @property
    def max_abs_dnl(self) -> float:
        return float(np.max(np.abs(self.dnl))) if self.dnl.size else 0.0

    @property
    def max_abs_inl(self) -> float:
        return float(np.max(np.abs(self.inl)))


def comparator_threshold(readouts) -> tuple[float, float]:
    """Bracket of the comparator threshold from all (residue, decision) pairs of a sweep:
    (midpoint, half-width) between the highest residue decided negative and the lowest decided
    positive. Raises if the decisions are not separable by one threshold."""
    neg = [r for ro in readouts for r, d in zip(ro.residues, ro.decisions) if d < 0]
    pos = [r for ro in readouts for r, d in zip(ro.residues, ro.decisions) if d > 0]
    if not neg or not pos:
        raise InputError("need both decisions to bracket the comparator threshold")
    hi_neg, lo_pos = max(neg), min(pos)
    if hi_neg >= lo_pos:
        # overlapping: the comparator is not a clean threshold at this resolution
        return 0.5 * (hi_neg + lo_pos), 0.5 * (hi_neg - lo_pos)
    return 0.5 * (hi_neg + lo_pos), 0.5 * (lo_pos - hi_neg)


def linearity(readouts, out_bits: int, lsb_v: float) -> Linearity:
    """Transition levels, DNL and INL from the DAC levels seen by a sweep (see module doc).

    Every transition needs a sweep point whose code is on either side of it; missing ones raise.
    """
    c, hw = comparator_threshold(readouts)
    n = (1 << out_bits) - 1
    levels: list[list[float]] = [[] for _ in range(n)]
    for ro in readouts:
        m = code_from_decisions(ro.decisions)
        for mm in (m, m + 1):  # transitions just below and just above this code
            k = mm + (1 << (out_bits - 1)) - 1
            if 0 <= k < n:
                j = transition_decision(mm, out_bits)
                levels[k].append(ro.v_int - ro.residues[j] + c)
    missing = [k for k in range(n) if not levels[k]]
    if missing:
        raise InputError(f"sweep misses transitions {missing[:8]}... (need ~1 point per code)")
    tr = np.array([float(np.median(v)) for v in levels])
    ideal = (np.arange(n) - (1 << (out_bits - 1)) + 1) * lsb_v
    inl = (tr - ideal) / lsb_v
    dnl = np.diff(tr) / lsb_v - 1.0
    return Linearity(out_bits, lsb_v, tr, dnl, inl, c, hw)


# ---------------------------------------------------------------------------------------------
# OTA small-signal metrics (AC)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OtaMetrics:
    a0_db: float
    gbw_hz: float
    phase_margin_deg: float
    offset_v: float  # V(inm) - Vref at the DC servo point (input-referred systematic offset)
    i_supply_a: float
    node_v: dict


def run_ac(circuit, ac_source: str, f_start_hz: float, f_stop_hz: float,
           points_per_decade: int = 40, timeout_s: float = 60.0):
    """Operating point and AC sweep of ``circuit`` with ``ac_source`` excited (ac 1).

    Returns (op vectors, ac vectors) as dicts of numpy arrays (names as ngspice writes them).
    """
    from .. import toolchain
    from ..netlist.circuit import ngspice_lines
    from ..validate import fmt, ident, number
    from ..sim._proc import classify_failure, run_simulator
    from ..sim.rawfile import read_raw

    ident(ac_source, "ac source")
    number(f_start_hz, "f_start_hz", lo=0.0, lo_open=True)
    number(f_stop_hz, "f_stop_hz", lo=f_start_hz, lo_open=True)
    if not isinstance(points_per_decade, int) or not 1 <= points_per_decade <= 1000:
        raise InputError("points_per_decade must be an integer in 1..1000")
    lines, found = [], False
    for ln in ngspice_lines(circuit, options={"klu": None}):
        if ln.split(" ", 1)[0] == ac_source:
            ln, found = ln + " ac 1", True
        lines.append(ln)
    if not found:
        raise InputError(f"no element {ac_source!r} in the circuit")
    deck = "\n".join(lines + [
        ".control", "set noaskquit", "set filetype=binary", "op", "write op.raw",
        f"ac dec {points_per_decade} {fmt(f_start_hz)} {fmt(f_stop_hz)}", "write ac.raw",
        ".endc", ".end", ""])
    with tempfile.TemporaryDirectory(prefix="pycim-ac-") as tmp:
        d = Path(tmp)
        (d / "deck.cir").write_text(deck)
        log, _ = run_simulator([toolchain.ngspice_path(), "-b", "deck.cir"], d, timeout_s,
                               "ngspice")
        ok = (d / "ac.raw").is_file() and (d / "op.raw").is_file()
        classify_failure(log, "ngspice", True, ok)
        op = read_raw(d / "op.raw")[0][1]
        ac = read_raw(d / "ac.raw")[0][1]
    return op, ac


def ac_metrics(f_hz, h) -> tuple[float, float, float]:
    """DC gain (dB, at the first frequency), unity-gain frequency (Hz) and phase margin (deg)
    of an open-loop response ``h`` (complex, non-inverting sign) sampled at ``f_hz``.

    The unity crossing is interpolated linearly in log |h| vs log f between the two samples
    around it; the phase (unwrapped) linearly in log f.
    """
    f = np.asarray(np.real(f_hz), dtype=float)
    h = np.asarray(h, dtype=complex)
    if f.ndim != 1 or f.shape != h.shape or f.size < 2 or np.any(np.diff(f) <= 0):
        raise InputError("f_hz and h must be 1-D of the same length (>= 2), f increasing")
    mag = np.abs(h)
    ph = np.degrees(np.unwrap(np.angle(h)))
    below = np.nonzero(mag < 1.0)[0]
    if below.size == 0 or below[0] == 0:
        raise SimulationError("OTA gain never crosses unity in the swept range")
    i = below[0]
    lm = np.log10(mag[i - 1:i + 1])
    lf = np.log10(f[i - 1:i + 1])
    fu = 10 ** (lf[0] + (0 - lm[0]) * (lf[1] - lf[0]) / (lm[1] - lm[0]))
    pm = 180.0 + float(np.interp(np.log10(fu), np.log10(f), ph))
    return float(20 * np.log10(mag[0])), float(fu), pm


def ota_metrics(spec: NeuronSpec, c_load_f: float = 40e-15) -> OtaMetrics:
    """Open-loop DC gain, unity-gain frequency, phase margin, offset and supply current."""
    c, src = ota_testbench(spec, c_load_f)
    op, ac = run_ac(c, src, 10.0, 1e10)
    # the source drives the inverting input
    a0_db, fu, pm = ac_metrics(ac["frequency"], -ac["v(out)"])
    opv = {k: float(np.real(v[0])) for k, v in op.items()}
    i_vdd = -opv.get("i(vdd)", opv.get("vdd#branch", float("nan")))
    return OtaMetrics(a0_db, fu, pm, opv["v(inm)"] - spec.v_ref_v, i_vdd,
                      {k[2:-1]: v for k, v in opv.items() if k.startswith("v(") and "#" not in k})


__all__ = ["Linearity", "NeuronReadout", "OtaMetrics", "ac_metrics", "charge_per_step", "code_from_decisions",
           "comparator_threshold", "ideal_code", "linearity", "ota_metrics", "plane_deltas",
           "read_neuron", "run_ac", "transition_decision"]

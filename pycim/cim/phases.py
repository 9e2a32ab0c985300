"""Two-phase inputs: a wide signed input split into a high and a low magnitude slice, each
integrated with the one-phase scheme, the two codes shift-added digitally (NeuRRAM, Wan et al.
Nature 2022; CiMLoop ``wan_nature_2022``: 8-bit inputs = 4 + 3 magnitude bits, 15 + 7 = 22
integrations instead of 127).

Split
-----
A signed ``in_bits`` input x = s m (s = sign, magnitude m < 2^M, M = in_bits - 1) is split into
a high slice of H = ceil(M / 2) bits and a low slice of L = M - H bits::

    m = 2^L m_hi + m_lo,   x_hi = s m_hi (a signed (H+1)-bit input),
                           x_lo = s m_lo (a signed (L+1)-bit input, the same sign).

Both slices are ordinary one-phase inputs: the drivers apply plane n of the slice and the
neuron integrates it 2^(n-1) times (held-line: :func:`pycim.cim.closed_form.held_plane_weights`
of the slice's width).

Same LSB, shift-add
-------------------
The MVM result is linear in x, so y(x) = 2^L y(x_hi) + y(x_lo) for every weight matrix and
every line transfer that is linear in the planes. Let ``q`` be the LSB of a one-phase MVM of
``out_bits`` = B bits over the full input range with ADC full scale FS (the call's
``adc_full_scale_v``): q = 2 FS / 2^B (integrator volts; line-referred q / (C_s / C_i)), and
the one-phase code is round(y / q) in [-2^(B-1), 2^(B-1) - 1].

Each phase converts with B - L bits at the per-phase full scale FS_p = FS / 2^L, so its LSB is

    q_p = 2 FS_p / 2^(B-L) = 2 FS / 2^B = q,

the SAME LSB in units of the MVM result for both phases and for the one-phase reference; the
phase codes are c_hi = round(y(x_hi) / q), c_lo = round(y(x_lo) / q), each in
[-2^(B-L-1), 2^(B-L-1) - 1], and

    c = 2^L c_hi + c_lo = (2^L y(x_hi) + y(x_lo)) / q + e = y(x) / q + e,
    |e| <= 2^L |e_hi| + |e_lo|  (rounding errors of the phases),

so c has B bits (2^L 2^(B-L-1) = 2^(B-1)) and the one-phase LSB q: no gain error, no offset.
Its rounding error is NOT that of a one-phase B-bit conversion: c_lo's error (|e_lo| <= 1/2)
enters once, but c_hi's (|e_hi| <= 1/2, in the high phase's own LSB q) enters 2^L times, so with
round-to-nearest phases

    |c - y / q| <= 2^(L-1) + 1/2,   |c - round(y / q)| <= 2^(L-1) + 1,

RMS about 2^L / sqrt(12) LSB for a spread of outputs (one phase: 1 / sqrt(12)). So the
two-phase code is in general NOT within 1 LSB of round(y / q): already at L = 1 (3-4-bit
inputs) the bound is 2 LSB, and at 8 bits (L = 3) the high phase's rounding alone reaches 4.
This is the price of shift-adding two (B-L)-bit
conversions digitally (the chip's scheme); the ideal reference of a two-phase MVM therefore
follows the same definition (:func:`combine_ideal`: 2^L y_hi + y_lo in the common LSB, and the
ideal codes 2^L round(y_hi) + round(y_lo)), and the engines' codes are compared with that.
The phases share the neuron and FS_p; FS_p must lie in the neuron's range
(``NeuronSpec.adc_fs_v``: 0.05-0.8 V).

The sum spans [-2^(B-1) - 2^(B-L-1), 2^(B-1) - 1 + 2^(B-L-1) - 1]; it is clipped to the
signed B-bit range and the number of clipped outputs is returned (:func:`shift_add`), never
clipped silently.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

#: smallest signed input width a two-phase split accepts (1 + 1 magnitude bits per slice)
MIN_TWO_PHASE_IN_BITS = 3
#: input widths from which two phases are the default (the paper's two-phase range, 5-8 bits)
TWO_PHASE_FROM_IN_BITS = 5


def default_phases(in_bits: int) -> int:
    """2 for ``in_bits`` >= 5 (the paper's two-phase range), else 1."""
    return 2 if int(in_bits) >= TWO_PHASE_FROM_IN_BITS else 1


def split_bits(in_bits: int) -> tuple[int, int]:
    """(H, L): high and low magnitude bits of a signed ``in_bits`` input, H = ceil(M / 2),
    L = M - H with M = in_bits - 1 (8 bits: (4, 3))."""
    if isinstance(in_bits, bool) or not isinstance(in_bits, (int, np.integer)) \
            or not MIN_TWO_PHASE_IN_BITS <= in_bits <= 8:
        raise InputError(f"two phases need --in-bits in {MIN_TWO_PHASE_IN_BITS}..8, got "
                         f"{in_bits!r}")
    m = int(in_bits) - 1
    h = (m + 1) // 2
    return h, m - h


#: how :func:`check_phases` and :func:`pycim.cim.request.check_full_scale` name the widths in
#: their messages: the command line's options (a sweep spec passes its own keys)
FLAG_NAMES = {"phases": "--phases", "two_phases": "--phases 2", "in_bits": "--in-bits",
              "out_bits": "--out-bits", "adc_full_scale_v": "--adc-full-scale-v",
              "or_one_phase": " or use --phases 1"}


def check_phases(phases, in_bits: int, out_bits: int, names: dict | None = None) -> int:
    """Validate ``phases`` (1 or 2) against the widths; one-line :class:`InputError` naming
    them as ``names`` says (default :data:`FLAG_NAMES`)."""
    n = FLAG_NAMES if names is None else names
    if isinstance(phases, bool) or not isinstance(phases, (int, np.integer)) \
            or phases not in (1, 2):
        raise InputError(f"{n['phases']} must be 1 or 2, got {phases!r}")
    if phases == 2:
        if in_bits < MIN_TWO_PHASE_IN_BITS:
            raise InputError(f"{n['two_phases']} needs {n['in_bits']} >= "
                             f"{MIN_TWO_PHASE_IN_BITS} (at least one magnitude bit per slice), "
                             f"got {n['in_bits']} {in_bits}")
        _, lo = split_bits(in_bits)
        if out_bits - lo < 1:
            raise InputError(f"{n['two_phases']} with {n['in_bits']} {in_bits} converts each "
                             f"phase with {n['out_bits']} - {lo} bits: {n['out_bits']} must be "
                             f">= {lo + 1}, got {out_bits}")
    return int(phases)


def split_inputs(x: np.ndarray, in_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed integers (batch, n) -> (x_hi, x_lo), both with the sign of x:
    |x| = 2^L |x_hi| + |x_lo|, |x_lo| < 2^L."""
    _, lo = split_bits(in_bits)
    x = np.asarray(x, dtype=np.int64)
    s, m = np.sign(x), np.abs(x)
    return s * (m >> lo), s * (m & ((1 << lo) - 1))


def phase_widths(in_bits: int, out_bits: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((in_bits_hi, out_bits_p), (in_bits_lo, out_bits_p)): the one-phase widths of the two
    slices (signed H+1 and L+1 bits; both convert with out_bits - L bits)."""
    hi, lo = split_bits(in_bits)
    return (hi + 1, out_bits - lo), (lo + 1, out_bits - lo)


def phase_full_scale_v(adc_full_scale_v: float, in_bits: int) -> float:
    """Per-phase ADC full scale FS / 2^L: the phases' LSB equals a one-phase ``out_bits`` MVM's
    at full scale FS (module docstring)."""
    _, lo = split_bits(in_bits)
    return float(adc_full_scale_v) / 2 ** lo


def shift_add(code_hi, code_lo, in_bits: int, out_bits: int) -> tuple[np.ndarray, int]:
    """(code, n_clipped): 2^L code_hi + code_lo clipped to the signed ``out_bits`` range
    [-2^(B-1), 2^(B-1) - 1]; ``n_clipped`` counts the outputs the clip moved."""
    _, lo = split_bits(in_bits)
    c = (np.asarray(code_hi, dtype=np.int64) << lo) + np.asarray(code_lo, dtype=np.int64)
    lo_c, hi_c = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    clipped = np.clip(c, lo_c, hi_c)
    return clipped, int(np.count_nonzero(clipped != c))


def combine_ideal(y_hi, y_lo, in_bits: int) -> np.ndarray:
    """The two-phase ideal output in LSB: 2^L y_hi + y_lo (each phase's ideal in the common
    LSB), the same definition as the codes."""
    _, lo = split_bits(in_bits)
    return (2.0 ** lo) * np.asarray(y_hi, dtype=float) + np.asarray(y_lo, dtype=float)


#: result keys that are per-plane lists [batch][plane][n]: the low phase's planes are the
#: MVM's planes 1..L, the high phase's L+1..M, so concatenating (lo, hi) keeps LSB-first order
_PLANE_KEYS = ("v_settled_v", "y_ideal_planes_v")


def combine_results(in_bits: int, out_bits: int, adc_full_scale_v: float, x, hi: dict,
                    lo: dict) -> dict:
    """One two-phase ``pycim mvm`` result from its phases' one-phase results (same keys as a
    one-phase result, plus ``phases``, ``adc_full_scale_v``, ``n_clipped`` and per-phase
    details). Codes: :func:`shift_add`; ``y_ideal`` / ``y_target``: :func:`combine_ideal`;
    energies and latencies add; the per-plane lists follow the MVM's planes (LSB first).
    Refuses phases whose LSBs differ (they must share one, module docstring)."""
    if not np.isclose(hi["lsb"], lo["lsb"], rtol=1e-12, atol=0.0):
        raise InputError(f"the phases' LSBs differ ({hi['lsb']!r} vs {lo['lsb']!r} V): they "
                         f"must share one")
    code, n_clip = shift_add(hi["code"], lo["code"], in_bits, out_bits)
    h, low = split_bits(in_bits)
    e = {k: float(hi["energy_j"][k] + lo["energy_j"][k]) for k in hi["energy_j"]}
    out = dict(hi)
    macs = int(hi["macs"])  # the same MVM (every weight once) in each phase
    out.update({
        "x": np.asarray(x).tolist(),
        "code": code.astype(int).tolist(),
        "y_ideal": combine_ideal(hi["y_ideal"], lo["y_ideal"], in_bits).tolist(),
        "y_target": combine_ideal(hi["y_target"], lo["y_target"], in_bits).tolist(),
        "energy_j": e, "macs": macs, "energy_per_mac_j": e["total"] / macs,
        "latency_s": float(hi["latency_s"] + lo["latency_s"]),
        "in_bits": int(in_bits), "out_bits": int(out_bits),
        "wall_s": float(hi.get("wall_s", 0.0) + lo.get("wall_s", 0.0)),
        "phases": 2, "adc_full_scale_v": float(adc_full_scale_v), "n_clipped": n_clip,
        "phase_split_bits": [h, low],
        "phase_in_bits": [hi["in_bits"], lo["in_bits"]],
        "phase_out_bits": [hi["out_bits"], lo["out_bits"]],
        "phase_adc_full_scale_v": [hi["adc_full_scale_v"], lo["adc_full_scale_v"]],
        "phase_shift": 2 ** low,
        "phase_x": [hi["x"], lo["x"]],
        "phase_codes": [hi["code"], lo["code"]],
        "phase_y_ideal": [hi["y_ideal"], lo["y_ideal"]],
        "phase_energy_j": [hi["energy_j"], lo["energy_j"]],
        "phase_latency_s": [hi["latency_s"], lo["latency_s"]],
    })
    for k in _PLANE_KEYS:
        if k in hi and k in lo:
            out[k] = [list(pl) + list(ph) for pl, ph in zip(lo[k], hi[k])]
    return out


__all__ = ["FLAG_NAMES", "MIN_TWO_PHASE_IN_BITS", "TWO_PHASE_FROM_IN_BITS", "check_phases", "combine_ideal",
           "combine_results", "default_phases", "phase_full_scale_v", "phase_widths",
           "shift_add", "split_bits", "split_inputs"]

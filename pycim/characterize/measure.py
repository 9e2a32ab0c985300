"""Measurements on sweep results: transfer-curve fit (gain, offset, INL, DNL), I-V checks."""

from __future__ import annotations

import numpy as np


def code_range(out_bits: int) -> tuple[int, int]:
    """(lowest, highest) signed output code of ``out_bits``."""
    return -(2 ** (out_bits - 1)), 2 ** (out_bits - 1) - 1


def ideal_staircase(y_ideal, out_bits: int) -> np.ndarray:
    """Codes of a perfect floor-quantising converter: clip(floor(y), lo, hi)."""
    lo, hi = code_range(out_bits)
    return np.clip(np.floor(np.asarray(y_ideal, dtype=float)), lo, hi)


def unsaturated(y_ideal, out_bits: int) -> np.ndarray:
    """Mask of points whose ideal code lies strictly inside the range (no clipping either way)."""
    lo, hi = code_range(out_bits)
    y = np.asarray(y_ideal, dtype=float)
    return (y >= lo + 1) & (y < hi)


def transfer_fit(y_ideal, code, out_bits: int) -> dict:
    """Linear fit code = gain * y_ideal + offset over unsaturated points.

    ``offset_lsb`` is reported relative to the floor staircase's own offset (-0.5 LSB), so a
    perfect converter has gain 1, offset 0. ``inl_lsb`` is max |code - fit| (a perfect floor
    quantiser gives up to 0.5 LSB); ``err_max_lsb`` is max |code - floor(y)|; ``dnl_lsb`` is
    max |step widths - 1| estimated from the code transitions, only when the points are dense
    enough (NaN otherwise: at least 4 points per code and every code between min and max hit).
    ``inl_bin_lsb`` is the INL in the transition-level sense, estimated from scattered points:
    the largest distance of a point's fitted value u = gain * y + offset_lsb (floor-staircase
    convention) from its code's bin [code, code + 1), 0 for a perfect converter. Every such
    distance is a distance of some code transition from the fitted line, so it is a lower bound
    of the true INL that tends to it as points get dense.
    """
    y = np.asarray(y_ideal, dtype=float).ravel()
    c = np.asarray(code, dtype=float).ravel()
    m = unsaturated(y, out_bits)
    out = {"n_points": int(y.size), "n_fit": int(m.sum()), "gain": np.nan, "offset_lsb": np.nan,
           "inl_lsb": np.nan, "dnl_lsb": np.nan, "inl_bin_lsb": np.nan,
           "err_max_lsb": float(np.max(np.abs(c - ideal_staircase(y, out_bits)))) if y.size else np.nan}
    if m.sum() < 2 or np.ptp(y[m]) == 0:
        return out
    gain, off = np.polyfit(y[m], c[m], 1)
    resid = c[m] - (gain * y[m] + off)
    out.update(gain=float(gain), offset_lsb=float(off + 0.5), inl_lsb=float(np.max(np.abs(resid))))
    u = gain * y[m] + off + 0.5
    out["inl_bin_lsb"] = float(np.max(np.maximum(0.0, np.maximum(c[m] - u, u - (c[m] + 1)))))
    out["dnl_lsb"] = dnl_lsb(y[m], c[m])
    return out


def dnl_lsb(y, code) -> float:
    """Max |width - 1| of interior code bins, each transition placed midway between the largest
    y below it and the smallest y at or above it; NaN unless the data resolves the bins."""
    y, code = np.asarray(y, float), np.asarray(code, float)
    codes = np.unique(code)
    if codes.size < 3 or y.size < 4 * codes.size or not np.all(np.diff(codes) == 1):
        return float("nan")
    trans = []
    for k in codes[1:]:
        below, above = y[code < k], y[code >= k]
        if not below.size or not above.size or above.min() - below.max() > 0.25:
            return float("nan")
        trans.append(0.5 * (below.max() + above.min()))
    widths = np.diff(trans)
    return float(np.max(np.abs(widths - 1))) if widths.size else float("nan")

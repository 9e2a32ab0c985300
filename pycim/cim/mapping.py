"""Weights to conductances: W in [-1, 1] -> (G+, G-) -> initial RRAM gap.

One programming model shared by every engine (SPICE and the macro-model), so the same seed
programs identical conductances everywhere.
"""

from __future__ import annotations

import numpy as np

from .. import assumptions
from ..errors import InputError
from ..validate import integer


def weights_to_conductances(w, g_min_s: float | None = None, g_max_s: float | None = None):
    """Differential mapping: G+ = g_min + (g_max - g_min) max(W, 0), G- likewise for -W.

    Returns (g_pos_s, g_neg_s), arrays shaped like ``w``. Refuses values outside [-1, 1] or
    non-finite (no silent clipping).
    """
    g_min = assumptions.value("g_min_s") if g_min_s is None else g_min_s
    g_max = assumptions.value("g_max_s") if g_max_s is None else g_max_s
    if not (0 < g_min < g_max):
        raise InputError(f"need 0 < g_min_s < g_max_s, got {g_min}, {g_max}")
    w = np.asarray(w, dtype=float)
    if w.size == 0:
        raise InputError("weights are empty")
    if not np.all(np.isfinite(w)):
        raise InputError("weights contain NaN or inf")
    if np.any(np.abs(w) > 1.0):
        raise InputError(f"weights must lie in [-1, 1]; max |W| = {np.max(np.abs(w)):.4g}")
    span = g_max - g_min
    return g_min + span * np.maximum(w, 0.0), g_min + span * np.maximum(-w, 0.0)


def interleave_rows(g_pos_s, g_neg_s):
    """Physical conductance matrix (2 n_in, n_out): row 2i holds G+, row 2i+1 holds G-."""
    gp, gn = np.asarray(g_pos_s, float), np.asarray(g_neg_s, float)
    if gp.shape != gn.shape or gp.ndim != 2:
        raise InputError("G+ and G- must be 2-D arrays of the same shape")
    g = np.empty((2 * gp.shape[0], gp.shape[1]))
    g[0::2], g[1::2] = gp, gn
    return g


def transposable_blocks(g_pos_s, g_neg_s):
    """Physical conductance matrix (2 n_in, 2 n_out) of the transposable mapping.

    Weight (i, j) takes the 2 x 2 block rows 2i..2i+1, columns 2j..2j+1: G+ on the diagonal,
    G- off it. Rows 2i / 2i+1 carry +x / -x in forward, columns 2j / 2j+1 carry +x / -x in
    backward, so column 2j (forward) and row 2i (backward) both settle to
    Vread * sum x (G+ - G-) / sum (G+ + G-): backward on W is forward on W^T. The odd lines
    settle to the negated value (a spare differential copy, not sensed).
    """
    gp, gn = np.asarray(g_pos_s, float), np.asarray(g_neg_s, float)
    if gp.shape != gn.shape or gp.ndim != 2:
        raise InputError("G+ and G- must be 2-D arrays of the same shape")
    g = np.empty((2 * gp.shape[0], 2 * gp.shape[1]))
    g[0::2, 0::2], g[1::2, 1::2] = gp, gp
    g[0::2, 1::2], g[1::2, 0::2] = gn, gn
    return g


def physical_conductances(g_pos_s, g_neg_s, mapping: str = "row_pair"):
    """The programmed array for ``mapping`` ("row_pair" or "transposable")."""
    if mapping == "row_pair":
        return interleave_rows(g_pos_s, g_neg_s)
    if mapping == "transposable":
        return transposable_blocks(g_pos_s, g_neg_s)
    raise InputError(f"mapping must be row_pair or transposable, got {mapping!r}")


#: lines per TNSA corelet (16 x 16 corelets, one neuron each)
CORELET = 16


def tnsa_taps(rows: int, cols: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(bl_tap, sl_tap): column of each BL's port and row of each SL's port (the centre of the
    corelet of the line's neuron, clipped to the array for a partial corelet)."""
    integer(rows, "rows", 1, 512)
    integer(cols, "cols", 1, 512)
    n_r, n_c = -(-rows // CORELET), -(-cols // CORELET)
    bl = tuple(min(CORELET * ((r % CORELET) % n_c) + CORELET // 2, cols - 1) for r in range(rows))
    sl = tuple(min(CORELET * ((c % CORELET) % n_r) + CORELET // 2, rows - 1) for c in range(cols))
    return bl, sl

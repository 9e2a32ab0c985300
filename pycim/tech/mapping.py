"""Weights to conductances: W in [-1, 1] -> (G+, G-) -> initial RRAM gap.

One programming model shared by every engine (SPICE and the macro-model), so the same seed
programs identical conductances everywhere.
"""

from __future__ import annotations

import numpy as np

from .. import assumptions
from ..errors import InputError


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

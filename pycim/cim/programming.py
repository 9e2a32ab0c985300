"""Programming model: weights -> target conductances -> the write-verify result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mapping import weights_to_conductances


@dataclass(frozen=True)
class Programmed:
    g_pos_s: np.ndarray
    g_neg_s: np.ndarray


def program(w: np.ndarray, seed: int, noise: bool = True, tol_s: float = 1e-6) -> Programmed:
    """Write-verify programming model shared by every engine.

    Targets from the differential mapping; write-verify leaves each cell within +-tol_s of its
    target (authors' code: +-1 uS), modelled as a normal error of sigma tol_s/2 that the verify
    loop truncates at +-tol_s. Same seed, same conductances, whatever the engine.
    """
    gp, gn = weights_to_conductances(w)
    if noise:
        rng = np.random.default_rng(seed)
        e = rng.normal(0.0, tol_s / 2, (2,) + gp.shape)
        e = np.clip(e, -tol_s, tol_s)  # the verify loop stops only inside the tolerance band
        gp = np.maximum(gp + e[0], 0.5e-6)
        gn = np.maximum(gn + e[1], 0.5e-6)
    return Programmed(gp, gn)

"""Sampling helpers for transient waveforms."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def sample(time_s: np.ndarray, y: np.ndarray, at_s) -> np.ndarray:
    """Linear interpolation of ``y(time_s)`` at ``at_s``; refuses times outside the waveform."""
    at = np.asarray(at_s, dtype=float)
    if at.size and (at.min() < time_s[0] or at.max() > time_s[-1]):
        raise InputError(f"sample time outside the simulated window [{time_s[0]:g}, {time_s[-1]:g}] s")
    return np.interp(at, time_s, y)

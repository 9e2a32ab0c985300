"""Input encoding: validated weights and integer inputs, signed magnitude bit planes."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..validate import integer

#: widest signed input one phase integrates (the chip splits wider inputs into two phases)
MAX_IN_BITS = 8


def check_weights(w: np.ndarray) -> np.ndarray:
    """Float (or integer) weights (n_in, n_out) in [-1, 1] -> float64; every check runs in
    ``w``'s own dtype before the cast, so nothing wraps, overflows or rounds into range."""
    if w.dtype.kind not in "fiu":
        raise InputError(f"--weights: need a float array, got dtype {w.dtype}")
    if w.ndim != 2 or 0 in w.shape:
        raise InputError(f"--weights: need a 2-D (n_in, n_out) array, got shape {w.shape}")
    if w.shape[0] > 128 or w.shape[1] > 256:
        raise InputError(f"--weights: shape {w.shape} exceeds one core (128 signed rows x 256 cols)")
    if w.dtype.kind == "f" and not np.all(np.isfinite(w)):
        raise InputError("--weights: contains NaN or inf")
    if np.any((w > 1) | (w < -1)):  # in w's dtype, before any cast
        # largest |W| exactly: Python ints for integer arrays (abs of the int minimum wraps)
        m = (max(abs(int(w.max())), abs(int(w.min()))) if w.dtype.kind in "iu"
             else np.abs(w).max())
        raise InputError(f"--weights: values must lie in [-1, 1], max |W| = {m:.4g}")
    return w.astype(float)


def check_inputs(x: np.ndarray, n: int, in_bits: int) -> np.ndarray:
    """Integers (n,) or (batch, n) in the signed in_bits range (0/1 for 1 bit) -> (batch, n)
    int64. Range and integrality are checked in ``x``'s own dtype (uint64, float128, ...)
    before any cast, so nothing wraps or saturates into range."""
    integer(in_bits, "--in-bits", 1, 8)
    if x.dtype.kind not in "iuf":
        raise InputError(f"--x: need an integer array, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n or x.shape[0] == 0:
        raise InputError(f"--x: need shape ({n},) or (batch, {n}), got {x.shape}")
    lo, hi = (0, 1) if in_bits == 1 else (-(2 ** (in_bits - 1) - 1), 2 ** (in_bits - 1) - 1)
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if np.any(bad):
            raise InputError(f"--x: values must be integers, got {x[bad].flat[0]}")
    out = (x < lo) | (x > hi)  # numpy compares mixed signed/unsigned exactly
    if np.any(out):
        raise InputError(f"--x: values must lie in [{lo}, {hi}] for --in-bits {in_bits}, "
                         f"got [{x.min()}, {x.max()}]")  # in x's own dtype
    if x.dtype.kind == "f" and np.any(x != np.round(x)):
        raise InputError(f"--x: values must be integers, got {x[x != np.round(x)].flat[0]}")
    return x.astype(np.int64)


def magnitude_planes(in_bits: int) -> int:
    """Number of magnitude bit planes: in_bits - 1 (signed), 1 for 1-bit (0/1) inputs."""
    return 1 if in_bits == 1 else in_bits - 1


def bit_planes(x: np.ndarray, in_bits: int, dtype=float) -> np.ndarray:
    """Signed planes (batch, planes, n) in {-1, 0, +1}, LSB first: x = sum_n 2^n plane_n.
    ``x``: integers (batch, n); ``dtype`` of the result (float64 by default)."""
    m = magnitude_planes(in_bits)
    x = np.asarray(x)
    shifts = np.arange(m, dtype=x.dtype)[:, None]
    bits = (np.abs(x)[:, None, :] >> shifts) & 1  # (batch, planes, n)
    return np.multiply(bits, np.sign(x)[:, None, :], dtype=dtype)


def plane_weights(in_bits: int) -> np.ndarray:
    """Weight 2^n of magnitude plane n (LSB first): how many windows integrate it."""
    return 2.0 ** np.arange(magnitude_planes(in_bits))


def line_planes(planes: np.ndarray, direction: str, mapping: str) -> np.ndarray:
    """The level of each physical drive line per plane, in {-1, 0, +1}: forward rows (and
    backward columns of the transposable mapping) are signed pairs, line 2i = +x, 2i+1 = -x."""
    if direction == "forward" or mapping == "transposable":
        out = np.repeat(planes, 2, axis=-1)
        out[..., 1::2] *= -1
        return out
    return np.array(planes, dtype=float)

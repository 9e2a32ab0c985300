"""``pycim mvm`` inputs: loading and validating W.npy / X.npy, bit planes, programming."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..netlist.validate import integer
from ..tech.mapping import weights_to_conductances


def load_npy(path: str | Path, what: str) -> np.ndarray:
    p = Path(path)
    if p.exists() and not p.is_file():
        raise InputError(f"{what}: {p} is not a regular file (need a .npy file)")
    if not p.is_file():
        raise InputError(f"{what}: file not found: {p}")
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for a bad file
        raise InputError(f"{what}: cannot read {p} as .npy ({type(exc).__name__}: {exc})") from None
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{what}: {p} holds no array")
    return arr


def check_weights(w: np.ndarray) -> np.ndarray:
    if w.dtype.kind not in "fiu":
        raise InputError(f"--weights: need a float array, got dtype {w.dtype}")
    w = w.astype(float)
    if w.ndim != 2 or 0 in w.shape:
        raise InputError(f"--weights: need a 2-D (n_in, n_out) array, got shape {w.shape}")
    if w.shape[0] > 128 or w.shape[1] > 256:
        raise InputError(f"--weights: shape {w.shape} exceeds one core (128 signed rows x 256 cols)")
    if not np.all(np.isfinite(w)):
        raise InputError("--weights: contains NaN or inf")
    if np.any(np.abs(w) > 1):
        raise InputError(f"--weights: values must lie in [-1, 1], max |W| = {np.abs(w).max():.4g}")
    return w


def check_inputs(x: np.ndarray, n: int, in_bits: int) -> np.ndarray:
    """Integers (n,) or (batch, n) in the signed in_bits range (0/1 for 1 bit) -> (batch, n)."""
    integer(in_bits, "--in-bits", 1, 8)
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise InputError("--x: values must be integers")
        x = x.astype(np.int64)
    if x.dtype.kind not in "iu":
        raise InputError(f"--x: need an integer array, got dtype {x.dtype}")
    x = np.asarray(x, dtype=np.int64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n or x.shape[0] == 0:
        raise InputError(f"--x: need shape ({n},) or (batch, {n}), got {x.shape}")
    lo, hi = (0, 1) if in_bits == 1 else (-(2 ** (in_bits - 1) - 1), 2 ** (in_bits - 1) - 1)
    if x.min() < lo or x.max() > hi:
        raise InputError(f"--x: values must lie in [{lo}, {hi}] for --in-bits {in_bits}, "
                         f"got [{x.min()}, {x.max()}]")
    return x


def magnitude_planes(in_bits: int) -> int:
    """Number of magnitude bit planes: in_bits - 1 (signed), 1 for 1-bit (0/1) inputs."""
    return 1 if in_bits == 1 else in_bits - 1


def bit_planes(x: np.ndarray, in_bits: int) -> np.ndarray:
    """Signed planes (batch, planes, n) in {-1, 0, +1}, LSB first: x = sum_n 2^n plane_n."""
    m = magnitude_planes(in_bits)
    mag, sgn = np.abs(x), np.sign(x)
    return np.stack([sgn * ((mag >> k) & 1) for k in range(m)], axis=1).astype(float)


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

"""Network layers for the chip macro-model: dense and conv (im2col), tiling onto 128 x 256 cores.

A layer's weight matrix (dense: (n_in, n_out); conv: (kh kw c_in, c_out) after im2col) is cut
into tiles of at most 128 rows x 256 columns (one core each with the row_pair mapping). Tile
(r, c) holds rows 128 r ... and columns 256 c ...; the partial sums of the row tiles of one
column block are added digitally (:mod:`pycim.macro.chip`).

Activation quantiser (the inputs of every layer): a = step q with
q = clip(rint(a / step), -(2^(b-1) - 1), 2^(b-1) - 1) (``in_bits`` b; 0/1 for 1 bit). ``step`` is
fixed per layer (calibrated on training data by the caller); ReLU outputs use 0..2^(b-1)-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .core import CORE_IN, CORE_OUT, check_bits, input_range
from .inputs import unmasked

ACTIVATIONS = ("none", "relu")


def finite_reals(x, what: str) -> np.ndarray:
    """``x`` as a float64 array of finite real numbers (bools count as 0 / 1); InputError
    naming ``what`` and a NaN or infinite value, a masked array or a non-numeric dtype."""
    a = unmasked(x, what)
    if a.dtype.kind not in "biuf":
        raise InputError(f"{what}: need real numbers, got dtype {a.dtype}")
    a = a.astype(float)
    if not np.all(np.isfinite(a)):
        nan = np.isnan(a)
        bad = nan if nan.any() else ~np.isfinite(a)
        raise InputError(f"{what}: contains {'NaN' if nan.any() else 'infinite values'} "
                         f"({int(bad.sum())} of {a.size}, the first at flat index "
                         f"{int(np.flatnonzero(bad)[0])}); finite numbers are needed")
    return a


def _step(step, what: str) -> float:
    """A quantiser step: a finite number > 0 (Python or numpy, not a bool or string)."""
    if isinstance(step, (bool, np.bool_)) \
            or not isinstance(step, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(step) and step > 0):
        raise InputError(f"{what} must be a positive finite number, got {step!r}")
    return float(step)


def _check_common(name: str, w: np.ndarray, bias, activation: str, in_step) -> float:
    """Check a layer's fields; returns ``in_step`` as float."""
    if not isinstance(name, str) or not name:
        raise InputError(f"layer name must be a non-empty string, got {name!r}")
    if w.dtype.kind not in "fiu" or w.size == 0 or not np.all(np.isfinite(w)):
        raise InputError(f"layer {name!r}: weights must be finite numbers")
    if not np.any(w):
        raise InputError(f"layer {name!r}: weights are all zero")
    if bias is not None:
        b = unmasked(bias, f"layer {name!r}: bias")
        if b.dtype.kind not in "fiu":
            raise InputError(f"layer {name!r}: bias must be numbers, got dtype {b.dtype}")
        if b.shape != (w.shape[-1],) or not np.all(np.isfinite(b)):
            raise InputError(f"layer {name!r}: bias must be finite with shape ({w.shape[-1]},), "
                             f"got {b.shape}")
    if activation not in ACTIVATIONS:
        raise InputError(f"layer {name!r}: activation must be one of {', '.join(ACTIVATIONS)}, "
                         f"got {activation!r}")
    return _step(in_step, f"layer {name!r}: in_step")


@dataclass(frozen=True)
class Dense:
    """y = act(x W + b). weights (n_in, n_out); ``in_step`` is the input quantiser's step."""

    name: str
    weights: np.ndarray
    bias: np.ndarray | None = None
    activation: str = "none"
    in_step: float = 1.0

    def __post_init__(self) -> None:
        w = unmasked(self.weights, f"layer {self.name!r}: weights")
        if w.ndim != 2:
            raise InputError(f"layer {self.name!r}: dense weights must be (n_in, n_out), "
                             f"got shape {w.shape}")
        object.__setattr__(self, "in_step",
                           _check_common(self.name, w, self.bias, self.activation, self.in_step))
        object.__setattr__(self, "weights", w.astype(float))
        if self.bias is not None:
            object.__setattr__(self, "bias", np.asarray(self.bias, dtype=float))

    @property
    def matrix(self) -> np.ndarray:
        return self.weights

    def vectors(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        """(batch, n_in) -> the MVM input vectors and the output shape prefix."""
        x = unmasked(x, f"layer {self.name!r}: input")
        if x.ndim != 2 or x.shape[1] != self.weights.shape[0]:
            raise InputError(f"layer {self.name!r}: input must be (batch, "
                             f"{self.weights.shape[0]}), got {x.shape}")
        return x, (x.shape[0],)


@dataclass(frozen=True)
class Conv2d:
    """y = act(conv(x, W) + b) on NHWC inputs. weights (kh, kw, c_in, c_out); im2col turns each
    output position into one MVM vector of length kh kw c_in (order kh, kw, c_in)."""

    name: str
    weights: np.ndarray
    bias: np.ndarray | None = None
    activation: str = "none"
    in_step: float = 1.0
    stride: int = 1
    padding: int = 0

    def __post_init__(self) -> None:
        w = unmasked(self.weights, f"layer {self.name!r}: weights")
        if w.ndim != 4:
            raise InputError(f"layer {self.name!r}: conv weights must be (kh, kw, c_in, c_out), "
                             f"got shape {w.shape}")
        object.__setattr__(self, "in_step",
                           _check_common(self.name, w, self.bias, self.activation, self.in_step))
        for k in ("stride", "padding"):
            v = getattr(self, k)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) \
                    or v < (1 if k == "stride" else 0):
                raise InputError(f"layer {self.name!r}: {k} must be an integer >= "
                                 f"{1 if k == 'stride' else 0}, got {v!r}")
            object.__setattr__(self, k, int(v))
        object.__setattr__(self, "weights", w.astype(float))
        if self.bias is not None:
            object.__setattr__(self, "bias", np.asarray(self.bias, dtype=float))

    @property
    def matrix(self) -> np.ndarray:
        kh, kw, ci, co = self.weights.shape
        return self.weights.reshape(kh * kw * ci, co)

    def vectors(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        """(batch, H, W, c_in) -> (batch Ho Wo, kh kw c_in) and (batch, Ho, Wo)."""
        x = unmasked(x, f"layer {self.name!r}: input")
        kh, kw, ci, _ = self.weights.shape
        if x.ndim != 4 or x.shape[3] != ci:
            raise InputError(f"layer {self.name!r}: input must be (batch, H, W, {ci}), "
                             f"got {x.shape}")
        return im2col(x, kh, kw, self.stride, self.padding, self.name)


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int, name: str = "conv"):
    """NHWC input -> (batch Ho Wo, kh kw C) patches (order kh, kw, C) and (batch, Ho, Wo)."""
    p = padding
    if p:
        x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    b, h, w, c = x.shape
    if h < kh or w < kw:
        raise InputError(f"layer {name!r}: input {h} x {w} (padded) is smaller than the "
                         f"{kh} x {kw} kernel")
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # b,Ho,Wo,C,kh,kw
    win = win[:, ::stride, ::stride]
    ho, wo = win.shape[1], win.shape[2]
    cols = np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(b * ho * wo, kh * kw * c)
    return cols, (b, ho, wo)


def quantize(a: np.ndarray, step: float, in_bits: int) -> np.ndarray:
    """The activation quantiser: clip(rint(a / step)) to the in_bits input range, int64.

    Parameters
    ----------
    a : array_like of finite real numbers (bools count as 0 / 1).
    step : the quantiser's step, a finite number > 0.
    in_bits : input width 1..8 (the range: :func:`pycim.macro.core.input_range`).

    Returns
    -------
    np.ndarray
        int64, the shape of ``a``.

    Raises
    ------
    InputError
        A NaN or infinite ``a`` (named), a masked or non-numeric ``a``, a bad step or width.
    """
    in_bits = check_bits(in_bits, "in_bits")
    step = _step(step, "step")
    a = finite_reals(a, "a")
    lo, hi = input_range(in_bits)
    return np.clip(np.rint(a / step), lo, hi).astype(np.int64)


@dataclass(frozen=True)
class Tile:
    """One core's share of a layer: weight rows [r0, r1), columns [c0, c1)."""

    layer: str
    core: int
    r0: int
    r1: int
    c0: int
    c1: int


def tiles_for(n_in: int, n_out: int, layer: str, first_core: int) -> list[Tile]:
    """Row-major 128 x 256 tiles of an (n_in, n_out) matrix, numbered from ``first_core``."""
    out = []
    for c0 in range(0, n_out, CORE_OUT):
        for r0 in range(0, n_in, CORE_IN):
            out.append(Tile(layer, first_core + len(out), r0, min(r0 + CORE_IN, n_in), c0,
                            min(c0 + CORE_OUT, n_out)))
    return out


def plan(layers, n_cores: int = 48) -> list[list[Tile]]:
    """Tiles of every layer on consecutive cores; InputError naming the first layer that does
    not fit, with the cores the whole network needs."""
    names = [l.name for l in layers]
    if len(set(names)) != len(names):
        raise InputError(f"layers: names must be unique, got {names}")
    if not layers:
        raise InputError("layers: need at least one layer")
    out, used = [], 0
    for l in layers:
        n_in, n_out = l.matrix.shape
        t = tiles_for(n_in, n_out, l.name, used)
        out.append(t)
        used += len(t)
    if used > n_cores:
        first = next(ts for ts in out if ts[-1].core >= n_cores)
        l = layers[[ts[0].layer for ts in out].index(first[0].layer)]
        n_in, n_out = l.matrix.shape
        raise InputError(
            f"network does not fit the chip: layer {first[0].layer!r} ({n_in} x {n_out}) needs "
            f"{len(first)} cores (#{first[0].core}..#{first[-1].core}); the network needs "
            f"{used} cores, the chip has {n_cores}")
    return out


__all__ = ["ACTIVATIONS", "Conv2d", "Dense", "Tile", "im2col", "plan", "quantize", "tiles_for"]

"""Checks of the macro-model's arguments and inputs: widths, counts, the ADC full scale and
integer input vectors (one module below :mod:`pycim.macro.core` and :mod:`pycim.macro.model`,
which both check inputs)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..validate import number


def check_bits(value, what: str, hi: int = 8) -> int:
    """A width 1..8 (inputs; ``hi`` = ``MAX_OUT_BITS`` = 10 for outputs)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 1 <= value <= hi:
        raise InputError(f"{what} must be an integer in 1..{hi}, got {value!r}")
    return int(value)


def unmasked(x, what: str) -> np.ndarray:
    """``np.asarray(x)``, refusing a masked array (its mask would be silently dropped)."""
    if isinstance(x, np.ma.MaskedArray):
        raise InputError(f"{what}: masked arrays are not accepted (the mask would be ignored)")
    return np.asarray(x)


def _check_fs(adc_fs_v, what: str = "adc_fs_v") -> float:
    """An ADC full scale in the neuron's range (one-line error otherwise)."""
    from ..cim.request import ADC_FS_RANGE_V

    lo, hi = ADC_FS_RANGE_V
    try:
        return number(adc_fs_v, what, lo=lo, hi=hi)
    except InputError:
        raise InputError(f"{what} must be a number in {lo:g}..{hi:g} V, got {adc_fs_v!r}"
                         ) from None


def input_range(in_bits: int) -> tuple[int, int]:
    """Allowed integer inputs: [0, 1] for 1 bit, else the symmetric signed range
    [-(2^(b-1) - 1), 2^(b-1) - 1] (sign + magnitude planes, as the drivers apply them)."""
    return (0, 1) if in_bits == 1 else (-(2 ** (in_bits - 1) - 1), 2 ** (in_bits - 1) - 1)


def checked_inputs(x, n: int, in_bits: int, what: str = "x", bounds: bool = True
                   ) -> np.ndarray:
    """Integer-valued inputs (n,) or (batch, n) in the in_bits range -> (batch, n), not copied.

    Cheap on purpose (min/max, plus one comparison for float input): this sits on the
    macro-model's throughput path. ``bounds=False`` leaves out the range (min / max) check of
    signed-integer inputs, for a caller that checks the range itself (:meth:`FastChain.run`
    on its table index) and calls this again to raise.
    """
    x = unmasked(x, what)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n or x.shape[0] == 0:
        raise InputError(f"{what}: need shape ({n},) or (batch, {n}), got {x.shape}")
    if x.dtype.kind not in "iuf":
        raise InputError(f"{what}: need an integer array, got dtype {x.dtype}")
    if not bounds and x.dtype.kind == "i":
        return x
    lo, hi = input_range(in_bits)
    mn, mx = x.min(), x.max()
    if not (lo <= mn and mx <= hi):  # also catches NaN
        raise InputError(f"{what}: values must lie in [{lo}, {hi}] for in_bits {in_bits}, "
                         f"got [{mn:g}, {mx:g}]")
    if x.dtype.kind == "f" and not np.array_equal(x, np.rint(x)):
        raise InputError(f"{what}: values must be integers")
    return x


def as_inputs(x, n: int, in_bits: int, what: str = "x") -> np.ndarray:
    """:func:`checked_inputs` as float32."""
    return checked_inputs(x, n, in_bits, what).astype(np.float32)

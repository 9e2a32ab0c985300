"""SKY130 bin selection: which of a device's binned BSIM4 cards ngspice uses for a geometry."""

from __future__ import annotations

import math

from ..errors import InputError
from .sky130_pdk import Bin, Device, check_corner, check_device, device_info

#: ngspice's bin test tolerance (inpgmod.c ``is_equal``: ``fabs(a - b) < 1e-9``, in metres).
BIN_TOL_M = 1e-9


def _in_range(v: float, lo: float, hi: float) -> bool:
    # ngspice 46 inpgmod.c in_range(): closed interval with a 1e-9 absolute tolerance.
    return abs(v - lo) < BIN_TOL_M or abs(v - hi) < BIN_TOL_M or lo < v < hi


def select_bin(dev: Device, device: str, w_m: float, l_m: float, nf: int) -> Bin:
    """The bin ngspice 46 selects (INPgetModBin).

    ngspice walks its model table, which INPmakeMod fills by prepending, so the LAST bin in
    file order that contains (L, W/nf) wins; containment is the closed interval with a 1 nm
    tolerance. W is per finger: ngspice divides by nf when ``wnflag=1`` (``.options wnflag=1``
    or the PDK's recommended ``set ngbehavior=hsa``); without it ngspice bins on the total
    width, which for nf > 1 selects a bin characterised for wider devices.
    """
    w_bin = w_m / nf
    for b in reversed(dev.bins):
        if _in_range(l_m, b.lmin, b.lmax) and _in_range(w_bin, b.wmin, b.wmax):
            return b

    def dist(b: Bin) -> float:
        dl = 0.0 if b.lmin <= l_m <= b.lmax else min(abs(math.log(l_m / b.lmin)),
                                                      abs(math.log(l_m / b.lmax)))
        dw = 0.0 if b.wmin <= w_bin <= b.wmax else min(abs(math.log(w_bin / b.wmin)),
                                                        abs(math.log(w_bin / b.wmax)))
        return dl + dw

    near = min(dev.bins, key=dist)
    lo_l = min(b.lmin for b in dev.bins) * 1e6
    hi_l = max(b.lmax for b in dev.bins) * 1e6
    lo_w = min(b.wmin for b in dev.bins) * 1e6
    hi_w = max(b.wmax for b in dev.bins) * 1e6
    raise InputError(
        f"no {device} bin covers W={w_m * 1e6:g} um (per finger {w_bin * 1e6:g} um, nf={nf}), "
        f"L={l_m * 1e6:g} um; nearest bin {near.name} covers W {near.wmin * 1e6:g}-"
        f"{near.wmax * 1e6:g} um per finger, L {near.lmin * 1e6:g}-{near.lmax * 1e6:g} um "
        f"(all bins: W {lo_w:g}-{hi_w:g} um, L {lo_l:g}-{hi_l:g} um)")


def bins(device: str, corner: str = "tt") -> list[tuple[str, float, float, float, float]]:
    """The device's bins as ``(name, lmin_m, lmax_m, wmin_m, wmax_m)`` in file order."""
    dev = device_info(check_corner(corner), check_device(device))
    return [(b.name, b.lmin, b.lmax, b.wmin, b.wmax) for b in dev.bins]


__all__ = ["BIN_TOL_M", "bins", "select_bin"]

"""Transistor mismatch for Monte Carlo: a seeded per-instance threshold shift (BSIM4 ``delvto``).

Every MOSFET instance keeps its flat model card (one card per device, geometry and corner) and
gets its own ``delvto`` = (the card's own ``delvto``, e.g. a corner's) + ``scale`` * sigma * z,
with sigma the PDK's Pelgrom sigma for that device and geometry
(:func:`pycim.tech.sky130.vth_mismatch_sigma_v`) and z a standard normal drawn from
(``seed``, instance name): the same run seed gives the same shifts whatever the emission order,
and a different seed an independent sample.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..errors import InputError
from .circuit import Circuit, Element, Mosfet


def instance_normal(seed: int, name: str) -> float:
    """Standard normal sample for instance ``name`` in Monte Carlo run ``seed``."""
    h = int.from_bytes(hashlib.sha256(b"pycim-mismatch\0" + name.lower().encode()).digest()[:8],
                       "little")
    return float(np.random.default_rng([int(seed), h]).standard_normal())


def device_of(model: str) -> str | None:
    """SKY130 device of a flat card's model name (``nfet_01v8__tt__w2__l0p6`` -> nfet_01v8)."""
    from ..tech.sky130 import DEVICES

    dev = model.split("__")[0].lower()
    return dev if dev in DEVICES else None


def delvto_map(seed: int, scale: float = 1.0,
               select: Callable[[Mosfet], bool] | None = None) -> Callable[[Element], Element]:
    """An element map (:meth:`Circuit.map_elements`) adding mismatch to SKY130 MOSFETs.

    ``scale``: multiple of the PDK's sigma (1 = the PDK's mismatch). ``select``: which
    instances (default: every SKY130 MOSFET: access FETs, drivers, the neurons' OTA, switches
    and latches).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"mismatch seed must be an integer >= 0, got {seed!r}")
    if not (0.0 <= float(scale) <= 10.0):
        raise InputError(f"mismatch scale must be in 0..10 (multiples of the PDK sigma), "
                         f"got {scale}")
    from ..tech.sky130 import vth_mismatch_sigma_v

    sigmas: dict[tuple, float] = {}

    def fn(e: Element) -> Element:
        if not isinstance(e, Mosfet) or (select is not None and not select(e)):
            return e
        dev = device_of(e.model)
        if dev is None:
            return e
        key = (dev, e.w_m, e.l_m)
        if key not in sigmas:
            sigmas[key] = vth_mismatch_sigma_v(dev, e.w_m, e.l_m)
        dv = scale * sigmas[key] * instance_normal(seed, e.name)
        params = dict(e.params)
        params["delvto"] = params.get("delvto", 0.0) + dv
        return replace(e, params=tuple(params.items()))

    return fn


def apply_mismatch(circuit: Circuit, seed: int, scale: float = 1.0,
                   select: Callable[[Mosfet], bool] | None = None) -> Circuit:
    """Add :func:`delvto_map` to ``circuit`` (no-op for ``scale`` 0); returns the circuit."""
    if scale > 0:
        circuit.map_elements(delvto_map(seed, scale, select))
    return circuit


def instance_shifts(circuit: Circuit) -> dict[str, float]:
    """``delvto`` of every MOSFET as emitted (name -> volts; 0 when absent)."""
    return {e.name: dict(e.params).get("delvto", 0.0) for e in circuit.iter_elements()
            if isinstance(e, Mosfet)}

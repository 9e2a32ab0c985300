"""Energy from a transient: what each source delivered, grouped by what it powers."""

from __future__ import annotations

import numpy as np

from ..netlist.circuit import Circuit, VSource


def energy_by_group(res, circuit: Circuit, groups: dict[str, str]) -> dict[str, float]:
    """Energy delivered by each source, -integral(V * i) (SPICE: i flows into the + node),
    summed per group; also ``total``."""
    t = res["time"]
    out: dict[str, float] = {}
    for e in circuit.iter_elements():
        if not isinstance(e, VSource):
            continue
        name = e.name.lower()
        v = res[e.np_] if e.np_ != "0" else 0.0
        if e.nn != "0":
            v = v - res[e.nn]
        p = -np.asarray(v) * res[f"i({name})"]
        out[groups.get(name, "neuron")] = out.get(groups.get(name, "neuron"), 0.0) + float(
            np.trapezoid(p, t))
    out["total"] = sum(v for k, v in out.items())
    return out

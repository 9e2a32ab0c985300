"""Energy from a transient: what each source delivered, grouped by what it powers."""

from __future__ import annotations

import numpy as np

from ..netlist.circuit import Circuit, VSource


def energy_by_group(res, circuit: Circuit, groups: dict[str, str],
                    logic=frozenset()) -> dict[str, float]:
    """Energy delivered by each source, -integral(V * i) (SPICE: i flows into the + node),
    summed per group; also ``total``.

    ``logic`` (lower-case source names): ideal control waveforms that stand in for CMOS
    drivers. An ideal ramp source takes back on its falling edge the charge it gave on the
    rising one, which a CMOS driver dumps to ground; so a logic source counts as a driver fed
    from a rail at its high level: V_high x the charge it delivers (V_high the largest level of
    its waveform), C V_high^2 per cycle on a capacitive gate."""
    t = res["time"]
    out: dict[str, float] = {}
    for e in circuit.iter_elements():
        if not isinstance(e, VSource):
            continue
        name = e.name.lower()
        if name in logic:
            v_high = max(v for _, v in e.pwl) if e.pwl else e.dc_v
            q = np.maximum(-np.asarray(res[f"i({name})"], dtype=float), 0.0)
            g = groups.get(name, "neuron")
            out[g] = out.get(g, 0.0) + float(v_high * np.trapezoid(q, t))
            continue
        v = res[e.np_] if e.np_ != "0" else 0.0
        if e.nn != "0":
            v = v - res[e.nn]
        p = -np.asarray(v) * res[f"i({name})"]
        out[groups.get(name, "neuron")] = out.get(groups.get(name, "neuron"), 0.0) + float(
            np.trapezoid(p, t))
    out["total"] = sum(v for k, v in out.items())
    return out

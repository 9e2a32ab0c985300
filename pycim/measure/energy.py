"""Energy from a transient: what each source delivered, grouped by what it powers."""

from __future__ import annotations

import numpy as np

from ..netlist.circuit import Circuit, VSource


def driver_charge(t, i_delivered, pwl) -> float:
    """Charge a CMOS driver would draw from its rail for an ideal control waveform: the net
    charge ``i_delivered`` (A, into the circuit) carries over each level of ``pwl`` (from the
    start of one level change to the start of the next, the first from t = 0, the last to the
    end), summed over the levels where it is positive (a rising edge and its settling; a
    falling edge's charge goes to ground, not back to the rail).

    Counting the rectified current instead, an ideal source driving a gate under the
    trapezoidal rule rings +-i without decay until the next breakpoint, and half of that
    ringing was counted (15 % of the drivers' energy on the 16 x 16 4-bit MVM:
    benchmarks/logic_ringing.py). A constant waveform (``pwl`` empty) is one level."""
    t = np.asarray(t, dtype=float)
    i = np.asarray(i_delivered, dtype=float)
    if t.size < 2:
        return 0.0
    q = np.concatenate([[0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t))])
    pwl = pwl or ()
    starts = [a for (a, va), (_, vb) in zip(pwl, pwl[1:]) if vb != va and t[0] < a < t[-1]]
    cuts = np.interp(np.array([t[0], *sorted(set(starts)), t[-1]]), t, q)
    return float(np.maximum(np.diff(cuts), 0.0).sum())


def energy_by_group(res, circuit: Circuit, groups: dict[str, str],
                    logic=frozenset()) -> dict[str, float]:
    """Energy delivered by each source, -integral(V * i) (SPICE: i flows into the + node),
    summed per group; also ``total``.

    ``logic`` (lower-case source names): ideal control waveforms that stand in for CMOS
    drivers. An ideal ramp source takes back on its falling edge the charge it gave on the
    rising one, which a CMOS driver dumps to ground; so a logic source counts as a driver fed
    from a rail at its high level: V_high x the charge it delivers (V_high the largest level of
    its waveform), C V_high^2 per cycle on a capacitive gate. The charge is counted per level
    (:func:`driver_charge`), so the trapezoidal rule's undamped ringing of an ideal source's
    current between breakpoints cancels instead of being half counted.

    Sources in group ``interface`` (a partitioned MVM's recorded line waveforms) are skipped."""
    t = res["time"]
    out: dict[str, float] = {}
    for e in circuit.iter_elements():
        if not isinstance(e, VSource):
            continue
        name = e.name.lower()
        if groups.get(name) == "interface":  # a partition boundary, not a source of the core
            continue
        if name in logic:
            v_high = max(v for _, v in e.pwl) if e.pwl else e.dc_v
            q = driver_charge(t, -np.asarray(res[f"i({name})"], dtype=float), e.pwl)
            g = groups.get(name, "neuron")
            out[g] = out.get(g, 0.0) + float(v_high * q)
            continue
        v = res[e.np_] if e.np_ != "0" else 0.0
        if e.nn != "0":
            v = v - res[e.nn]
        p = -np.asarray(v) * res[f"i({name})"]
        out[groups.get(name, "neuron")] = out.get(groups.get(name, "neuron"), 0.0) + float(
            np.trapezoid(p, t))
    out["total"] = sum(v for k, v in out.items())
    return out

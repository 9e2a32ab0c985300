"""Deck rewrites for time-step experiments (benchmarks/mvm_step.py ``"ramp_end_breaks": false``);
never used by pycim itself."""

from __future__ import annotations

import re

_PWL = re.compile(r"^(V\S+) (\S+) (\S+) dc (\S+) pwl\(([^)]*)\)$", re.IGNORECASE)


def without_ramp_end_breakpoints(deck: str) -> str:
    """Every PWL source of an ngspice deck as a 0 V source (same name, so its current and the
    energy accounting stay) in series with a B source ``V = pwl(time, ...)`` (same waveform;
    a B source sets no breakpoints), plus one unloaded PWL source whose corners are the times
    where any waveform starts a ramp. ngspice then lands on every ramp start but steps over
    ramp ends, instead of restarting there at a tenth of its step."""
    out, starts = [], set()
    for ln in deck.split("\n"):
        m = _PWL.match(ln)
        if not m:
            out.append(ln)
            continue
        name, np_, nn, _, pts = m.groups()
        v = [float(s) for s in pts.split()]
        tv = list(zip(v[0::2], v[1::2]))
        for (t0, v0), (t1, v1), (_, v2) in zip(tv, tv[1:], tv[2:]):
            if v1 == v0 and v2 != v1:
                starts.add(t1)
        out += [f"{name} {np_} x_{name} dc 0",
                f"B_{name} x_{name} {nn} V=pwl(time, "
                + ", ".join(f"{t:.9g}, {y:.9g}" for t, y in tv) + ")"]
    marks = [(0.0, 0.0)] + [(t, float(k % 2)) for k, t in enumerate(sorted(starts))]
    i = next(k for k, ln in enumerate(out) if ln.lower().startswith(".control"))
    out[i:i] = ["Vbreaks_ breaks_ 0 dc 0 pwl(" + " ".join(f"{t:.9g} {y:g}" for t, y in marks)
                + ")", "Rbreaks_ breaks_ 0 1e3"]
    return "\n".join(out)

"""The schedule's control sources: one PWL :class:`~pycim.netlist.circuit.VSource` per net.

The timing itself (:class:`~pycim.specs.schedule.Schedule`) is a spec every stage can read;
this module turns it into circuit elements.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InputError
from ..specs.schedule import (ANALOG, LOGIC, Net, Phase, Schedule,  # noqa: F401 (re-exported)
                              ScheduleBuilder)
from .circuit import VSource


def schedule_sources(sched: Schedule, skip: Iterable[str] = ()) -> list[VSource]:
    """One PWL source per net (and per complement), nets in sorted order, negative terminal
    at ground. ``skip`` lists nets (not complements) the caller drives otherwise."""
    skip = set(skip)
    for s in skip:
        if s not in sched.nets:
            raise InputError(f"skip names unknown net {s!r}")
    out: list[VSource] = []
    for name in sorted(sched.nets):
        if name in skip:
            continue
        n = sched.nets[name]
        pts = sched.pwl(name)
        out.append(VSource(f"V{name}", name, "0", dc_v=pts[0][1], pwl=pts))
        if n.kind == LOGIC and n.complement:
            pts_b = sched.pwl(name, invert=True)
            out.append(VSource(f"V{name}_b", f"{name}_b", "0", dc_v=pts_b[0][1], pwl=pts_b))
    return out

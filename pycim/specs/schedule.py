"""Timing as data: one :class:`Schedule` per simulation, the only place clock waveforms come from.

A schedule is a sequence of phases; each phase has a name, a duration and a level for every net.
Two kinds of net:

* **logic** nets (clocks, switch enables): level 0 or 1, written as 0 V / ``vdd_v``; each also
  gets its complement ``<net>_b`` (for the PMOS gate of a transmission gate) unless declared
  without one. A logic net a phase does not mention is low.
* **analog** nets (reference levels such as the ADC's DAC reference): level in volts; a phase
  that does not mention one holds the previous phase's value (the first phase uses the default).

Every change happens at the start of a phase and takes ``edge_s`` (a linear ramp), so a net is
fully at its new level ``edge_s`` after its phase starts. :class:`ScheduleBuilder` inserts a guard
phase (``<next>_g``, ``guard_s`` long) between two phases whenever a logic net falls while another
rises (break-before-make), which gives non-overlapping clocks everywhere without having to think
about it; ``exclusive`` groups are additionally checked: two nets of one group are never high in
the same phase nor in adjacent phases.

Everything is validated on construction and emission is deterministic (nets in sorted order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import InputError
from ..validate import ident, number

LOGIC = "logic"
ANALOG = "analog"


@dataclass(frozen=True)
class Net:
    """A control net. ``default`` is the analog level before the first mention (volts);
    ``complement`` adds a ``<name>_b`` source for logic nets."""

    name: str
    kind: str = LOGIC
    default: float = 0.0
    complement: bool = True

    def __post_init__(self) -> None:
        ident(self.name, "net name")
        if len(self.name) > 58:
            raise InputError(f"net name {self.name!r} longer than 58 characters")
        if self.kind not in (LOGIC, ANALOG):
            raise InputError(f"net kind must be {LOGIC!r} or {ANALOG!r}, got {self.kind!r}")
        number(self.default, f"net {self.name} default", lo=-10.0, hi=10.0)
        if self.kind == LOGIC and self.default != 0.0:
            raise InputError(f"logic net {self.name}: default must be 0 (unmentioned = low)")


@dataclass(frozen=True)
class Phase:
    """One phase: ``levels`` holds every net's level (complete, sorted by net name)."""

    name: str
    duration_s: float
    levels: tuple[tuple[str, float], ...]
    tag: str = ""

    def level(self, net: str) -> float:
        for k, v in self.levels:
            if k == net:
                return v
        raise InputError(f"phase {self.name}: no net {net!r}")

    def high(self) -> frozenset[str]:
        """Names of nets at level 1 (meaningful for logic nets; intersect with them)."""
        return frozenset(k for k, v in self.levels if v == 1.0)


class Schedule:
    """Validated, immutable timing: nets, phases, edge time and supply.

    Parameters
    ----------
    nets : sequence of Net
    phases : sequence of Phase
        Every phase's ``levels`` must name exactly the declared nets.
    vdd_v : float
        High level of logic nets.
    edge_s : float
        Rise/fall time of every transition; each phase must last at least ``2 * edge_s``.
    exclusive : iterable of net-name groups
        Logic nets never high together, in one phase or in adjacent phases.
    """

    def __init__(self, nets: Sequence[Net], phases: Sequence[Phase], *, vdd_v: float,
                 edge_s: float, exclusive: Iterable[Iterable[str]] = ()) -> None:
        self.vdd_v = number(vdd_v, "vdd_v", lo=0.5, hi=5.5)
        self.edge_s = number(edge_s, "edge_s", lo=1e-12, hi=1e-6)
        self.nets: dict[str, Net] = {}
        for n in nets:
            if not isinstance(n, Net):
                raise InputError(f"nets must be Net objects, got {n!r}")
            if n.name.lower() in {k.lower() for k in self.nets}:
                raise InputError(f"net {n.name!r} declared twice")
            self.nets[n.name] = n
        names = set(self.nets)
        for n in list(self.nets.values()):
            if n.kind == LOGIC and n.complement and f"{n.name}_b".lower() in {
                    k.lower() for k in names}:
                raise InputError(f"net {n.name}_b clashes with the complement of {n.name}")
        if not phases:
            raise InputError("a schedule needs at least one phase")
        seen: set[str] = set()
        self.phases: tuple[Phase, ...] = tuple(phases)
        for p in self.phases:
            if not isinstance(p, Phase):
                raise InputError(f"phases must be Phase objects, got {p!r}")
            ident(p.name, "phase name")
            if p.tag:
                ident(p.tag, "phase tag")
            if p.name in seen:
                raise InputError(f"phase name {p.name!r} used twice")
            seen.add(p.name)
            number(p.duration_s, f"phase {p.name} duration", lo=2 * self.edge_s, hi=1.0)
            got = [k for k, _ in p.levels]
            if got != sorted(names):
                missing, extra = names - set(got), set(got) - names
                raise InputError(f"phase {p.name}: levels must cover exactly the declared nets "
                                 f"(missing {sorted(missing)}, unknown {sorted(extra)})")
            for k, v in p.levels:
                if self.nets[k].kind == LOGIC:
                    if v not in (0.0, 1.0):
                        raise InputError(f"phase {p.name}: logic net {k} level must be 0 or 1, "
                                         f"got {v!r}")
                else:
                    number(v, f"phase {p.name} net {k}", lo=-10.0, hi=10.0)
        self.exclusive: tuple[frozenset[str], ...] = tuple(frozenset(g) for g in exclusive)
        for g in self.exclusive:
            for k in g:
                if k not in self.nets or self.nets[k].kind != LOGIC:
                    raise InputError(f"exclusive group names {k!r}, not a declared logic net")
        self._check_exclusive()
        t, self._times = 0.0, {}
        for p in self.phases:
            self._times[p.name] = (t, t + p.duration_s)
            t += p.duration_s
        self.t_stop = t

    def _check_exclusive(self) -> None:
        for g in self.exclusive:
            prev: frozenset[str] = frozenset()
            prev_name = ""
            for p in self.phases:
                hi = p.high() & g
                if len(hi) > 1:
                    raise InputError(f"phase {p.name}: exclusive nets {sorted(hi)} high together")
                if hi and prev and hi != prev:
                    raise InputError(f"phases {prev_name} -> {p.name}: {sorted(prev)} falls while "
                                     f"{sorted(hi)} rises; insert a guard phase")
                prev, prev_name = hi, p.name

    # -- queries --------------------------------------------------------------------------
    def phase_times(self) -> dict[str, tuple[float, float]]:
        """``{phase name: (t_start, t_end)}`` in schedule order (seconds)."""
        return dict(self._times)

    def phase(self, name: str) -> Phase:
        for p in self.phases:
            if p.name == name:
                return p
        raise InputError(f"no phase {name!r} in schedule")

    def start(self, name: str) -> float:
        return self._window(name)[0]

    def end(self, name: str) -> float:
        return self._window(name)[1]

    def _window(self, name: str) -> tuple[float, float]:
        try:
            return self._times[name]
        except KeyError:
            raise InputError(f"no phase {name!r} in schedule") from None

    def tagged(self, tag: str) -> list[Phase]:
        """Phases carrying ``tag``, in order."""
        return [p for p in self.phases if p.tag == tag]

    def high_windows(self, net: str) -> list[tuple[float, float]]:
        """Merged intervals (t_rise_start, t_fall_start) during which logic ``net`` is high."""
        if net not in self.nets or self.nets[net].kind != LOGIC:
            raise InputError(f"{net!r} is not a logic net of this schedule")
        out: list[tuple[float, float]] = []
        for p in self.phases:
            if p.level(net) == 1.0:
                t0, t1 = self._times[p.name]
                if out and abs(out[-1][1] - t0) < 1e-18:
                    out[-1] = (out[-1][0], t1)
                else:
                    out.append((t0, t1))
        return out

    def level_at(self, net: str, t: float) -> float:
        """Level of ``net`` (0/1 or volts) in the phase containing time ``t``."""
        for p in self.phases:
            t0, t1 = self._times[p.name]
            if t0 <= t < t1:
                return p.level(net)
        return self.phases[-1].level(net)

    # -- emission -------------------------------------------------------------------------
    def pwl(self, net: str, *, invert: bool = False) -> tuple[tuple[float, float], ...]:
        """PWL points of ``net`` in volts (logic nets scaled by ``vdd_v``; ``invert`` gives the
        complement)."""
        n = self.nets.get(net)
        if n is None:
            raise InputError(f"no net {net!r} in schedule")
        scale = self.vdd_v if n.kind == LOGIC else 1.0

        def volts(level: float) -> float:
            if n.kind == LOGIC and invert:
                level = 1.0 - level
            return level * scale

        pts = [(0.0, volts(self.phases[0].level(net)))]
        for prev, p in zip(self.phases, self.phases[1:]):
            a, b = prev.level(net), p.level(net)
            if a != b:
                t0 = self._times[p.name][0]
                pts.append((t0, volts(a)))
                pts.append((t0 + self.edge_s, volts(b)))
        last = volts(self.phases[-1].level(net))
        if pts[-1][0] < self.t_stop:
            pts.append((self.t_stop, last))
        # drop points that coincide (a change right at t=0 cannot happen: first phase sets it)
        clean: list[tuple[float, float]] = []
        for t, v in pts:
            if clean and t <= clean[-1][0]:
                raise InputError(f"net {net}: PWL times collide at {t:g} s")
            clean.append((t, v))
        return tuple(clean)

    def source_names(self) -> dict[str, str]:
        """``{net: source name}`` including complements (``V<net>``, ``V<net>_b``)."""
        out = {}
        for name in sorted(self.nets):
            n = self.nets[name]
            out[name] = f"V{name}"
            if n.kind == LOGIC and n.complement:
                out[f"{name}_b"] = f"V{name}_b"
        return out

    def describe(self) -> list[str]:
        """One line per phase: name, start, duration, high logic nets, analog levels."""
        lines = []
        for p in self.phases:
            t0, _ = self._times[p.name]
            hi = sorted(k for k, v in p.levels if self.nets[k].kind == LOGIC and v == 1.0)
            an = [f"{k}={v:.4g}" for k, v in p.levels if self.nets[k].kind == ANALOG]
            lines.append(f"{p.name:>16s} t={t0 * 1e9:9.2f} ns  d={p.duration_s * 1e9:7.2f} ns  "
                         f"high={','.join(hi) or '-'}  {' '.join(an)}")
        return lines


class ScheduleBuilder:
    """Append phases by listing the logic nets that are high; guards are inserted automatically.

    ``add(name, dur, high=..., analog=...)``: nets not in ``high`` are low; analog nets not in
    ``analog`` hold their previous level. If the previous phase has a logic net high that this
    phase drops while this phase raises another, a guard phase ``<name>_g`` of ``guard_s`` is
    inserted first, holding only the nets high in both phases (break-before-make), with the
    previous analog levels.
    """

    def __init__(self, nets: Sequence[Net], *, vdd_v: float, edge_s: float, guard_s: float,
                 exclusive: Iterable[Iterable[str]] = ()) -> None:
        self._nets = {n.name: n for n in nets}
        if len(self._nets) != len(nets):
            raise InputError("net declared twice")
        self._vdd, self._edge = vdd_v, edge_s
        self._guard = number(guard_s, "guard_s", lo=2 * number(edge_s, "edge_s", lo=1e-12),
                             hi=1e-3)
        self._excl = [tuple(g) for g in exclusive]
        self._phases: list[Phase] = []
        self._analog = {k: n.default for k, n in self._nets.items() if n.kind == ANALOG}
        self._high: frozenset[str] = frozenset()

    def add(self, name: str, duration_s: float, high: Iterable[str] = (),
            analog: Mapping[str, float] | None = None, tag: str = "") -> "ScheduleBuilder":
        high = frozenset(high)
        for k in high:
            if k not in self._nets or self._nets[k].kind != LOGIC:
                raise InputError(f"phase {name}: {k!r} is not a declared logic net")
        analog = dict(analog or {})
        for k in analog:
            if k not in self._nets or self._nets[k].kind != ANALOG:
                raise InputError(f"phase {name}: {k!r} is not a declared analog net")
        if self._phases and (self._high - high) and (high - self._high):
            self._append(f"{name}_g", self._guard, self._high & high, dict(self._analog), "guard")
        self._analog.update(analog)
        self._append(name, duration_s, high, dict(self._analog), tag)
        return self

    def _append(self, name, dur, high, analog, tag) -> None:
        levels = {k: (1.0 if k in high else 0.0) for k, n in self._nets.items() if n.kind == LOGIC}
        levels.update(analog)
        self._phases.append(Phase(name, dur, tuple(sorted(levels.items())), tag))
        self._high = frozenset(high)

    def build(self) -> Schedule:
        return Schedule(list(self._nets.values()), self._phases, vdd_v=self._vdd,
                        edge_s=self._edge, exclusive=self._excl)

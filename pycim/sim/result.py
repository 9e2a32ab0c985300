"""Simulation results: named numpy vectors with units."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError


_V_OF = re.compile(r"v\((.+)\)")
_BRANCH = re.compile(r"(.+)#branch")
_FLOW = re.compile(r"(.+):flow\(br\)")
_SWEEPS = ("v-sweep", "i-sweep", "sweep")


def canonical_name(raw: str) -> str:
    """Map an engine's vector name to pycim's: node ``a``, current ``i(v1)``, internal ``n1.gx``.

    ngspice: ``v(a)``/``a``, ``v1#branch``, ``n1#gx``; VACASK: ``a``, ``v1:flow(br)``, ``n1:gx``.
    A plain node name (no ``(``, ``#`` or ``:``) takes no pattern (a full core's raw file has
    half a million of them).
    """
    n = raw.strip().lower()
    if "(" not in n and "#" not in n and ":" not in n:
        return "sweep" if n in _SWEEPS else n
    m = _V_OF.fullmatch(n)
    if m:
        n = m.group(1)
    m = _BRANCH.fullmatch(n) or _FLOW.fullmatch(n)
    if m:
        return f"i({m.group(1)})"
    if n in _SWEEPS:
        return "sweep"
    return n.replace("#", ".").replace(":", ".")


def unit_of(name: str) -> str:
    if name == "time":
        return "s"
    if name.startswith("i("):
        return "A"
    return "V"


@dataclass
class SimResult:
    """Vectors of one analysis, keyed by canonical name (see :func:`canonical_name`).

    ``result["a"]`` is the node voltage array, ``result.value("a")`` a scalar (op),
    ``result.units["i(v1)"] == "A"``. SPICE's branch current convention holds: the current into
    a voltage source's positive terminal is positive.
    """

    analysis: str
    engine: str
    vectors: dict[str, np.ndarray]
    units: dict[str, str] = field(default_factory=dict)
    log: str = ""
    elapsed_s: float = 0.0

    @classmethod
    def from_raw(cls, analysis: str, engine: str, raw: dict[str, np.ndarray], log: str = "",
                 elapsed_s: float = 0.0, sweep_unit: str = "V") -> "SimResult":
        vec = {canonical_name(k): v if type(v) is np.ndarray and v.dtype.kind != "c"
               else np.real_if_close(v) for k, v in raw.items()}  # real: as it is, at once
        if len(vec) != len(raw):  # two vectors, one name: e.g. a node named time or sweep
            seen: dict[str, str] = {}
            for k in raw:
                c = canonical_name(k)
                if c in seen:
                    raise InputError(f"{engine} {analysis}: vectors {seen[c]!r} and {k!r} are "
                                     f"both {c!r}; rename the node {c!r}")
                seen[c] = k
        units = {k: (sweep_unit if k == "sweep" else unit_of(k)) for k in vec}
        return cls(analysis, engine, vec, units, log, elapsed_s)

    def __getitem__(self, name: str) -> np.ndarray:
        key = canonical_name(name)
        try:
            return self.vectors[key]
        except KeyError:
            raise InputError(f"no vector {name!r} in {self.analysis} result; have "
                             f"{', '.join(sorted(self.vectors)[:20])}") from None

    def __contains__(self, name: str) -> bool:
        return canonical_name(name) in self.vectors

    def value(self, name: str) -> float:
        """The single value of a vector (op analysis)."""
        v = self[name]
        if v.size != 1:
            raise InputError(f"vector {name!r} has {v.size} points, not one")
        return float(v.ravel()[0])

    @property
    def names(self) -> list[str]:
        return sorted(self.vectors)

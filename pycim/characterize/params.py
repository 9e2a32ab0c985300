"""One parameter of a sweep kind: its TOML key, point name, type and bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InputError


@dataclass(frozen=True)
class Param:
    """One parameter of a kind: TOML ``key`` (maybe plural), point name ``name``, type, bounds."""

    key: str
    name: str
    type: type
    default: Any = None  # None: required
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None

    def check(self, v: Any, where: str) -> Any:
        t = self.type
        if t is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if t is not bool and isinstance(v, bool) or not isinstance(v, t):
            raise InputError(f"{where}: {self.key} must be {t.__name__} (or a list of them), "
                             f"got {v!r}")
        if t is float and not math.isfinite(v):
            raise InputError(f"{where}: {self.key} must be finite, got {v!r}")
        if self.lo is not None and v < self.lo or self.hi is not None and v > self.hi:
            raise InputError(f"{where}: {self.key} must be in [{self.lo}, {self.hi}], got {v!r}")
        if self.choices is not None and v not in self.choices:
            raise InputError(f"{where}: {self.key} must be one of {', '.join(map(str, self.choices))},"
                             f" got {v!r}")
        return v

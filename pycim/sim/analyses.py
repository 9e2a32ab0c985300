"""Analysis requests, engine-neutral."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..validate import ident, number


@dataclass(frozen=True)
class Op:
    """DC operating point."""


@dataclass(frozen=True)
class Dc:
    """DC sweep of voltage source ``source`` from ``start`` to ``stop`` (inclusive) by ``step``."""

    source: str
    start: float
    stop: float
    step: float

    def __post_init__(self) -> None:
        ident(self.source, "dc sweep source")
        number(self.start, "dc start"), number(self.stop, "dc stop")
        number(abs(self.step), "dc step", lo=0.0, lo_open=True)
        if (self.stop - self.start) * self.step < 0:
            raise InputError("dc step has the wrong sign for start -> stop")
        if abs((self.stop - self.start) / self.step) > 1e6:
            raise InputError("dc sweep has more than 1e6 points")


#: Most print steps a transient may have (stop / step). ngspice keeps and writes every point:
#: 1e8 points of 4 vectors is a 3.2 GB raw file, and a run far past any timeout. pycim's own
#: longest is the set/reset characterization at its limits (64 pulses of 1 ms at 5 ns steps,
#: ~1.3e7); an MVM transient is ~1e4 (1 ns steps over microseconds).
TRAN_MAX_POINTS = 1e8


@dataclass(frozen=True)
class Tran:
    """Transient from 0 to ``stop_s``; ``step_s`` is the print step, ``max_step_s`` caps the
    internal time step (default: ``step_s``)."""

    step_s: float
    stop_s: float
    max_step_s: float | None = None

    def __post_init__(self) -> None:
        number(self.step_s, "tran step", lo=0.0, lo_open=True)
        number(self.stop_s, "tran stop", lo=0.0, lo_open=True)
        if self.step_s > self.stop_s:
            raise InputError("tran step must not exceed stop")
        if self.stop_s / self.step_s > TRAN_MAX_POINTS * (1 + 1e-12):
            raise InputError(f"tran stop / step = {self.stop_s / self.step_s:.3g} points; at "
                             f"most {TRAN_MAX_POINTS:.0e} (step_s={self.step_s!r}, "
                             f"stop_s={self.stop_s!r})")
        if self.max_step_s is not None:
            number(self.max_step_s, "tran max step", lo=0.0, lo_open=True)


Analysis = Op | Dc | Tran

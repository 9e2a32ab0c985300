"""Cell-level testbenches: the RRAM cell driven directly or through a series resistor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError
from ..tech import rram
from ..tech.va import circuit_osdi
from .circuit import Circuit, Model, Resistor, VaDevice, VSource
from .validate import number

RRAM_MODEL = "rram"


def rram_model(params: rram.RramParams = rram.DEFAULT_PARAMS, name: str = RRAM_MODEL) -> Model:
    """Model card of the Stanford-PKU cell (compiles circuits/rram_spku.va if needed)."""
    return Model.of(name, "rram_spku", params.va_params(), osdi=circuit_osdi("rram_spku"))


def rram_read_model(params: rram.RramParams = rram.DEFAULT_PARAMS, name: str = "rram_rd") -> Model:
    """Model card of the read-only cell (circuits/rram_read.va): rram_spku's I-V, state frozen."""
    p = params.va_params()
    return Model.of(name, "rram_read", {k: p[k] for k in ("i0", "g0", "v0")},
                    osdi=circuit_osdi("rram_read"))


def linear_model(name: str = "gcell") -> Model:
    """Model card of the linear cell (circuits/rram_linear.va)."""
    return Model.of(name, "rram_linear", {}, osdi=circuit_osdi("rram_linear"))


def cell_iv(gap_m: float, params: rram.RramParams = rram.DEFAULT_PARAMS) -> Circuit:
    """Source ``V1`` (node ``te``) directly across one cell ``N1`` with gap ``gap_m``.

    The cell current is ``-i(v1)``. Driving the cell terminal from the source itself (no sense
    source in series) keeps the solved voltage exact, so the current is the model's current at
    exactly the swept voltage, not at a node known only to ngspice's vntol (1 uV).
    """
    number(gap_m, "gap_m", lo=params.gap_min_m, hi=params.gap_max_m)
    c = Circuit("pycim cell I-V")
    c.add_model(rram_model(params))
    c.add(VSource("V1", "te", "0"), VaDevice("N1", ("te", "0"), RRAM_MODEL, (("gap_init", float(gap_m)),)))
    return c


@dataclass(frozen=True)
class PulseTrain:
    """Programming pulses, each followed by a read.

    ``amplitudes_v`` are applied in order (positive = SET, negative = RESET) through
    ``r_series_ohm`` (a stand-in for the access transistor's compliance); each pulse has
    ``edge_s`` ramps and ``width_s`` flat top, then the line returns to 0 V for ``gap_s`` and a
    ``v_read_v`` read of ``read_s`` follows. ``read_times_s`` are mid-read sample times.
    """

    amplitudes_v: tuple[float, ...]
    width_s: float = 1e-6
    edge_s: float = 10e-9
    gap_s: float = 100e-9
    read_s: float = 200e-9
    v_read_v: float = rram.V_READ_DEFAULT_V
    r_series_ohm: float = 100e3

    def __post_init__(self) -> None:
        if not self.amplitudes_v:
            raise InputError("pulse train needs at least one amplitude")
        for a in self.amplitudes_v:
            number(a, "pulse amplitude", lo=-5.0, hi=5.0)
        for f in ("width_s", "edge_s", "gap_s", "read_s"):
            number(getattr(self, f), f, lo=0.0, lo_open=True, hi=1.0)
        number(self.v_read_v, "v_read_v", lo=0.0, lo_open=True, hi=1.0)
        number(self.r_series_ohm, "r_series_ohm", lo=0.0, lo_open=True)

    @property
    def period_s(self) -> float:
        return 2 * self.edge_s + self.width_s + self.gap_s + 2 * self.edge_s + self.read_s + self.gap_s

    @property
    def stop_s(self) -> float:
        return self.gap_s + len(self.amplitudes_v) * self.period_s

    def pwl(self) -> tuple[tuple[float, float], ...]:
        e, pts, t = self.edge_s, [(0.0, 0.0)], self.gap_s
        for a in self.amplitudes_v:
            pts += [(t, 0.0), (t + e, a), (t + e + self.width_s, a), (t + 2 * e + self.width_s, 0.0)]
            t += 2 * e + self.width_s + self.gap_s
            pts += [(t, 0.0), (t + e, self.v_read_v), (t + e + self.read_s, self.v_read_v),
                    (t + 2 * e + self.read_s, 0.0)]
            t += 2 * e + self.read_s + self.gap_s
        return tuple(pts)

    def read_times_s(self) -> list[float]:
        out, t = [], self.gap_s
        for _ in self.amplitudes_v:
            t += 2 * self.edge_s + self.width_s + self.gap_s
            out.append(t + self.edge_s + 0.5 * self.read_s)
            t += 2 * self.edge_s + self.read_s + self.gap_s
        return out


def pulse_train(train: PulseTrain, gap_init_m: float,
                params: rram.RramParams = rram.DEFAULT_PARAMS) -> Circuit:
    """``V1`` (node ``in``) -> ``R1`` -> cell ``N1`` (node ``te``) -> ground."""
    number(gap_init_m, "gap_init_m", lo=params.gap_min_m, hi=params.gap_max_m)
    c = Circuit("pycim RRAM pulse train")
    c.add_model(rram_model(params))
    c.add(VSource("V1", "in", "0", pwl=train.pwl()),
          Resistor("R1", "in", "te", train.r_series_ohm),
          VaDevice("N1", ("te", "0"), RRAM_MODEL, (("gap_init", float(gap_init_m)),)))
    return c

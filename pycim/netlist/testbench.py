"""Cell-level testbenches: the RRAM cell driven directly or through a series resistor."""

from __future__ import annotations

from dataclasses import dataclass

from .. import assumptions
from ..errors import InputError
from ..tech import rram
from ..tech.va import circuit_osdi
from .circuit import Circuit, Model, Resistor, VaDevice, VSource
from .sky130_cards import card_model, card_mosfet
from ..validate import number

RRAM_MODEL = "rram"


def rram_model(params: rram.RramParams = rram.DEFAULT_PARAMS, name: str = RRAM_MODEL) -> Model:
    """Model card of the stateful cell (compiles circuits/rram_skywater.va if needed)."""
    return Model.of(name, "rram_skywater", params.va_params(), osdi=circuit_osdi("rram_skywater"))


def rram_read_model(params: rram.RramParams = rram.DEFAULT_PARAMS, name: str = "rram_rd") -> Model:
    """Model card of the read-only cell (circuits/rram_read.va): rram_skywater's I-V, state frozen."""
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


@dataclass(frozen=True)
class CellPulse:
    """One programming pulse on a 1T1R cell, then a verify read (write-verify step).

    The cell is BL -> RRAM (top electrode on BL) -> node ``m`` -> access NFET (gate WL) -> SL.
    During the pulse (``edge_s`` ramps, ``width_s`` flat top) the sources hold ``v_bl_v``,
    ``v_sl_v``, ``v_wl_v``: SET is BL high, SL 0 (the FET is the current compliance, set by the
    WL); RESET is SL high, BL 0 (the FET is a source follower, WL high). After ``gap_s`` at 0 V
    the read puts ``v_read_v`` on BL with the WL at ``v_wl_read_v`` for ``read_s``.
    """

    v_bl_v: float
    v_sl_v: float
    v_wl_v: float
    width_s: float = 1e-6
    edge_s: float = 10e-9
    gap_s: float = 50e-9
    read_s: float = 200e-9
    v_read_v: float = rram.V_READ_DEFAULT_V
    v_wl_read_v: float = assumptions.value("v_wl_read_v")

    def __post_init__(self) -> None:
        for f in ("v_bl_v", "v_sl_v"):
            number(getattr(self, f), f, lo=0.0, hi=5.5)
        number(self.v_wl_v, "v_wl_v", lo=0.0, hi=5.5)
        number(self.v_wl_read_v, "v_wl_read_v", lo=0.0, lo_open=True, hi=5.5)
        for f in ("width_s", "edge_s", "gap_s", "read_s"):
            number(getattr(self, f), f, lo=0.0, lo_open=True, hi=1e-3)
        number(self.v_read_v, "v_read_v", lo=0.0, lo_open=True, hi=1.0)

    def _t(self) -> tuple[float, ...]:
        e, t1 = self.edge_s, self.gap_s
        t2, t3 = t1 + e + self.width_s, t1 + 2 * e + self.width_s
        t4 = t3 + self.gap_s
        return t1, t2, t3, t4, t4 + 2 * e + self.read_s

    @property
    def stop_s(self) -> float:
        return self._t()[4] + self.gap_s

    def read_window_s(self) -> tuple[float, float]:
        """Flat top of the verify read (the middle 80 %)."""
        t4 = self._t()[3] + self.edge_s
        return t4 + 0.1 * self.read_s, t4 + 0.9 * self.read_s

    def pwl(self, v_pulse: float, v_read: float) -> tuple[tuple[float, float], ...]:
        t1, t2, t3, t4, t5 = self._t()
        e = self.edge_s
        return ((0.0, 0.0), (t1, 0.0), (t1 + e, v_pulse), (t2, v_pulse), (t3, 0.0), (t4, 0.0),
                (t4 + e, v_read), (t5 - e, v_read), (t5, 0.0), (self.stop_s, 0.0))


def cell_1t1r_pulse(pulse: CellPulse, gap_init_m: float, access_card,
                    params: rram.RramParams = rram.DEFAULT_PARAMS) -> Circuit:
    """``VBL`` (node ``bl``) -> cell ``N1`` -> node ``m`` -> access FET ``M1`` (gate ``wl``,
    source ``sl``, bulk 0). ``access_card``: a :class:`pycim.tech.sky130.FetCard`."""
    number(gap_init_m, "gap_init_m", lo=params.gap_min_m, hi=params.gap_max_m)
    c = Circuit("pycim 1T1R write-verify pulse")
    c.add_model(rram_model(params))
    c.add_model(card_model(access_card))
    c.add(VSource("VBL", "bl", "0", pwl=pulse.pwl(pulse.v_bl_v, pulse.v_read_v)),
          VSource("VSL", "sl", "0", pwl=pulse.pwl(pulse.v_sl_v, 0.0)),
          VSource("VWL", "wl", "0", pwl=pulse.pwl(pulse.v_wl_v, pulse.v_wl_read_v)),
          VaDevice("N1", ("bl", "m"), RRAM_MODEL, (("gap_init", float(gap_init_m)),)),
          card_mosfet(access_card, "M1", "m", "wl", "sl", "0"))
    return c

"""A control (logic) source's energy counted as a CMOS driver's: C V_high^2 per rising edge on a
capacitive gate, whatever the trapezoidal rule's ringing between breakpoints does.

Reference: the closed form N C V^2 for N rising edges of an ideal 0 -> V square wave on a
capacitor (the charge C V drawn from a V rail per rise; a fall dumps it to ground)."""

from __future__ import annotations

import numpy as np
import pytest

from pycim.measure.energy import driver_charge, energy_by_group
from pycim.netlist.circuit import Capacitor, Circuit, Resistor, VSource
from pycim.sim import NgspiceEngine, Tran

V_HIGH = 1.8
C_GATE = 100e-15
T_EDGE = 1e-9


def _square(n_rises: int, period_s: float) -> tuple[tuple[float, float], ...]:
    pts = [(0.0, 0.0)]
    for k in range(n_rises):
        t0 = period_s * (k + 0.1)
        pts += [(t0, 0.0), (t0 + T_EDGE, V_HIGH), (t0 + period_s / 2, V_HIGH),
                (t0 + period_s / 2 + T_EDGE, 0.0)]
    return tuple(pts)


@pytest.mark.parametrize("r_ohm", [1.0, 2e3])
def test_logic_source_counts_c_v_squared_per_rise(r_ohm):
    n, period = 6, 200e-9
    pwl = _square(n, period)
    c = Circuit("logic energy")
    c.add(VSource("vclk", "g", "0", pwl=pwl), Resistor("rg", "g", "x", r_ohm),
          Capacitor("cg", "x", "0", C_GATE))
    # a coarse step: the trapezoidal rule rings on the source's current between edges
    res = NgspiceEngine(timeout_s=60).run(c, Tran(1e-9, n * period, 20e-9))
    e = energy_by_group(res, c, {"vclk": "clocks"}, logic={"vclk"})
    expected = n * C_GATE * V_HIGH ** 2
    assert e["clocks"] == pytest.approx(expected, rel=0.03)  # rectified: 1.80x at 1 ohm


def test_driver_charge_cancels_ringing_and_ignores_falls():
    """Synthetic current: a +Q pulse at each rise, -Q at each fall, and +-i ringing that
    alternates sign at every time point in between: only the rises count."""
    pwl = _square(3, 100e-9)
    t = np.linspace(0.0, 300e-9, 3001)
    dt = t[1] - t[0]
    i = np.where(np.arange(t.size) % 2 == 0, 1e-6, -1e-6)  # ringing, zero net
    q = 50e-15
    for a, b in zip(pwl[1::2], pwl[2::2]):
        k = int(round((a[0] + 0.5e-9) / dt))
        i[k] += (q if b[1] > a[1] else -q) / dt
    assert driver_charge(t, i, pwl) == pytest.approx(3 * q, rel=0.02)
    rectified = np.trapezoid(np.maximum(i, 0.0), t)
    assert rectified > 3 * q * 1.5  # the old count: ringing half counted


def test_constant_source_is_one_level():
    t = np.linspace(0.0, 1e-6, 11)
    assert driver_charge(t, np.full(11, 2e-9), None) == pytest.approx(2e-15)
    assert driver_charge(t, np.full(11, -2e-9), ()) == 0.0

"""The RRAM Verilog-A model in ngspice against its equations evaluated independently in numpy."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from pycim.errors import InputError
from pycim.measure.cell import pulse_response
from pycim.netlist import testbench as tb
from pycim.netlist.circuit import Circuit, VaDevice, VSource
from pycim.sim import Dc, Op, Tran
from pycim.tech import rram

P = rram.DEFAULT_PARAMS
GAPS_M = [0.15e-9, 0.35e-9, 0.7e-9, 1.0e-9, 1.37e-9, 1.65e-9]


@pytest.mark.parametrize("gap_m", GAPS_M)
def test_iv_matches_equation(ngspice_precise, gap_m):
    res = ngspice_precise.run(tb.cell_iv(gap_m), Dc("V1", -1.0, 1.0, 0.05))
    v = res["sweep"]
    i_sim = -res["i(v1)"]
    i_ref = rram.current_a(v, gap_m)
    sig = np.abs(v) >= 0.05 - 1e-12  # +-0.05 ... +-1 V
    assert sig.sum() == 40
    np.testing.assert_allclose(i_sim[sig], i_ref[sig], rtol=1e-6)
    # odd symmetry and monotonicity are properties of sinh; the simulator must keep them
    np.testing.assert_allclose(i_sim[::-1], -i_sim, rtol=1e-9, atol=1e-18)
    assert np.all(np.diff(i_sim) > 0)


def test_op_does_not_move_the_state(ngspice):
    """In .op the gap is frozen at gap_init, even at a switching voltage (1 V)."""
    c = tb.cell_iv(0.8e-9)
    res = ngspice.run(c, Op())
    assert res.value("n1.gx") == 0.0
    c2 = Circuit("hold", models=dict(c.models))
    c2.add(VSource("V1", "te", "0", dc_v=1.0), VaDevice("N1", ("te", "0"), tb.RRAM_MODEL,
                                                         (("gap_init", 0.8e-9),)))
    res = ngspice.run(c2, Op())
    assert res.value("n1.gx") == 0.0
    assert -res.value("i(v1)") == pytest.approx(float(rram.current_a(1.0, 0.8e-9)), rel=1e-6)


def test_set_train_lowers_gap_and_reset_raises_it(ngspice):
    set_v = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    reset_v = (-0.5, -0.6, -0.7, -0.8, -0.9)
    train = tb.PulseTrain(set_v + reset_v)
    gap0 = float(rram.gap_for_conductance_m(1e-6))
    res = ngspice.run(tb.pulse_train(train, gap0), Tran(5e-9, train.stop_s, 5e-9))
    resp = pulse_response(res, train, gap0)
    n = len(set_v)
    assert resp.gap_m[0] < gap0
    assert np.all(np.diff(resp.gap_m[:n]) < -1e-12), resp.gap_m[:n]
    assert np.all(np.diff(resp.gap_m[n - 1:]) > 1e-13), resp.gap_m[n - 1:]
    assert np.all(np.diff(resp.g_read_s[:n]) > 0)
    # the read current is the model's current at the gap the state node holds (Ohm's law across
    # the series resistor fixes the cell voltage)
    np.testing.assert_allclose(resp.g_read_s * resp.v_cell_v,
                               rram.current_a(resp.v_cell_v, resp.gap_m), rtol=1e-3)


def test_gap_clamps_at_both_bounds(ngspice):
    """Hard pulses drive the gap to gap_min (SET) and gap_max (RESET) and no further."""
    train = tb.PulseTrain((2.0, 2.0, -3.0, -3.0), r_series_ohm=2e3)
    gap0 = 1.0e-9
    res = ngspice.run(tb.pulse_train(train, gap0), Tran(5e-9, train.stop_s, 5e-9))
    gap = gap0 + 1e-9 * res["n1.gx"]
    tol = 1e-12  # 1 pm
    assert gap.min() >= P.gap_min_m - tol and gap.max() <= P.gap_max_m + tol
    resp = pulse_response(res, train, gap0)
    np.testing.assert_allclose(resp.gap_m, [P.gap_min_m, P.gap_min_m, P.gap_max_m, P.gap_max_m],
                               atol=5e-13)


def _ode_reference(v_cell, gap0, t_stop, temp_k=300.15):
    """Gap under a constant cell voltage: the model's ODEs (gap + thermal) in scipy."""
    r_th = P.r_th_k_per_w

    def f(t, y):
        g, dt_k = y
        i = rram.current_a(v_cell, g)
        dg = rram.gap_rate_m_per_s(v_cell, g, temp_k + dt_k)
        dtemp = (abs(v_cell * i) - dt_k / r_th) / P.c_th_j_per_k
        return [dg, dtemp]

    sol = solve_ivp(f, (0.0, t_stop), [gap0, 0.0], method="Radau", rtol=1e-9, atol=[1e-16, 1e-9],
                    dense_output=True)
    assert sol.success
    return sol


def test_state_carries_across_time_steps_and_matches_ode(ngspice):
    """Regression for the OSDI pitfall: state in Verilog-A variables resets every step.

    A 0.35 V step held on the bare cell for 2 us moves the gap; the simulated gap must follow
    the ODE solution (scipy Radau) of the same equations, and hold when the voltage returns
    to 0 V.
    """
    gap0, v_cell = 1.2e-9, 0.35
    pwl = ((0.0, 0.0), (10e-9, 0.0), (11e-9, v_cell), (2.011e-6, v_cell), (2.012e-6, 0.0),
           (4e-6, 0.0))
    c = tb.cell_iv(gap0)
    c2 = Circuit("step", models=dict(c.models))
    c2.add(VSource("V1", "te", "0", pwl=pwl),
           VaDevice("N1", ("te", "0"), tb.RRAM_MODEL, (("gap_init", gap0),)))
    res = ngspice.run(c2, Tran(2e-9, 4e-6, 2e-9), temp_c=27.0)
    t = res["time"]
    gap = gap0 + 1e-9 * res["n1.gx"]
    moved = gap0 - np.interp(2.011e-6, t, gap)
    assert moved > 0.05e-9, "the pulse must move the state measurably"
    sol = _ode_reference(v_cell, gap0, 2.0e-6)
    ref_moved = gap0 - sol.y[0, -1]
    assert moved == pytest.approx(ref_moved, rel=0.02)
    # mid-pulse as well, not only the end point
    g_mid = np.interp(1.011e-6, t, gap)
    assert gap0 - g_mid == pytest.approx(gap0 - sol.sol(1.0e-6)[0], rel=0.02)
    # after the pulse, at 0 V, the gap holds (no reset to gap_init between steps)
    after = gap[t > 2.1e-6]
    assert np.ptp(after) < 1e-15
    assert after[-1] == pytest.approx(np.interp(2.02e-6, t, gap), abs=1e-15)


def test_conductance_helpers_round_trip():
    g_s = np.linspace(1e-6, 40e-6, 40)
    gap = rram.gap_for_conductance_m(g_s)
    assert np.all((gap > P.gap_min_m) & (gap < P.gap_max_m))
    np.testing.assert_allclose(rram.read_conductance_s(gap), g_s, rtol=1e-12)
    assert np.all(np.diff(gap) < 0)  # higher conductance, smaller gap
    for v_read in (0.1, 0.2):
        g = rram.gap_for_conductance_m(10e-6, v_read)
        assert float(rram.read_conductance_s(g, v_read)) == pytest.approx(10e-6, rel=1e-12)
    # the read conductance is I/V of the I-V equation (Ohm's law at the read point)
    assert float(rram.read_conductance_s(0.5e-9)) == pytest.approx(
        float(rram.current_a(0.1, 0.5e-9)) / 0.1, rel=1e-15)


@pytest.mark.parametrize("bad", [0.0, -1e-6, 1e-3, float("nan")])
def test_conductance_helper_refuses_unreachable_targets(bad):
    with pytest.raises(InputError):
        rram.gap_for_conductance_m(bad)


def test_linear_cell_obeys_ohms_law(ngspice, vacask):
    c = Circuit("ohm")
    c.add_model(tb.linear_model())
    for k, (g, v) in enumerate([(1e-6, 0.1), (40e-6, -0.2), (12.5e-6, 0.9)]):
        c.add(VSource(f"V{k}", f"a{k}", "0", dc_v=v),
              VaDevice(f"N{k}", (f"a{k}", "0"), "gcell", (("g_s", g),)))
    for eng in (ngspice, vacask):
        res = eng.run(c, Op())
        for k, (g, v) in enumerate([(1e-6, 0.1), (40e-6, -0.2), (12.5e-6, 0.9)]):
            assert -res.value(f"i(v{k})") == pytest.approx(g * v, rel=1e-12)

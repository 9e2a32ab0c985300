"""Independent reference for the RRAM cell: SkyWater's sky130 ReRAM equations, solved with scipy.

Written from SkyWater's published Verilog-A source (github google/skywater-pdk-libs-sky130_fd_pr_reram,
``cells/reram_cell/sky130_fd_pr_reram__reram_cell.va``), in its own variables (filament thickness
``tf``, not the project's gap), with its own parameter values typed in from that file, and
integrated with ``scipy.integrate.solve_ivp`` at tight tolerances instead of SkyWater's
first-order updates. Nothing here is imported from ``pycim.tech.rram`` or read from the
project's ``.va`` files; the tests compare the OSDI model against this.

SkyWater's equations (V = V(TE, BE), kT/q in volts):

    I        = I_k1 * exp(-(Tox - Tf) / (Tox - Tf_ref)) * sinh(V / V_ref)
    dTf/dt   = velocity_k1 * [exp(-Eact_gen / kT/q) * exp(+gamma * a0/Tox * V / kT/q)
                              - exp(-Eact_rec / kT/q) * exp(-gamma * a0/Tox * V / kT/q)]
    gamma    = gamma_k0 + gamma_k1 * ((Tox - Tf) / 1 nm)^3
    Tf       clamped to [Tf_min, Tf_max]
    dT/dt    = |V * I| / C_thermal - (T - T_ambient) / tau_thermal
               (SkyWater's backward-Euler update of T is this equation)

SkyWater fixes the ambient at ``Temperature_0 = 300 K``; here it is an argument so the same
equations can be run at the circuit temperature (the project's model uses ``$temperature``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

# CODATA 2018 elementary charge; Boltzmann constant as in the Verilog-AMS constants.vams that
# SkyWater's source includes (`P_K = 1.3806503e-23).
Q = 1.602176634e-19
KB = 1.3806503e-23


@dataclass(frozen=True)
class SkyWaterCell:
    """SkyWater's parameter values as published (names as in the source)."""

    Tox: float = 5.0e-9
    Tfilament_max: float = 4.9e-9
    Tfilament_min: float = 3.3e-9
    Eact_generation: float = 1.501
    Eact_recombination: float = 1.500
    I_k1: float = 6.140e-5
    Tfilament_ref: float = 4.7249e-9
    V_ref: float = 0.430
    velocity_k1: float = 150.0
    gamma_k0: float = 16.5
    gamma_k1: float = -1.25
    C_thermal: float = 3.1825e-16
    tau_thermal: float = 0.23e-9
    a0: float = 0.25e-9

    def gap(self, tf):
        """Tox - Tf (what the project calls the gap)."""
        return self.Tox - tf

    def tf_of_gap(self, gap):
        return self.Tox - gap

    def current(self, v, tf):
        return self.I_k1 * np.exp(-(self.Tox - tf) / (self.Tox - self.Tfilament_ref)) \
            * np.sinh(v / self.V_ref)

    def dtf_dt_raw(self, v, tf, temp):
        """SkyWater's growth law, no bounds."""
        kt_q = KB * temp / Q
        gamma = self.gamma_k0 + self.gamma_k1 * ((self.Tox - tf) / 1e-9) ** 3
        e = gamma * self.a0 / self.Tox * v / kt_q
        return self.velocity_k1 * (np.exp(-self.Eact_generation / kt_q) * np.exp(e)
                                   - np.exp(-self.Eact_recombination / kt_q) * np.exp(-e))

    def dtf_dt(self, v, tf, temp):
        """Growth law with SkyWater's clamp of Tf to [Tf_min, Tf_max] (no motion past a bound)."""
        tfc = min(max(tf, self.Tfilament_min), self.Tfilament_max)
        r = float(self.dtf_dt_raw(v, tfc, temp))
        if (tf >= self.Tfilament_max and r > 0) or (tf <= self.Tfilament_min and r < 0):
            return 0.0
        return r

    def read_conductance(self, tf, v_read=0.1):
        return float(self.current(v_read, tf)) / v_read

    def tf_for_conductance(self, g_s, v_read=0.1):
        """Filament thickness whose chord conductance at ``v_read`` is ``g_s`` (closed form)."""
        scale = self.I_k1 * math.sinh(v_read / self.V_ref) / v_read
        return self.Tox + (self.Tox - self.Tfilament_ref) * math.log(g_s / scale)


@dataclass
class Transient:
    t: np.ndarray
    tf: np.ndarray
    temp: np.ndarray
    v_cell: np.ndarray
    i_cell: np.ndarray

    @property
    def gap(self):
        return SkyWaterCell().Tox - self.tf


def _cell_voltage(cell, v_src, r_series, tf):
    """Solve V + R*I(V) = v_src for the cell voltage (I monotonic in V, so one root)."""
    if r_series == 0.0:
        return v_src
    f = lambda v: v + r_series * float(cell.current(v, tf)) - v_src  # noqa: E731
    lo, hi = min(0.0, v_src), max(0.0, v_src)
    if lo == hi:
        return 0.0
    return brentq(f, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=200)


def simulate(pwl, tf0, r_series=0.0, t_ambient=300.15, cell=SkyWaterCell(), t_eval=None,
             rtol=1e-9):
    """Source ``pwl`` ((t, v), ...) through ``r_series`` into the cell, from ``tf0`` at T ambient.

    Integrates segment by segment between the PWL corners (Radau, ``rtol``), returns the state,
    cell voltage and cell current at ``t_eval`` (default: 2000 points).
    """
    tp = np.array([p[0] for p in pwl], float)
    vp = np.array([p[1] for p in pwl], float)
    t_stop = tp[-1]
    if t_eval is None:
        t_eval = np.linspace(0.0, t_stop, 2001)
    t_eval = np.asarray(t_eval, float)

    def rhs(t, y):
        tf, dtemp = y
        v_src = float(np.interp(t, tp, vp))
        v = _cell_voltage(cell, v_src, r_series, min(max(tf, cell.Tfilament_min),
                                                      cell.Tfilament_max))
        temp = t_ambient + dtemp
        i = float(cell.current(v, min(max(tf, cell.Tfilament_min), cell.Tfilament_max)))
        return [cell.dtf_dt(v, tf, temp), abs(v * i) / cell.C_thermal - dtemp / cell.tau_thermal]

    y = np.array([tf0, 0.0])
    ts, ys = [], []
    for a, b in zip(tp[:-1], tp[1:]):
        if b <= a:
            continue
        sol = solve_ivp(rhs, (a, b), y, method="Radau", rtol=rtol, atol=[1e-17, 1e-7],
                        dense_output=True, first_step=min(1e-12, (b - a) / 10))
        if not sol.success:
            raise RuntimeError(sol.message)
        te = t_eval[(t_eval >= a) & (t_eval < b)]
        if te.size:
            ts.append(te)
            ys.append(sol.sol(te))
        y = sol.y[:, -1].copy()
        y[0] = min(max(y[0], cell.Tfilament_min), cell.Tfilament_max)
    end = t_eval[t_eval >= t_stop]
    if end.size:
        ts.append(end)
        ys.append(np.repeat(y[:, None], end.size, axis=1))
    t = np.concatenate(ts)
    yy = np.concatenate(ys, axis=1)
    tf = np.clip(yy[0], cell.Tfilament_min, cell.Tfilament_max)
    v_src = np.interp(t, tp, vp)
    v = np.array([_cell_voltage(cell, a, r_series, b) for a, b in zip(v_src, tf)])
    return Transient(t, tf, t_ambient + yy[1], v, cell.current(v, tf))

"""RRAM cell model parameters and the model equations in numpy.

The parameters of ``circuits/rram_skywater.va`` (SkyWater's sky130 ReRAM cell set) and its
equations in numpy, safeguards included, as implemented. This is *not* the independent reference
the tests check the simulator against (that is ``tests/rram_reference.py``, written from
SkyWater's published source); it maps a target read conductance to the initial gap the netlist
writes, and back, and evaluates the model where no simulation is needed.

All quantities are SI: metres, volts, amperes, siemens, kelvin, seconds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import InputError

Q_E = 1.602176634e-19  # C, as `P_Q in constants.vams
K_B = 1.3806503e-23  # J/K, as `P_K in OpenVAF's constants.vams (older CODATA value)

#: Conductance window used for weights (NeuRRAM authors' code: ~1-40 uS, +-1 uS).
G_WEIGHT_MIN_S = 1e-6
G_WEIGHT_MAX_S = 40e-6
#: Default read voltage across a cell during MVM (facts: 0.1-0.2 V).
V_READ_DEFAULT_V = 0.2  # = pycim.assumptions v_read_v (tests/test_characterize.py checks)


#: Which published parameter set the defaults are (the demo and the README name it).
PARAMETER_SET = ("SkyWater sky130_fd_pr_reram reram_cell (github google/"
                 "skywater-pdk-libs-sky130_fd_pr_reram, cells/reram_cell/"
                 "sky130_fd_pr_reram__reram_cell.va)")


@dataclass(frozen=True)
class RramParams:
    """Parameters of the ``rram_skywater`` Verilog-A model (names there in brackets).

    Defaults are SkyWater's sky130 ReRAM cell, one set (:data:`PARAMETER_SET`); the SkyWater
    name of each is in the README's RRAM section. ``gap_win_m`` and ``exp_lim`` are numerical
    safeguards that are exactly inactive inside the physical range (see the Verilog-A header).
    """

    i0_a: float = 61.4e-6  # [i0] current prefactor (I_k1)
    g0_m: float = 0.2751e-9  # [g0] gap decay length (Tox - Tfilament_ref)
    v0_v: float = 0.43  # [v0] conduction voltage scale (V_ref)
    vel0_m_per_s: float = 150.0  # [vel0] gap velocity prefactor (velocity_k1)
    ea_gen_ev: float = 1.501  # [ea_gen] activation energy, vacancy generation (SET)
    ea_rec_ev: float = 1.500  # [ea_rec] activation energy, recombination (RESET)
    a0_m: float = 0.25e-9  # [a0] hopping distance
    tox_m: float = 5e-9  # [tox] oxide thickness
    gamma0: float = 16.5  # [gamma0] field enhancement at g = 0 (gamma_k0)
    beta: float = 1.25  # [beta] enhancement loss per nm^3 of gap (-gamma_k1)
    gap_min_m: float = 0.1e-9  # [gap_min] Tox - Tfilament_max
    gap_max_m: float = 1.7e-9  # [gap_max] Tox - Tfilament_min
    gap_win_m: float = 0.01e-9  # [gap_win] restoring window beyond each bound
    exp_lim: float = 200.0  # [x_lim] exponent above which exp() continues linearly
    c_th_j_per_k: float = 3.1825e-16  # [c_th] thermal capacitance (C_thermal)
    tau_th_s: float = 0.23e-9  # [tau_th] thermal time constant (tau_thermal)

    #: Verilog-A name of each field.
    VA_NAMES = {
        "i0_a": "i0", "g0_m": "g0", "v0_v": "v0", "vel0_m_per_s": "vel0",
        "ea_gen_ev": "ea_gen", "ea_rec_ev": "ea_rec",
        "a0_m": "a0", "tox_m": "tox", "gamma0": "gamma0", "beta": "beta",
        "gap_min_m": "gap_min", "gap_max_m": "gap_max", "gap_win_m": "gap_win",
        "exp_lim": "x_lim", "c_th_j_per_k": "c_th", "tau_th_s": "tau_th",
    }

    def __post_init__(self) -> None:
        for f in fields(self):
            val = getattr(self, f.name)
            if isinstance(val, (bool, np.bool_)) \
                    or not isinstance(val, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(val):
                raise InputError(f"RramParams.{f.name} must be a finite number, got {val!r}")
            lower_ok = val >= 0 if f.name in ("vel0_m_per_s", "beta") else val > 0
            if not lower_ok:
                raise InputError(f"RramParams.{f.name} must be > 0, got {val!r}")
        if not self.gap_min_m < self.gap_max_m:
            raise InputError("RramParams: gap_min_m must be < gap_max_m")
        if not self.exp_lim < 700:
            raise InputError(f"RramParams.exp_lim must be < 700 (exp overflows near 709), "
                             f"got {self.exp_lim!r}")
        # no tight physical bounds, but a model that can be read: finite, nonzero conductances
        # over the gap range at the default read voltage (g0_m = 1e-300 gives (0, 0) S,
        # v0_v = 1e-300 overflows)
        x = V_READ_DEFAULT_V / self.v0_v  # current_a's sinh, linear above exp_lim
        sh = math.sinh(x) if x < self.exp_lim else \
            0.5 * math.exp(self.exp_lim) * (1.0 + x - self.exp_lim)
        scale = self.i0_a * sh / V_READ_DEFAULT_V
        lo, hi = (scale * math.exp(-g / self.g0_m) for g in (self.gap_max_m, self.gap_min_m))
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
            raise InputError(f"RramParams: the read conductance range over gap_min_m..gap_max_m "
                             f"at {V_READ_DEFAULT_V} V is ({lo:.3g}, {hi:.3g}) S, not finite "
                             f"and > 0 (check i0_a, g0_m, v0_v: g0_m={self.g0_m!r}, "
                             f"v0_v={self.v0_v!r})")

    def va_params(self) -> dict[str, float]:
        """Model-card parameters keyed by their Verilog-A names."""
        return {self.VA_NAMES[k]: float(v) for k, v in asdict(self).items()}

    @property
    def r_th_k_per_w(self) -> float:
        """Thermal resistance, tau_th / c_th."""
        return self.tau_th_s / self.c_th_j_per_k


DEFAULT_PARAMS = RramParams()


def _lim_exp(x, x_lim: float):
    """exp(x) below ``x_lim``, its tangent line above (the model's overflow guard)."""
    x = np.asarray(x, dtype=float)
    return np.where(x < x_lim, np.exp(np.minimum(x, x_lim)),
                    math.exp(x_lim) * (1.0 + x - x_lim))


def current_a(v_v, gap_m, p: RramParams = DEFAULT_PARAMS):
    """Cell current from top to bottom electrode: I = i0 exp(-g/g0) sinh(V/v0).

    As the Verilog-A source: the gap is clamped to [gap_min, gap_max] and sinh continues
    linearly above |V|/v0 = exp_lim (both inactive for physical states and |V| <= 5 V).
    """
    v = np.asarray(v_v, dtype=float)
    g = np.clip(np.asarray(gap_m, dtype=float), p.gap_min_m, p.gap_max_m)
    x = np.abs(v) / p.v0_v
    sh = np.where(x < p.exp_lim, np.sinh(np.minimum(x, p.exp_lim)),
                  0.5 * math.exp(p.exp_lim) * (1.0 + x - p.exp_lim))
    return p.i0_a * np.exp(-g / p.g0_m) * np.sign(v) * sh


def gap_rate_m_per_s(v_v, gap_m, temp_k, p: RramParams = DEFAULT_PARAMS):
    """dg/dt of the model at cell voltage ``v_v``, gap (state) ``gap_m`` and filament temperature.

    The same formulas and safeguards as ``circuits/rram_skywater.va`` (gap clamp, restoring
    window beyond the bounds, linear continuation of exp above ``exp_lim``): this is the model
    as implemented, used to check that the safeguards leave the published equation unchanged.
    """
    t = np.asarray(temp_k, dtype=float)
    if not np.all(np.isfinite(t) & (t > 0)):
        bad = t[~(np.isfinite(t) & (t > 0))].ravel()[0]
        raise InputError(f"temp_k must be a finite temperature > 0 K, got {bad!r}")
    v = np.asarray(v_v, dtype=float)
    g_state = np.clip(np.asarray(gap_m, dtype=float), p.gap_min_m - 10 * p.gap_win_m,
                      p.gap_max_m + 10 * p.gap_win_m)
    g = np.clip(g_state, p.gap_min_m, p.gap_max_m)
    g_nm = g * 1e9
    gam = p.gamma0 - p.beta * g_nm**3
    vt = K_B * t / Q_E
    u = gam * p.a0_m * v / (p.tox_m * vt)
    rate = -p.vel0_m_per_s * (_lim_exp(-p.ea_gen_ev / vt + u, p.exp_lim)
                              - _lim_exp(-p.ea_rec_ev / vt - u, p.exp_lim))
    s = np.where(rate < 0, (p.gap_min_m - g_state) / p.gap_win_m,
                 (g_state - p.gap_max_m) / p.gap_win_m)
    win = np.where(s <= 0, 1.0, np.maximum(1.0 - s * s, -3.0))
    return rate * win


def read_conductance_s(gap_m, v_read_v: float = V_READ_DEFAULT_V, p: RramParams = DEFAULT_PARAMS):
    """Chord conductance I(v_read)/v_read of a cell with gap ``gap_m``."""
    _check_v_read(v_read_v)
    return current_a(v_read_v, gap_m, p) / v_read_v


def conductance_range_s(v_read_v: float = V_READ_DEFAULT_V,
                        p: RramParams = DEFAULT_PARAMS) -> tuple[float, float]:
    """(lowest, highest) read conductance the gap bounds allow."""
    return (float(read_conductance_s(p.gap_max_m, v_read_v, p)),
            float(read_conductance_s(p.gap_min_m, v_read_v, p)))


def gap_for_conductance_m(g_s, v_read_v: float = V_READ_DEFAULT_V,
                          p: RramParams = DEFAULT_PARAMS):
    """Gap that gives read conductance ``g_s`` at ``v_read_v`` (inverse of read_conductance_s).

    Raises
    ------
    InputError
        A target is not finite or lies outside what the gap bounds can reach.
    """
    _check_v_read(v_read_v)
    g = np.asarray(g_s, dtype=float)
    if not np.all(np.isfinite(g)):
        raise InputError("target conductance must be finite")
    lo, hi = conductance_range_s(v_read_v, p)
    if np.any(g < lo * (1 - 1e-12)) or np.any(g > hi * (1 + 1e-12)):
        bad = g[(g < lo) | (g > hi)].ravel()[0]
        raise InputError(
            f"target conductance {bad:.4g} S outside the model range "
            f"[{lo:.4g}, {hi:.4g}] S at v_read={v_read_v} V")
    scale = p.i0_a * math.sinh(v_read_v / p.v0_v) / v_read_v
    gap = -p.g0_m * np.log(g / scale)
    return np.clip(gap, p.gap_min_m, p.gap_max_m)


def _check_v_read(v_read_v: float) -> None:
    if isinstance(v_read_v, (bool, np.bool_)) \
            or not isinstance(v_read_v, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(v_read_v) and 0 < v_read_v <= 1.0):
        raise InputError(f"v_read_v must be in (0, 1] V, got {v_read_v!r}")

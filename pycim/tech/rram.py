"""RRAM cell model parameters and the model equations in numpy.

This module is the independent reference for ``circuits/rram_spku.va``: the same Stanford-PKU
equations (Jiang et al., IEEE TED 63(5), 2016), written once more in numpy, so a simulation can be
checked against the equation rather than against itself. It also maps a target read conductance
to the initial gap the netlist writes, and back.

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
V_READ_DEFAULT_V = 0.1


@dataclass(frozen=True)
class RramParams:
    """Parameters of the ``rram_spku`` Verilog-A model (names there in brackets).

    Defaults are near NeuRRAM's HfOx cell (shared/neurram_facts.md), as in SkyWater's ReRAM cell.
    """

    i0_a: float = 61.4e-6  # [i0] current prefactor
    g0_m: float = 0.275e-9  # [g0] gap decay length
    v0_v: float = 0.43  # [v0] conduction voltage scale
    vel0_m_per_s: float = 150.0  # [vel0] gap velocity prefactor
    ea_ev: float = 0.6  # [ea] activation energy
    a0_m: float = 0.25e-9  # [a0] hopping distance
    tox_m: float = 5e-9  # [tox] oxide thickness
    gamma0: float = 16.5  # [gamma0] field enhancement at g = 0
    beta: float = 1.25  # [beta] enhancement loss per nm^3 of gap
    gap_min_m: float = 0.1e-9  # [gap_min]
    gap_max_m: float = 1.7e-9  # [gap_max]
    gap_win_m: float = 0.02e-9  # [gap_win] width of the restoring window at each bound
    arg_max: float = 30.0  # [arg_max] soft limit of the switching sinh argument
    c_th_j_per_k: float = 0.318e-15  # [c_th] thermal capacitance
    tau_th_s: float = 0.23e-9  # [tau_th] thermal time constant

    #: Verilog-A name of each field.
    VA_NAMES = {
        "i0_a": "i0", "g0_m": "g0", "v0_v": "v0", "vel0_m_per_s": "vel0", "ea_ev": "ea",
        "a0_m": "a0", "tox_m": "tox", "gamma0": "gamma0", "beta": "beta",
        "gap_min_m": "gap_min", "gap_max_m": "gap_max", "gap_win_m": "gap_win",
        "arg_max": "arg_max", "c_th_j_per_k": "c_th", "tau_th_s": "tau_th",
    }

    def __post_init__(self) -> None:
        for f in fields(self):
            val = getattr(self, f.name)
            if not isinstance(val, (int, float)) or not math.isfinite(val):
                raise InputError(f"RramParams.{f.name} must be a finite number, got {val!r}")
            lower_ok = val >= 0 if f.name in ("vel0_m_per_s", "beta") else val > 0
            if not lower_ok:
                raise InputError(f"RramParams.{f.name} must be > 0, got {val!r}")
        if not self.gap_min_m < self.gap_max_m:
            raise InputError("RramParams: gap_min_m must be < gap_max_m")

    def va_params(self) -> dict[str, float]:
        """Model-card parameters keyed by their Verilog-A names."""
        return {self.VA_NAMES[k]: float(v) for k, v in asdict(self).items()}

    @property
    def r_th_k_per_w(self) -> float:
        """Thermal resistance, tau_th / c_th."""
        return self.tau_th_s / self.c_th_j_per_k


DEFAULT_PARAMS = RramParams()


def current_a(v_v, gap_m, p: RramParams = DEFAULT_PARAMS):
    """Cell current from top to bottom electrode: I = i0 exp(-g/g0) sinh(V/v0)."""
    return p.i0_a * np.exp(-np.asarray(gap_m) / p.g0_m) * np.sinh(np.asarray(v_v) / p.v0_v)


def gap_rate_m_per_s(v_v, gap_m, temp_k, p: RramParams = DEFAULT_PARAMS):
    """dg/dt of the model at cell voltage ``v_v``, gap ``gap_m`` and filament temperature.

    Includes the restoring window and the soft limit of the sinh argument exactly as the
    Verilog-A source does, so a transient can be checked against ``scipy.integrate``.
    """
    v = np.asarray(v_v, dtype=float)
    g = np.asarray(gap_m, dtype=float)
    t = np.asarray(temp_k, dtype=float)
    g_c = np.clip(g, p.gap_min_m - 10 * p.gap_win_m, p.gap_max_m + 10 * p.gap_win_m)
    g_nm = g_c * 1e9
    gam = p.gamma0 - p.beta * g_nm**3
    arg = gam * p.a0_m * Q_E * v / (p.tox_m * K_B * t)
    arg = p.arg_max * np.tanh(arg / p.arg_max)
    rate = -p.vel0_m_per_s * np.exp(-p.ea_ev * Q_E / (K_B * t)) * np.sinh(arg)
    win = np.where(rate < 0, np.tanh((g - p.gap_min_m) / p.gap_win_m),
                   np.tanh((p.gap_max_m - g) / p.gap_win_m))
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
    if not (isinstance(v_read_v, (int, float)) and math.isfinite(v_read_v) and 0 < v_read_v <= 1.0):
        raise InputError(f"v_read_v must be in (0, 1] V, got {v_read_v!r}")

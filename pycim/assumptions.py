"""Every value the NeuRRAM paper does not give, with a one-line reason each.

Reports list them from here; specs take their defaults from here. Change a value here and every
generator, sweep and report follows. SI units unless the name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Assumption:
    name: str
    value: float
    unit: str
    reason: str


_A = [
    # -- array geometry and wires ------------------------------------------------------------
    Assumption("cell_pitch_x_um", 1.6, "um",
               "1T1R pitch along a row: 5 V access FET + RRAM via; not given in the paper"),
    Assumption("cell_pitch_y_um", 1.6, "um", "1T1R pitch along a column; square cell assumed"),
    Assumption("wire_r_ohm_per_um", 0.9, "ohm/um",
               "SKY130 met1 0.125 ohm/sq at 0.14 um minimum width"),
    Assumption("wire_c_f_per_um", 0.2e-15, "F/um",
               "typical 130 nm met1 line capacitance to ground and neighbours"),
    # -- conductances and voltages -------------------------------------------------------------
    Assumption("g_min_s", 1e-6, "S", "low end of the weight window (authors' code: ~1-40 uS)"),
    Assumption("g_max_s", 40e-6, "S", "high end of the weight window (authors' code)"),
    Assumption("v_read_v", 0.1, "V", "read voltage across a cell; facts file gives 0.1-0.2 V"),
    Assumption("v_ref_v", 0.9, "V", "line reference voltage (authors' code: Vref = 0.9 V)"),
    Assumption("v_wl_read_v", 3.3, "V",
               "WL high level during MVM: the paper swings 0.9 <-> 2.2 V; with Vref = 0.9 V on the "
               "source that leaves SKY130's 5 V FET too little overdrive, so 3.3 V is used"),
    # -- access transistor (SKY130 nfet_g5v0d10v5: thick oxide, survives the 5 V RESET WL) ---------
    Assumption("access_w_um", 1.0, "um", "access FET width; Ron is reported as a non-ideality"),
    Assumption("access_l_um", 0.5, "um", "nfet_g5v0d10v5 minimum length"),
    Assumption("switch_w_um", 2.0, "um", "driver switch FET width (transmission-gate halves)"),
    Assumption("switch_l_um", 0.15, "um", "driver switch FET length"),
    Assumption("vdd_v", 1.8, "V", "core and neuron supply (CiMLoop model of the macro: 1.8 V)"),
]

ASSUMPTIONS: dict[str, Assumption] = {a.name: a for a in _A}


def value(name: str) -> float:
    """The value of assumption ``name`` (KeyError names the unknown key)."""
    return ASSUMPTIONS[name].value


def table() -> list[dict]:
    """Rows for reports: name, value, unit, reason."""
    return [{f.name: getattr(a, f.name) for f in fields(a)} for a in _A]

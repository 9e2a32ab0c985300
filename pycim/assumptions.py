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
    Assumption("v_wl_read_v", 2.2, "V",
               "WL high level during MVM reads and verify reads: the paper's 2.2 V (WL switching "
               "0.9 <-> 2.2 V, Extended Data Fig. 12b via CiMLoop); with the source at Vref = "
               "0.9 V the access FET is widened (access_w_um) to keep its Ron"),
    Assumption("v_wl_low_v", 0.9, "V",
               "WL low (off) level during MVM reads: the paper's 0.9 V (WL switching 0.9 <-> "
               "2.2 V); Vgs = 0 against Vref on the source keeps the access FET off"),
    # -- access transistor (SKY130 nfet_g5v0d10v5: thick oxide, survives the 5 V RESET WL) ---------
    Assumption("access_w_um", 4.0, "um",
               "access FET width: Ron at WL 2.2 V (source 0.9 V, 50 mV across) 3.3 kOhm tt / "
               "4.4 kOhm ss 125 C, what 1 um gave at WL 3.3 V (benchmarks/access_ron.py); Ron is "
               "reported as a non-ideality"),
    Assumption("access_l_um", 0.5, "um", "nfet_g5v0d10v5 minimum length"),
    Assumption("wl_nfet_w_um", 96.0, "um",
               "WL inverter nMOS width (5 V FET, L = 0.5 um, source on the 0.9 V rail, body at "
               "ground: only 1.3 V of gate drive, hence 1.5x the pMOS): a 256-cell row's WL falls "
               "90-10 % in 1.2 ns tt at the far end (benchmarks/wl_edge.py)"),
    Assumption("wl_pfet_w_um", 64.0, "um",
               "WL inverter pMOS width (5 V FET, L = 0.5 um): a 256-cell row's WL rises 10-90 % "
               "in 1.4 ns tt at the far end (benchmarks/wl_edge.py)"),
    Assumption("switch_w_um", 20.0, "um",
               "driver TG FET width. At mid-rail (0.9 +- 0.1 V) the 1.8 V TG has little overdrive: "
               "measured on a 32 x 16 core, 2 um drooped the 1.0 V rail by 70 mV (MVM gain 0.56, "
               "-26 mV offset); 20 um gives gain 0.90, -5 mV"),
    Assumption("switch_l_um", 0.15, "um", "driver switch FET length"),
    Assumption("vdd_v", 1.8, "V", "core and neuron supply (CiMLoop model of the macro: 1.8 V)"),
    # -- neuron (voltage-mode switched-capacitor integrator + charge-decrement ADC) ---------------
    Assumption("neuron_c_sample_f", 50e-15, "F",
               "sample capacitor: 1/2 of the line's ~100 fF so sampling loads the line little; "
               "MIM at ~2 fF/um2 is 25 um2 of the ~1270 um2 neuron"),
    Assumption("neuron_c_integ_f", 100e-15, "F",
               "integration capacitor: C_s/C_i = 0.5 puts 7 steps of |V_SL-Vref| <= 0.1 V "
               "(4-bit input) at <= 0.35 V, inside the ADC full scale"),
    Assumption("neuron_adc_fs_v", 0.4, "V",
               "ADC full scale: codes cover V_int - Vref in [-0.4, 0.4) V (the OTA swings "
               "Vref +- 0.6 V); packet k's reference Vref +- (C_i/C_s) fs / 2^k comes from an "
               "ideal PWL source pair shared by all neurons (stand-in for the chip's DAC)"),
    Assumption("neuron_ibias_a", 2e-6, "A",
               "OTA reference current (a resistor into a diode-connected NFET); tail 2x, second "
               "stage 6x: 19 uA total, GBW ~60 MHz, enough for 0.27 us integration steps"),
    Assumption("neuron_cc_f", 100e-15, "F", "OTA Miller capacitor (GBW = gm1 / 2 pi Cc)"),
    Assumption("neuron_rz_ohm", 10e3, "ohm",
               "OTA zero-nulling resistor in series with Cc: PM 53 deg without it, 74 deg with "
               "it (40 fF load); 20 kOhm overcompensates"),
    Assumption("neuron_c_latch_f", 2e-15, "F",
               "explicit storage capacitance on each decision latch's input node"),
    Assumption("neuron_t_edge_s", 1e-9, "s", "rise/fall time of every neuron clock edge"),
    Assumption("neuron_t_guard_s", 3e-9, "s", "non-overlap gap between clocks (break-before-make)"),
    Assumption("neuron_t_reset_s", 200e-9, "s", "precharge/discharge of C_sample and C_integ"),
    Assumption("neuron_t_sample_s", 110e-9, "s",
               "input pulse on, line settles onto C_sample; with 8+3+106+40+3 ns more, one "
               "integration step is 0.27 us (CiMLoop's NeuRRAM timing)"),
    Assumption("neuron_t_early_s", 8e-9, "s",
               "bottom-plate switch opens this long before the top-plate switch"),
    Assumption("neuron_t_integrate_s", 106e-9, "s",
               "charge transfer C_sample -> C_integ (settles to 0.1 mV in ~35 ns)"),
    Assumption("neuron_t_settle_s", 40e-9, "s",
               "virtual-ground switch open, top plate still at Vref: the OTA recovers from the "
               "switch's charge kick (~0.6 mV, gone in ~30 ns) before the next phase"),
    Assumption("neuron_t_compare_s", 100e-9, "s",
               "OTA open loop as comparator, latch transparent; with 5 ns hold, 70+8 ns packet "
               "sampling, 68+40 ns integration and 3 guards, one ADC step is 0.3 us (CiMLoop)"),
    Assumption("neuron_t_hold_s", 5e-9, "s", "latch closed, comparator still open-loop"),
    Assumption("neuron_t_packet_s", 70e-9, "s", "charge packet sampled from the DAC reference"),
    Assumption("neuron_t_packet_integrate_s", 68e-9, "s",
               "packet integrated onto C_integ (largest, 0.2 V, settles to 0.1 mV in ~40 ns)"),
    Assumption("cox_1v8_f_per_um2", 8.5e-15, "F/um^2",
               "SKY130 1.8 V gate oxide (~4.1 nm) capacitance: the ideal macro-model's switch energy"),
    Assumption("cox_5v_f_per_um2", 2.3e-15, "F/um^2",
               "SKY130 5 V gate oxide (~15 nm): the ideal macro-model's word-line energy"),
    # -- write-verify programming (pycim.characterize.write_verify) ------------------------------
    Assumption("wv_g_init_s", 0.5e-6, "S", "cell state before write-verify (a reset cell)"),
    Assumption("wv_v_wl_set_v", 1.4, "V",
               "SET WL level (the access FET is the compliance): the chip's 2.5 V on its FET; "
               "here the 4 um access FET at 1.4 V draws what the 1 um FET did at 2.5 V "
               "(186 vs 187 uA at Vds 1 V, 27 C; benchmarks/access_ron.py)"),
    Assumption("wv_v_wl_set_high_v", 1.55, "V",
               "second SET WL level of the write-verify sweep: the chip's 3.0 V; the 4 um FET at "
               "1.55 V draws what the 1 um FET did at 3.0 V (258 vs 251 uA at Vds 1 V, 27 C)"),
]

ASSUMPTIONS: dict[str, Assumption] = {a.name: a for a in _A}


def value(name: str) -> float:
    """The value of assumption ``name`` (KeyError names the unknown key)."""
    return ASSUMPTIONS[name].value


def table() -> list[dict]:
    """Rows for reports: name, value, unit, reason."""
    return [{f.name: getattr(a, f.name) for f in fields(a)} for a in _A]

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
    Assumption("wire_r_ohm_per_um", 0.3, "ohm/um",
               "SKY130 met1 / met2 0.125 ohm/sq (the SkyWater ReRAM sits between met1 and "
               "met2) at 0.42 um, three times the 0.14 um minimum width, which the 1.6 um "
               "pitch leaves room for: a 256-cell line's IR drop is a weight error by "
               "position that per-line calibration cannot remove (issue 17 item 6, "
               "benchmarks/adc_calibration.py on the fifteenth round's model: 0.172 at "
               "minimum width, 0.9 ohm/um, 0.124 at 0.45, 0.110 at 0.3 against a budget "
               "of 0.12)"),
    Assumption("wire_c_f_per_um", 0.2e-15, "F/um",
               "typical 130 nm met1 line capacitance to ground and neighbours; kept for the "
               "0.42 um line (SKY130 met1: 25.8 aF/um^2 area, 40.5 aF/um fringe per edge: "
               "0.09 fF/um before coupling)"),
    # -- conductances and voltages -------------------------------------------------------------
    Assumption("g_min_s", 1e-6, "S", "low end of the weight window (authors' code: ~1-40 uS)"),
    Assumption("g_max_s", 40e-6, "S", "high end of the weight window (authors' code)"),
    Assumption("v_read_v", 0.2, "V",
               "read voltage across a cell (MVM drive and write-verify read); the authors' code "
               "uses 0.1-0.2 V, CiMLoop labels the paper's input pulses 0.5 V. 0.2 V, not 0.1 V: "
               "at 0.1 V the 4-bit input pulses were 4.44 fJ/op, 0.39 of the paper's 11.5, at "
               "0.2 V 9.89 (0.86; issue 17, report sweep, control charge counted per level); "
               "the neuron's C_integ is doubled with it, so the integrator swings and the codes "
               "of a given x W are those of 0.1 V"),
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
    Assumption("wl_nfet_w_um", 48.0, "um",
               "WL inverter nMOS width (5 V FET, L = 0.5 um, source on the 0.9 V rail, body at "
               "ground: only 1.3 V of gate drive, hence 1.5x the pMOS): a 256-cell row's WL falls "
               "90-10 % in 2.2 ns tt / 2.6 ns ss 125 C at the far end (benchmarks/wl_edge.py). "
               "Half the 96 um first sized: its input gate, charged by a CMOS driver every cycle, "
               "was over a quarter of the row's WL energy (1.04 of 3.70 pJ per cycle)"),
    Assumption("wl_pfet_w_um", 32.0, "um",
               "WL inverter pMOS width (5 V FET, L = 0.5 um): a 256-cell row's WL rises 10-90 % "
               "in 2.1 ns tt / 2.4 ns ss 125 C at the far end, 90 % on 3.0 / 3.3 ns after the "
               "input edge starts (benchmarks/wl_edge.py)"),
    Assumption("switch_w_um", 20.0, "um",
               "driver TG nFET width. At mid-rail (0.9 +- 0.1 V) the 1.8 V TG has little overdrive: "
               "measured on a 32 x 16 core, 2 um drooped the 1.0 V rail by 70 mV (MVM gain 0.56, "
               "-26 mV offset); 20 um gives gain 0.90, -5 mV"),
    Assumption("switch_p_w_um", 100.0, "um",
               "driver TG pFET width (switch_w_um is the nFET's). Equal widths leave the gate at "
               "the Vref + Vread rail weaker than the one at Vref - Vread (there the pFET, of "
               "lower mobility, carries the current), so a full core's lines sag by their own "
               "share of driven conductance: on the array stage of a 128 x 256 core (seed 28), "
               "per-line share slope / plane offsets / gain -36 mV / -35..-41 mV / 0.51 at 1x "
               "the nFET, -5.0 / -5.0..-6.1 / 0.70 at 5x (benchmarks/driver_asymmetry.py); 5x it is"),
    Assumption("switch_l_um", 0.15, "um", "driver switch FET length"),
    Assumption("vdd_v", 1.8, "V", "core and neuron supply (CiMLoop model of the macro: 1.8 V)"),
    # -- neuron (voltage-mode switched-capacitor integrator + charge-decrement ADC) ---------------
    Assumption("neuron_c_sample_f", 50e-15, "F",
               "sample capacitor: 1/10 of C_hold, so each sample of the held value keeps ~91 % "
               "of it (droop r = C_hold / (C_hold + C_s), in the closed form); MIM at ~2 fF/um2 "
               "is 25 um2 of the ~1270 um2 neuron. Halving C_s and C_i (with C_hold 250 fF) "
               "doubled the switches' charge errors on C_i: codes up to +0.6 LSB off at 2-bit "
               "inputs (tests/test_mvm.py, measured)"),
    Assumption("neuron_c_hold_f", 500e-15, "F",
               "track/hold capacitor: follows the line during the read pulse, holds it for the "
               "plane's 2^(n-1) samples; 10 C_s against droop. Settling: C_hold over the line's "
               "summed conductance (1 ns for a 256-row line of 2 uS cells; small arrays of weak "
               "cells need a longer pulse: pycim.cim.request.check_settling warns). 250 um2 of "
               "MIM"),
    Assumption("neuron_trk_wn_um", 6.0, "um",
               "track switch (line -> C_hold) NFET width: a unit TG (0.5 / 0.9 um) at mid-rail is "
               "~24 kOhm, tau 6 ns on 250 fF (measured); 12x keeps its own tau on C_hold ~1 ns"),
    Assumption("neuron_trk_wp_um", 12.0, "um",
               "track switch PFET width (NFET 6 um, half-size dummies on the hold node, "
               "NeuronSpec.trk_dummy): sized for the switch's charge on C_hold to cancel near "
               "Vref. Held value minus settled line on the (6,8) high phase of the 16 x 16 "
               "spread problem (lines +-8.8 and +-29.3 mV), mean over the four: +0.233 / +0.156 "
               "/ +0.069 / -0.041 mV at 18 / 16 / 14 / 12 um, and the phase's integrator error "
               "+0.92 / +0.70 / +0.46 / +0.15 mV (+0.30 / +0.22 / +0.15 / +0.05 LSB): python "
               "benchmarks/neuron_mvm_diag.py 6 8 hi 0 trk_wp_um=W. The held value's level "
               "dependence grows as the PFET shrinks (0.09 % of the line at 16 um, 0.2 % at 12); "
               "without the dummies it was 1.6-2.1 % above the line"),
    Assumption("neuron_rst_sw_wp_um", 1.2, "um",
               "PFET width of the neuron's rst switch (NFET 0.5 um): it always opens with x and "
               "y at Vref, so the PFET is sized for the two halves' channel and overlap charge to "
               "cancel there. At 0.9 um (the other switches') the integrator started +0.80 mV "
               "off, at 1.2 um +0.01 mV (line bench, 4-bit in / 7-bit out, FS 0.05 V, no "
               "bypass: python benchmarks/neuron_conv_diag.py 4 7 0.05 0 5 -5 15 -15, 'v0'); "
               "-1.9 mV per um"),
    Assumption("neuron_out_sw_wp_um", 1.25, "um",
               "PFET width of the fb and cc switches on the OTA output (NFET 0.5 um), which open "
               "as the OTA turns comparator: their charge kicks the open-loop output, and what "
               "the output has not undone when the latch samples is the comparator's threshold. "
               "Residue (V_int - Vref) at which decisions turn positive, tt / ss / ff: -0.29 / "
               "-0.43 / -0.28 mV at 0.9 um (the unit switch's), -0.08 / -0.16 / ~0 at 1.2, "
               "-0.055..+0.056 / -0.13 / +0.075 at 1.25, +0.02 / -0.07 / +0.08..0.15 at 1.3 "
               "(python benchmarks/neuron_conv_diag.py 5 7 0.05 <23 DVs within 3.3 mV> "
               "out_sw_wp_um=W corner=C: 4 magnitude planes, 7-bit out, the (8,10) high phase's "
               "0.78 mV LSB, where -0.29 mV left the conversion +0.41 LSB high)"),
    Assumption("neuron_az_sw_wp_um", 1.20, "um",
               "PFET width of the neuron's az switch on C_az's OTA side (NFET 0.5 um): its charge "
               "when it opens moves the stored offset, so the virtual ground sits off Vref and "
               "every transfer integrates (C_s/C_i) x that error; with it the bottom-plate "
               "switches' own charge. At 0.9 um: +0.117 mV per integration, +0.146 mV per DAC "
               "packet (j >= 2); at 1.14 um: -0.001 and +0.026 mV (the same bench with the bias "
               "net's 2 pF of then). Re-centred in the fourteenth round (per-neuron bias "
               "decoupling, clocked latch input; python benchmarks/neuron_conv_diag.py 4 7 0.05 "
               "0 5 -5 15 -15 az_sw_wp_um=W): per integration +0.0169 / +0.0122 / +0.0074 / "
               "+0.0027 / -0.0021 mV, per packet (j >= 2) +0.0105 / +0.0053 / -0.0006 / -0.0058 "
               "/ -0.0111 mV, starting level +0.018 / -0.004 / -0.025 / -0.046 / -0.067 mV at "
               "W = 1.14 / 1.16 / 1.18 / 1.20 / 1.22 um: 1.20 sits between the integrations' "
               "zero (1.21) and the packets' (1.18). On the 16 x 16 ideal core's spread problem "
               "(make bench mvm_codes' case) codes within +-1 LSB went 0.9375 -> 1.0 at (6,8), "
               "0.125 -> 0.5625 at (8,10) (error RMS 1.06 -> 0.25 and 8.08 -> 5.41 LSB). Both "
               "widths hold at tt only: another corner moves the NFET's and PFET's charge apart"),
    Assumption("neuron_c_sample_eff_f", 52.98e-15, "F",
               "C_sample as the hold capacitor sees it in charge sharing (y_ideal's plane "
               "weights): 50 fF plus the junctions of the TGs on its top plate (s1a, s2a, pk). "
               "Fit of the droop r = (C_h + x) / (C_h + x + C_s,eff), r from sample to sample, "
               "at C_hold = 300, 500 and 700 fF: C_s,eff 52.98 fF, x 29.47 fF (python "
               "benchmarks/neuron_issue17.py droop 300 500 700; tests/test_neuron.py holds "
               "these values to the bench). Until the nineteenth round x was 34.75 fF, measured "
               "on an earlier neuron and with the first step (which carries the track switch's "
               "pedestal) in r: r 0.9098 against 0.9090 now, a -0.2 % gain on four planes that "
               "the (8, 10) code checks saw"),
    Assumption("neuron_c_hold_eff_f", 529.47e-15, "F",
               "C_hold as charge sharing sees it: 500 fF plus the junctions of the trk and s1a "
               "TGs and the trk dummy's channel on the hold node (29.47 fF, the same fit): "
               "r = 0.9090 per sample"),
    Assumption("neuron_c_integ_f", 200e-15, "F",
               "integration capacitor: C_s/C_i = 0.25 puts 7 steps of |V_SL-Vref| <= 0.2 V "
               "(4-bit input at the 0.2 V read) at <= 0.35 V, inside the ADC full scale"),
    Assumption("neuron_adc_fs_v", 0.4, "V",
               "ADC full scale: codes cover V_int - Vref in [-0.4, 0.4) V (the OTA swings "
               "Vref +- 0.6 V); packet k's reference Vref +- (C_i/C_s) fs / 2^k comes from an "
               "ideal PWL source pair shared by all neurons (stand-in for the chip's DAC)"),
    Assumption("neuron_dac_first_parts", 2, "",
               "the first (largest) DAC packet, V_dac,1 = (C_i/C_s) fs / 2 = 0.8 V at C_i = "
               "200 fF, is sampled and integrated as two packets of 0.4 V (the levels of the "
               "0.1 V read's C_i = 100 fF): Vref +- 0.8 V would reach the 1.8 V supply's edges "
               "(a TG passes neither 0.1 V nor 1.7 V well); one more packet phase, +0.2 us per "
               "conversion"),
    Assumption("neuron_ibias_a", 0.5e-6, "A",
               "OTA unit bias current, mirrored from ONE bias generator per core (a resistor into "
               "a diode-connected NFET); tail 1x (always on: holds the virtual ground), second "
               "stage 3x (gated by 'en'): 2 uA per OTA while enabled, 0.5 uA idle; ~3 uW per "
               "neuron averaged over a 4-bit / 6-bit MVM (tests/test_neuron_held.py)"),
    Assumption("neuron_cc_f", 55e-15, "F",
               "OTA Miller capacitor (GBW = gm1 / 2 pi Cc): 26.6 MHz at the 0.5 uA tail, so an "
               "integration settles in 9 closed-loop tau < 106 ns"),
    Assumption("neuron_rz_ohm", 170e3, "ohm",
               "OTA zero-nulling resistor in series with Cc (~1/gm6 at 1.5 uA): PM 80 deg at "
               "40 fF, 64 deg at 100 fF (tests/test_neuron.py)"),
    Assumption("neuron_c_az_f", 200e-15, "F",
               "auto-zero (input offset storage) capacitor between the virtual ground and the "
               "OTA's (-) input: 100 um2 of MIM; ~7x the input FET's gate, so the loop keeps "
               "~88 % of its gain, and the az switch's charge injection moves the stored "
               "offset by ~1/8 of what it would on the gate alone"),
    Assumption("neuron_t_az_settle_s", 50e-9, "s",
               "end of the reset: OTA in integrator mode through C_az (rst still closed), then "
               "as long again with rst open, before the first sample"),
    Assumption("neuron_c_bias_f", 2e-12, "F",
               "decoupling capacitor on the core's shared OTA bias net (a ~240 um2 MOS "
               "capacitor, once per core): the power-gated second stages of all neurons switch "
               "together and kick the high-impedance bias node through M7's gate-drain "
               "capacitance"),
    Assumption("neuron_c_bias_per_neuron_f", 0.5e-12, "F",
               "more decoupling on the shared OTA bias net per neuron of the core (a ~60 um2 MOS "
               "capacitor each; 10 pF in all on a 16 x 16 core): each neuron's footer kicks the "
               "net through M7's C_gs when its second stage wakes, so the kick grows with the "
               "neuron count. With 2 pF for 16 neurons the net fell 15 mV at every wake and "
               "recovered over ~1 us, the tails ran short and the virtual ground sat -0.3 to "
               "-0.9 mV off when each integration ended: -0.4 LSB on the (6,8) high phase; with "
               "10 pF -0.05 to -0.11 mV, with 22 pF -0.01 to -0.04 mV (h42)"),
    Assumption("neuron_c_latch_f", 2e-15, "F",
               "explicit storage capacitance on each decision latch's input node"),
    Assumption("neuron_t_edge_s", 1e-9, "s", "rise/fall time of every neuron clock edge"),
    Assumption("neuron_t_guard_s", 3e-9, "s", "non-overlap gap between clocks (break-before-make)"),
    Assumption("neuron_t_reset_s", 200e-9, "s", "precharge/discharge of C_sample and C_integ"),
    Assumption("wl_lead_s", 3e-9, "s",
               "word-lines turn on this long before each read pulse (sensed lines still held at "
               "Vref by their drivers): their turn-on kick (~1 V on a floating 256-row line) is "
               "absorbed before the pulse (benchmarks/read_settling.py --wl-lead-ns 3 on branch "
               "issue17-wl: all-1 uS 256-row line settles in 34 ns instead of 59 ns at tt)"),
    Assumption("read_pulse_s", 20e-9, "s",
               "input / word-line read pulse per magnitude bit plane: the line settles onto the "
               "neuron's hold capacitor in it, which keeps the value for the plane's 2^(n-1) "
               "samples. The paper's is 10 ns (CiMLoop wan_nature_2022), but a full 128 x 256 "
               "core of this design does not settle in it: its forward lines need 12.25 ns (tt) "
               "and 16.5 ns (ss / 125 C) to come within 0.5 mV of their final value, and are "
               "14 / 26 mV off where the flow reads a 10 ns pulse. 20 ns is the shortest whole-ns "
               "pulse whose reading is within 0.5 mV in every case (forward and backward, tt and "
               "ss / 125 C; benchmarks/read_settling_core.py, benchmarks/reference/"
               "read_settling_core.json, tests/test_settling_core.py). A 256 x 1 column settles "
               "in 3-4 ns (benchmarks/read_settling.py): the driven lines' RC, not the cells, "
               "sets it. Small arrays of weak cells need longer (--read-pulse-s; the flow "
               "measures each sensed line's drift where it reads it and warns)"),
    Assumption("neuron_t_sample_s", 80e-9, "s",
               "held line connected to C_sample (charge sharing settles in ~1 ns; the OTA is "
               "gated off meanwhile); with 8+3+136+40+3 ns more, one integration step is "
               "0.27 us (CiMLoop's NeuRRAM timing)"),
    Assumption("neuron_t_early_s", 8e-9, "s",
               "bottom-plate switch opens this long before the top-plate switch"),
    Assumption("neuron_t_wake_s", 20e-9, "s",
               "the power-gated OTA is enabled this long before the end of a held-line sample "
               "(~1.5 closed-loop tau) so it holds the integrator again before integrating"),
    Assumption("neuron_t_integrate_s", 136e-9, "s",
               "charge transfer C_sample -> C_integ: a full-scale (0.4 V) step settles to "
               "< 1.5 mV at the 0.5 uA tail (tests/test_neuron.py ADC sweep)"),
    Assumption("neuron_t_settle_s", 40e-9, "s",
               "virtual-ground switch open, top plate still at Vref: the OTA recovers from the "
               "switch's charge kick (~0.6 mV, gone in ~30 ns) before the next phase"),
    Assumption("neuron_t_compare_s", 100e-9, "s",
               "OTA open loop as comparator (latch transparent for its last t_latch_s); with 5 "
               "ns hold, 40+8 ns packet sampling, 98+40 ns integration and 3 guards, one ADC "
               "step is 0.3 us (CiMLoop)"),
    Assumption("neuron_t_hold_s", 5e-9, "s", "latch closed, comparator still open-loop"),
    Assumption("neuron_t_latch_s", 20e-9, "s",
               "the decision latch is transparent only for the last part of the compare phase, "
               "when the comparator's output has left mid-rail (a latch open through the whole "
               "regeneration drew crowbar current, ~0.5 uW per neuron at 4 bits, measured)"),
    Assumption("neuron_t_packet_s", 40e-9, "s",
               "charge packet sampled from the DAC reference (a TG onto C_sample: ~1 ns); the OTA "
               "meanwhile pulls its output back from the comparator's rail"),
    Assumption("neuron_t_packet_integrate_s", 98e-9, "s",
               "packet integrated onto C_integ (largest 0.2 V; the 0.5 uA-tail OTA slews and "
               "settles it in ~80 ns)"),
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


#: circuit assumptions every ``mvm_fit`` point records in its summary: a model fitted on those
#: points holds each as a one-value range (it is valid for that circuit only); the fit refuses
#: data simulated at other values than these, or at several
CIRCUIT_PROVENANCE = ("wire_r_ohm_per_um", "switch_w_um", "switch_p_w_um")


def value(name: str) -> float:
    """The value of assumption ``name`` (KeyError names the unknown key)."""
    return ASSUMPTIONS[name].value


def table() -> list[dict]:
    """Rows for reports: name, value, unit, reason."""
    return [{f.name: getattr(a, f.name) for f in fields(a)} for a in _A]

"""NeuRRAM voltage-mode neuron at transistor level (SKY130 1.8 V devices).

The neuron senses a floating array line (Wan et al., Nature 2022): it samples the line voltage on
C_sample, integrates the charge C_sample (V_SL - Vref) onto C_integ with a switched-capacitor
integrator whose virtual ground is Vref, repeats that for every input bit plane (the n-th LSB
plane 2^(n-1) times), then reuses its amplifier open loop as a comparator for the sign and for a
charge-decrement binary search: after each decision a charge packet of the opposite sign, halved
every step, is integrated. The decision -> packet-polarity feedback is transistor-level inside the
simulation (a static D-latch behind a clocked inverter and a transmission-gate multiplexer).

Circuit (one neuron; nodes carry the caller's prefix ``P``: ``Pa``, ``Pb``, ``Px``, ``Py``,
``Po``, ``Pm``, ``Plq``...; clocks are global nets ``<clk_prefix><name>`` plus ``_b``
complements)::

         trk           s1a             s2a                               C_integ
    line ──TG── h ──TG──┬── a ──TG── vref               ┌──────────────── y ──TG(fb)── o
       m ─TG(pk)┘  │                           │                 └──TG(cy)─── vref
   (TG mux:        = C_sample                  │   rst: x ──TG── y
    vdacn if lq,   │                           │
    else vdacp)    b ──TG(s1b)── vref          │     OTA: two-stage Miller, NMOS input
                   └──TG(s2b)─────────── x ────┴── (-) ──► o ──CINV(lat)── D-latch ── lq, lb
                                        vref ──── (+)

* track/hold (trk): during each plane's read pulse the hold capacitor C_hold (node ``h``, to
  ground) follows the line; ``trk`` opens before the word-lines turn off, so C_hold keeps the
  settled line and the word-lines' kick on the floating line never reaches it. Each sample
  below shares C_hold's charge with the discharged C_sample: sample k sees V0 r^k,
  r = C_hold / (C_hold + C_s) (the closed form :func:`pycim.cim.closed_form.held_line_gain`).
* sample (s1a, s1b): C_sample follows the hold node (top plate ``a``) with its bottom plate ``b`` at
  Vref; ``b`` opens first (bottom-plate sampling: the top switch's charge injection cannot reach
  the held charge).
* integrate (s2a, s2b): ``a`` to Vref, ``b`` to the virtual ground ``x``. Charge conservation at
  ``x`` gives **V_int - Vref += (C_s / C_i) (V_SL - Vref)** per step, with V_int = V(o): the
  integrator voltage rises when the line is above Vref (non-inverting, parasitic-insensitive SC
  integrator). ``s2b`` opens first.
* compare (cy): ``y`` leaves the output and goes to Vref, so ``x`` drops to
  Vref - (V_int - Vref) C_i / (C_i + C_x) and the OTA, now open loop (its Miller capacitor
  disconnected by a TG on ``fb``), drives ``o`` to a rail: high means the residue V_int - Vref is
  positive. ``x`` only touches a gate, C_integ and open switches, so its charge, hence the
  residue, is untouched; closing ``fb`` again restores V_int. The static D-latch (transparent
  while ``lat`` is high) stores the decision: ``lq`` high = positive. It takes ``o`` through a
  clocked inverter (``spec.latch_clocked_input``; a TG before), so its storage node, at the
  previous decision's rail, cannot kick the open-loop output when it turns transparent.
* packet (pk + s1b, then s2a + s2b): the top plate is charged to ``vdacn`` (= Vref - V_dac,k) if
  the latched decision is positive, else to ``vdacp`` (= Vref + V_dac,k), then integrated, so the
  residue moves towards zero by (C_s/C_i) V_dac,k = adc_fs / 2^k. V_dac,k halves every step: a
  PWL "DAC reference" pair shared by all neurons (an assumption standing in for the chip's
  reference generator; see :func:`add_conversion`). Packet 1 is delivered in
  ``dac_first_parts`` equal parts (2: two packets at V_dac,1 / 2), so no reference leaves
  Vref +- 0.4 V at C_s/C_i = 0.25.
* ReLU (``spec.relu``): a second latch stores the sign decision (``lats``, first comparison
  only) and, if it is negative, a series TG disables the packet path, so the neuron skips its
  conversion and the decoder reports code 0.

Bias: ONE resistor into a diode-connected NFET per core (:func:`add_neuron_bias`, decoupled by
``c_bias_f``), mirrored by every neuron's OTA. Every element and internal node name starts with
the prefix, so 256 neurons coexist; the clock nets, ``vref``, ``vdd``, the bias and the DAC
references are shared. Every FET gets xschem-style source/drain areas (:func:`diffusion_params`).

Offset cancellation (``auto_zero``, default): C_az sits between the virtual ground x and the
OTA's (-) input; in the reset the OTA is in unity gain on its own input (``az``, a T-switch)
while rst + cy hold x at Vref, so C_az stores the offset and x then sits at Vref instead of
Vref + V_os: the N x (C_s/C_i) V_os term of N integrations disappears (with the PDK's
mismatch, measured: ~7-11 mV rms input-referred error per step without, ~0.4 mV with).

Power (``en``): the first stage (``m_tail`` units of ``ibias_a``) is always on and holds the
virtual ground; the second stage (``m_out`` units) is gated off while a sample is taken, with
its input node d2 tied to the mirror node d1 meanwhile so that it wakes at its operating point.
Defaults: 0.5 uA tail, 1.5 uA second stage, ~3.4 uW per neuron over a 4-bit / 6-bit MVM.

Design (tt, 27 C; measured with :func:`pycim.measure.neuron.ota_metrics` and the tests):

* Capacitors (pycim.assumptions): C_hold = 500 fF, C_s = 50 fF, C_i = 200 fF (gain 0.25 per
  step at the 0.2 V read; droop r ~ 0.91 per sample), C_az = 200 fF.
* OTA: NMOS pair 4 x (2/0.6 um) per side on a 0.5 uA tail, PMOS mirror 2/0.4 um, PMOS second
  stage 6 x (2/0.4 um) on 1.5 uA, Cc = 55 fF with Rz = 170 kOhm: A0 = 71.5 dB, GBW = 26.6 MHz,
  PM = 80 deg at 40 fF (64.5 deg at 100 fF), systematic offset -0.07 mV (before auto-zero).
* Comparator: the same OTA open loop with Cc disconnected; the decision latch is transparent
  only in the last ``t_latch_s`` of the compare phase (no crowbar current in its clocked
  inverter while the output regenerates through mid-rail).
* Switches: minimum-length TGs, NFET 0.5 um / PFET 0.9 um; bottom-plate sampling and
  early-opening virtual-ground switches keep what remains signal-independent.

Timing (defaults from :mod:`pycim.assumptions`): one integration step is 0.27 us and one
conversion step 0.3 us, CiMLoop's NeuRRAM numbers; at the 0.5 uA tail a full-scale (0.4 V)
integration needs most of its 136 ns phase, so the margin is small (see the assumptions).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import assumptions
from ..errors import InputError
from ..specs.neuron import (CLOCKS, DAC_NETS, MAX_IN_BITS,  # noqa: F401 (re-exported)
                            MAX_OUT_BITS, MIN_LSB_V, NeuronSpec, _check_bits, add_conversion,
                            add_integration_step, add_plane, add_reset, builder,
                            conversion_bits, input_windows, integration_steps, mvm_schedule,
                            n_planes, neuron_nets, settled_read_times)
from ..validate import ident, integer, node, number
from .circuit import Capacitor, Circuit, Resistor, VSource
from .schedule import Schedule, schedule_sources
from .sky130_cards import card_model, card_mosfet

A = assumptions.value

def _card(spec: NeuronSpec, device: str, w_um: float, l_um: float, nf: int = 1):
    from ..tech import sky130

    return sky130.flat_card(device, w_um * 1e-6, l_um * 1e-6, spec.corner, nf,
                            body_network=spec.body_network)


#: Source/drain diffusion length (um) for junction area/perimeter, as SKY130's xschem symbols
#: default to (``ad = int((nf+1)/2) * W/nf * 0.29``...): the PDK's M line passes ad=as=pd=ps=0
#: unless the netlister sets them, which would leave every switch node without junction
#: capacitance (and, measured, lets a floating ~0 F node between two off switches upset a static
#: latch under ngspice's default tolerances).
DIFF_L_UM = 0.29


def diffusion_params(w_um: float, nf: int) -> dict[str, float]:
    """ad, as (m^2), pd, ps (m) of a ``nf``-finger FET of total width ``w_um`` (xschem form)."""
    wf, d = w_um / nf, DIFF_L_UM
    nd, ns = (nf + 1) // 2, (nf + 2) // 2
    return {"ad": nd * wf * d * 1e-12, "as": ns * wf * d * 1e-12,
            "pd": 2 * nd * (wf + d) * 1e-6, "ps": 2 * ns * (wf + d) * 1e-6}


def _fet(c: Circuit, spec: NeuronSpec, kind: str, name: str, d: str, g: str, s: str,
         w_um: float, l_um: float, nf: int = 1):
    from dataclasses import replace

    card = _card(spec, "nfet_01v8" if kind == "n" else "pfet_01v8", w_um, l_um, nf)
    c.add_model(card_model(card))
    b = "0" if kind == "n" else "vdd"
    m = card_mosfet(card, name, d, g, s, b)
    diff = diffusion_params(w_um, nf)
    params = dict(m.params)
    params.update(diff)
    c.add(replace(m, params=tuple((k, params[k]) for k in
                                  [k for k, _ in m.params] + [k for k in diff if k not in
                                                              dict(m.params)])))


#: Width of the OTA's footer (power-gating) NFETs: at <= 1.5 uA their V_DS is < 2 mV.
FOOTER_W_UM = 2.0


def _tg(c: Circuit, spec: NeuronSpec, name: str, a: str, b: str, en: str, en_b: str,
        wn_um: float | None = None, wp_um: float | None = None) -> None:
    """Transmission gate between ``a`` and ``b``: NFET gate ``en``, PFET gate ``en_b``; widths
    the spec's switch widths unless given."""
    _fet(c, spec, "n", f"M{name}n", a, en, b, wn_um or spec.sw_wn_um, spec.sw_l_um)
    _fet(c, spec, "p", f"M{name}p", a, en_b, b, wp_um or spec.sw_wp_um, spec.sw_l_um)


def _inv(c: Circuit, spec: NeuronSpec, name: str, inp: str, out: str) -> None:
    _fet(c, spec, "n", f"M{name}n", out, inp, "0", spec.inv_wn_um, spec.sw_l_um)
    _fet(c, spec, "p", f"M{name}p", out, inp, "vdd", spec.inv_wp_um, spec.sw_l_um)


def _latch(c: Circuit, spec: NeuronSpec, p: str, tag: str, d: str, clk: str,
           rst: str) -> tuple[str, str]:
    """Static D-latch: transparent while ``clk`` is high; returns (q, qb) nodes.

    Input: a clocked inverter (``spec.latch_clocked_input``, default) or a TG from ``d``.
    Through the TG, the storage node, at the previous decision's rail, kicked the open-loop
    OTA output ~190 mV towards that decision as the latch turned transparent
    (benchmarks/neuron_conv_diag.py): sub-mV residues were decided by history.

    A FET clears it (q low) while ``rst`` is high: the reset phase, where every MVM starts,
    so the operating point at t = 0 has one solution. Without it the latch's loop also has
    its metastable point (both nodes near VDD / 2, both inverters conducting), which VACASK's
    operating point found: +30 % of neuron energy until the first reset ended (issue 17)."""
    s, qb, q = f"{p}{tag}s", f"{p}{tag}b", f"{p}{tag}q"
    if spec.latch_clocked_input:
        # clocked inverter (data FETs at the rails, clock FETs at s): d only sees the data
        # FETs' gates, so s, at the previous decision's rail, cannot kick it; s = not d, so the
        # first inverter gives q and the reset pulls s high (q low, as with the TG)
        dn, dp = f"{p}{tag}cn", f"{p}{tag}cp"
        _fet(c, spec, "n", f"M{p}{tag}dn", dn, d, "0", spec.inv_wn_um, spec.sw_l_um)
        _fet(c, spec, "n", f"M{p}{tag}kn", s, clk, dn, spec.inv_wn_um, spec.sw_l_um)
        _fet(c, spec, "p", f"M{p}{tag}dp", dp, d, "vdd", spec.inv_wp_um, spec.sw_l_um)
        _fet(c, spec, "p", f"M{p}{tag}kp", s, f"{clk}_b", dp, spec.inv_wp_um, spec.sw_l_um)
        _fet(c, spec, "p", f"M{p}{tag}r", s, f"{rst}_b", "vdd", 2 * spec.sw_wp_um, spec.sw_l_um)
    else:
        _tg(c, spec, f"{p}{tag}i", d, s, clk, f"{clk}_b")
        _fet(c, spec, "n", f"M{p}{tag}r", s, rst, "0", 2 * spec.sw_wn_um, spec.sw_l_um)
    first, second = (q, qb) if spec.latch_clocked_input else (qb, q)
    _inv(c, spec, f"{p}{tag}1", s, first)
    _inv(c, spec, f"{p}{tag}2", first, second)
    _tg(c, spec, f"{p}{tag}f", second, s, f"{clk}_b", clk)
    c.add(Capacitor(f"C{p}{tag}s", s, "0", spec.c_latch_f))
    return q, qb


def add_neuron_bias(circuit: Circuit, spec: NeuronSpec, n_neurons: int = 1,
                    core_neurons: int | None = None) -> str:
    """The ONE bias generator of a core: a resistor from ``vdd`` into a diode-connected NFET
    (one OTA unit finger) carrying ``spec.ibias_a``; every neuron's OTA mirrors its gate net
    :attr:`NeuronSpec.bias_net`. Call once per circuit; returns the net.

    Decoupling: ``c_bias_f + n_neurons * c_bias_per_neuron_f`` (every power-gated OTA kicks
    the net when its second stage wakes, so the kick grows with the ``n_neurons`` sharing it).
    ``core_neurons``: the circuit holds ``n_neurons`` of a core's ``core_neurons`` (a
    partitioned MVM's neuron bank): its net gets that share of the core's decoupling,
    ``(c_bias_f + core_neurons * c_bias_per_neuron_f) * n_neurons / core_neurons``, so its
    neurons' simultaneous kicks move it as the core's do (with it the 16 x 16 MVM in banks of
    4 / 2 is within +0.02 / +0.10 % of the whole deck's energy:
    ``benchmarks/partition_error.py 16 16 --bank K``).
    """
    integer(n_neurons, "n_neurons", 1, 1 << 20)
    if core_neurons is not None:
        integer(core_neurons, "core_neurons", n_neurons, 1 << 20)
    nb = spec.bias_net
    _fet(circuit, spec, "n", f"M{spec.clk_prefix}bias", nb, nb, "0", spec.n_unit_w_um,
         spec.ota_ln_um)
    circuit.add(Resistor(f"R{spec.clk_prefix}bias", "vdd", nb, spec.rbias()))
    c_f = spec.c_bias_f + n_neurons * spec.c_bias_per_neuron_f
    if core_neurons is not None:
        c_f = (spec.c_bias_f + core_neurons * spec.c_bias_per_neuron_f) * n_neurons / core_neurons
    if c_f > 0:
        circuit.add(Capacitor(f"C{spec.clk_prefix}bias", nb, "0", c_f))
    return nb


def add_ota(c: Circuit, spec: NeuronSpec, p: str, inp: str, inm: str, out: str,
            cc_clock: str | None = None, *, bias: str | None = None,
            enable: str | None = None) -> dict[str, str]:
    """Two-stage Miller OTA between ``vdd`` and ground; returns its internal node names.

    NMOS input pair M1 (gate ``inm``) / M2 (gate ``inp``) on the NMOS tail M5; PMOS mirror M3
    (diode, on M1) / M4; first-stage output ``d2`` (M2/M4 drains); PMOS common-source M6 with the
    NMOS current-source load M7; Cc in series with the nulling resistor Rz from ``d2`` to
    ``out``. Bias: a resistor from ``vdd`` into the diode-connected NFET MB (node ``nb``).
    With ``cc_clock``, a TG (on while that clock is high) connects Cc to ``out``: the neuron opens
    it in comparator mode, so the open-loop OTA is no longer slowed by its Miller capacitor.

    Why NMOS input: SKY130's pfet_01v8 at L >= 0.4 um needs V_SG ~ 1.05-1.15 V at a few uA
    (measured with these cards), so a PMOS pair at a 0.9 V common mode would leave the tail
    ~0.1 V of headroom from a 1.8 V supply; the NFET needs V_GS ~ 0.65 V, leaving ~0.25 V for
    the tail.
    """
    ln, lp, pw, nw = spec.ota_ln_um, spec.ota_lp_um, spec.p_unit_w_um, spec.n_unit_w_um
    nb, tail, d1, d2, z = f"{p}nb", f"{p}tail", f"{p}d1", f"{p}d2", f"{p}z"
    if bias is None:  # own reference (stand-alone OTA benches)
        _fet(c, spec, "n", f"M{p}mb", nb, nb, "0", nw, ln)
        c.add(Resistor(f"R{p}b", "vdd", nb, spec.rbias()))
    else:
        nb = node(bias, "bias net")
    s5, s7 = "0", "0"
    if enable is not None:
        # second stage gated (footer under M7, header over M6): the first stage stays biased
        # and, through Cc and C_integ, keeps holding the virtual ground while the output idles,
        # so waking needs no slewing of d2 (gating the tail too took ~70 ns to recover)
        s7 = f"{p}f7"
        _fet(c, spec, "n", f"M{p}f7", s7, enable, "0", FOOTER_W_UM, spec.sw_l_um)
    _fet(c, spec, "n", f"M{p}m5", tail, nb, s5, nw * spec.m_tail, ln, spec.m_tail)
    _fet(c, spec, "n", f"M{p}m1", d1, inm, tail, nw * spec.m_in, ln, spec.m_in)
    _fet(c, spec, "n", f"M{p}m2", d2, inp, tail, nw * spec.m_in, ln, spec.m_in)
    _fet(c, spec, "p", f"M{p}m3", d1, d1, "vdd", pw * spec.m_load, lp, spec.m_load)
    _fet(c, spec, "p", f"M{p}m4", d2, d1, "vdd", pw * spec.m_load, lp, spec.m_load)
    s6 = "vdd"
    if enable is not None:
        s6 = f"{p}h6"
        _fet(c, spec, "p", f"M{p}h6", s6, f"{enable}_b", "vdd", 2 * FOOTER_W_UM, spec.sw_l_um)
    _fet(c, spec, "p", f"M{p}m6", out, d2, s6, pw * spec.m_cs, lp, spec.m_cs)
    _fet(c, spec, "n", f"M{p}m7", out, nb, s7, nw * spec.m_out, ln, spec.m_out)
    if enable is not None:
        # while the second stage is off, d2 is tied to the mirror's diode node d1 (its balanced
        # level): the idle first stage cannot rail d2, so nothing kicks the output through Cc
        # and the woken OTA starts at its operating point (without it, an integration after a
        # 20 ns wake was ~1.5 % short for negative steps at the 0.5 uA tail, measured)
        _tg(c, spec, f"{p}pc", d2, d1, f"{enable}_b", enable)
    cc_out = out
    if cc_clock is not None:
        cc_out = f"{p}cco"
        _tg(c, spec, f"{p}cc", cc_out, out, cc_clock, f"{cc_clock}_b", None, spec.out_sw_wp_um)
    if spec.rz_ohm > 0:
        c.add(Resistor(f"R{p}z", d2, z, spec.rz_ohm))
        c.add(Capacitor(f"C{p}c", z, cc_out, spec.cc_f))
    else:
        c.add(Capacitor(f"C{p}c", d2, cc_out, spec.cc_f))
    return {"nb": nb, "tail": tail, "d1": d1, "d2": d2}


# ---------------------------------------------------------------------------------------------
# The neuron
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NeuronNodes:
    """Node names of one neuron (for measurement)."""

    prefix: str
    line: str
    a: str  # C_sample top plate
    b: str  # C_sample bottom plate
    x: str  # virtual ground (OTA inverting input)
    y: str  # C_integ plate on the output side
    out: str  # OTA output = integrator voltage in integrator mode
    q: str  # latched decision (high = residue positive)
    qb: str
    sign_q: str = ""  # sign latch (ReLU only)
    probe: str = ""  # 0 V source in the integrate path (probe=True only)
    hold: str = ""  # the hold capacitor's node (tracks the line during the read pulses)


def check_prefix(prefix: str) -> str:
    """A neuron prefix: an identifier ending in ``_``. The neuron's own name suffixes contain no
    ``_``, so two different prefixes can never produce the same node or element name."""
    ident(prefix, "neuron prefix")
    if len(prefix) > 24 or not prefix.endswith("_"):
        raise InputError(f"neuron prefix {prefix!r} must end with '_' and have at most 24 "
                         f"characters (e.g. 'n12_')")
    return prefix


def _track_switch(circuit: Circuit, spec: NeuronSpec, p: str, line_node: str, h: str) -> None:
    """The track switch ``trk`` from the line to the hold node ``h`` and its dummy."""
    k = spec.net
    _tg(circuit, spec, f"{p}trk", line_node, h, k("trk"), f"{k('trk')}_b", spec.trk_wn_um,
        spec.trk_wp_um)
    if spec.trk_dummy:
        # half-size dummy TG on the hold node, source and drain shorted, on the complementary
        # clocks: its channel forms as the track switch's vanishes and takes up the charge the
        # switch injects into C_hold (the part proportional to the held level, a ~2 % gain
        # without it, measured, and the constant part)
        _fet(circuit, spec, "n", f"M{p}trkdn", h, f"{k('trk')}_b", h, spec.trk_wn_um / 2,
             spec.sw_l_um)
        _fet(circuit, spec, "p", f"M{p}trkdp", h, k("trk"), h, spec.trk_wp_um / 2, spec.sw_l_um)


def add_track_hold(circuit: Circuit, spec: NeuronSpec, prefix: str, line_node: str,
                   sampling: bool = False, *, vref: str = "vref") -> str:
    """A neuron's front end alone: its hold capacitor C_hold and track switch (with its dummy),
    the same elements and names :func:`add_neuron` gives neuron ``prefix``; returns the hold
    node. It is the line's whole load from the neuron: the rest of the neuron only sees the
    hold node, so the array stage of a partitioned MVM (:mod:`pycim.flows.partition`) carries
    this front end and leaves the rest to the neuron stage.

    ``sampling``: also C_sample's top plate and its switches ``s1a`` (hold node to C_sample)
    and ``s2a`` (C_sample to ``vref``), C_sample's bottom plate at ``vref`` (where ``s1b``
    and the integrator's virtual ground hold it): each sample then shares C_hold's charge
    as in the neuron, so C_hold enters the next read pulse at the shared-down value."""
    p = check_prefix(prefix)
    node(line_node, "line node")
    h = f"{p}h"
    circuit.add(Capacitor(f"C{p}h", h, "0", spec.c_hold_f))
    _track_switch(circuit, spec, p, line_node, h)
    if sampling:
        a, k = f"{p}a", spec.net
        circuit.add(Capacitor(f"C{p}s", a, vref, spec.c_sample_f))
        _tg(circuit, spec, f"{p}s1a", h, a, k("s1a"), f"{k('s1a')}_b")
        _tg(circuit, spec, f"{p}s2a", a, vref, k("s2a"), f"{k('s2a')}_b")
    return h


def add_neuron(circuit: Circuit, spec: NeuronSpec, prefix: str, line_node: str,
               sched: Schedule | None = None, *, vref: str = "vref",
               probe: bool = False, bias: str | None = None) -> NeuronNodes:
    """Add one neuron sensing ``line_node``; every element/internal node starts with ``prefix``.

    The neuron uses the global nets ``vdd``, ``vref`` (or ``vref=``), the clocks
    ``<clk_prefix><name>`` and their ``_b`` complements (see :data:`CLOCKS`), and the DAC pair
    ``<clk_prefix>vdacp/vdacn``. Their sources come from the schedule: call
    :func:`add_schedule_sources` once per circuit (``sched`` here is only checked to carry the
    neuron's clocks). Supplies: :func:`add_supplies`.

    ``probe=True`` inserts a 0 V source ``V<prefix>iq`` between the integrate switch and the
    virtual ground: ``i(V<prefix>iq)`` is the current from C_sample's bottom plate into ``x``
    (its integral over an integrate phase is minus the charge delivered to C_integ's ``x`` plate).

    ``bias``: the core's shared bias net from :func:`add_neuron_bias`; ``None`` adds that
    generator to the circuit on the first call and reuses it afterwards (one per circuit). The
    OTA draws current only while the clock ``en`` is high (footer switches).
    """
    p = check_prefix(prefix)
    if p.lower() == spec.clk_prefix.lower():
        raise InputError(f"neuron prefix {p!r} equals the clock prefix")
    node(line_node, "line node")
    node(vref, "vref node")
    if sched is not None:
        missing = [spec.net(k) for k in CLOCKS if spec.net(k) not in sched.nets]
        if missing:
            raise InputError(f"schedule lacks the neuron clocks {missing}")
    if bias is None:
        bias = spec.bias_net
        if f"R{spec.clk_prefix}bias".lower() not in circuit._names:
            add_neuron_bias(circuit, spec)
    k = spec.net
    a, b, x, y, o, m, h = (f"{p}a", f"{p}b", f"{p}x", f"{p}y", f"{p}o", f"{p}m", f"{p}h")
    # capacitors
    circuit.add(Capacitor(f"C{p}h", h, "0", spec.c_hold_f),
                Capacitor(f"C{p}s", a, b, spec.c_sample_f),
                Capacitor(f"C{p}i", x, y, spec.c_integ_f))
    # amplifier: + input at vref, - input at x (through C_az with auto-zero)
    inm = x
    if spec.auto_zero:
        inm = f"{p}xa"
        circuit.add(Capacitor(f"C{p}az", x, inm, spec.c_az_f))
    add_ota(circuit, spec, p, vref, inm, o, k("fb") if spec.cc_switch else None, bias=bias,
            enable=k("en"))

    def tg(name, n1, n2, clk, wn_um=None, wp_um=None):
        _tg(circuit, spec, f"{p}{name}", n1, n2, k(clk), f"{k(clk)}_b", wn_um, wp_um)

    _track_switch(circuit, spec, p, line_node, h)
    tg("s1a", h, a, "s1a")
    tg("s1b", b, vref, "s1b")
    tg("s2a", a, vref, "s2a")
    if probe:
        circuit.add(VSource(f"V{p}iq", f"{p}xq", x, dc_v=0.0))
        tg("s2b", b, f"{p}xq", "s2b")
    else:
        tg("s2b", b, x, "s2b")
    tg("rst", x, y, "rst", None, spec.rst_sw_wp_um)  # charge-balanced at Vref
    tg("fb", y, o, "fb", None, spec.out_sw_wp_um)
    tg("cy", y, vref, "cy")
    if spec.auto_zero:
        # T-switch: two TGs in series, the middle node tied to Vref while they are off, so the
        # off switch next to C_az sees ~0 V across it even when the output sits at a rail
        # (comparator mode; a single TG's leakage there moved the stored offset, measured)
        azm = f"{p}azm"
        tg("az", inm, azm, "az", None, spec.az_sw_wp_um)  # charge-balanced at Vref
        tg("azo", azm, o, "az")
        _tg(circuit, spec, f"{p}azr", azm, vref, f"{k('az')}_b", k("az"))
    # decision latch and packet multiplexer: q high (positive residue) -> vdacn
    q, qb = _latch(circuit, spec, p, "l", o, k("lat"), k("rst"))
    sign_q = ""
    if spec.relu:
        sign_q, sign_qb = _latch(circuit, spec, p, "g", o, k("lats"), k("rst"))
        tg("pk", a, f"{p}m1", "pk")
        _tg(circuit, spec, f"{p}en", f"{p}m1", m, sign_q, sign_qb)
    else:
        tg("pk", a, m, "pk")
    _tg(circuit, spec, f"{p}mxn", m, k("vdacn"), q, qb)
    _tg(circuit, spec, f"{p}mxp", m, k("vdacp"), qb, q)
    return NeuronNodes(p, line_node, a, b, x, y, o, q, qb, sign_q,
                       f"V{p}iq" if probe else "", h)


def add_supplies(circuit: Circuit, spec: NeuronSpec, *, vref: str = "vref") -> None:
    """``VDD`` at ``vdd`` and ``VREF`` at ``vref`` (skip if the core already adds them)."""
    circuit.add(VSource("VDD", "vdd", "0", dc_v=spec.vdd_v),
                VSource("VREF", vref, "0", dc_v=spec.v_ref_v))


def add_schedule_sources(circuit: Circuit, sched: Schedule, skip=()) -> None:
    """All PWL control sources of ``sched`` (clocks, complements, DAC references)."""
    circuit.add(*schedule_sources(sched, skip))


def ota_testbench(spec: NeuronSpec, c_load_f: float) -> tuple[Circuit, str]:
    """Open-loop OTA bench for AC: (+) at Vref; (-) tied to the output through 1 GOhm (DC
    servo, sets the operating point at the offset) and AC-coupled through 1 F to ``VAC``; the
    output loaded with ``c_load_f``. Returns (circuit, name of the source to excite)."""
    number(c_load_f, "c_load_f", lo=0.0, hi=1e-9)
    c = Circuit("pycim neuron OTA open-loop bench")
    add_supplies(c, spec)
    c.add(VSource("VAC", "vac", "0", dc_v=spec.v_ref_v))
    add_ota(c, spec, "u_", "vref", "inm", "out")
    c.add(Resistor("RDC", "out", "inm", 1e9), Capacitor("CAC", "inm", "vac", 1.0))
    if c_load_f > 0:
        c.add(Capacitor("CLOAD", "out", "0", c_load_f))
    return c, "VAC"


def window_pwl(sched: Schedule, spec: NeuronSpec, plane_levels, idle: float,
               off_early_s: float = 0.0,
               on_early_s: float = 0.0) -> tuple[tuple[float, float], ...]:
    """PWL for anything driven per input bit plane: ``plane_levels[n-1]`` volts during every
    input window of plane n (:func:`input_windows`), ``idle`` volts outside them.

    Edges take ``spec.t_edge_s``; the level turns on at ``t_on`` and off at ``t_off`` (the
    schedule's ``inp`` net has the same edges; the sample's bottom plate is already open). Use
    it for a row driver's or word-line's control net, or for a line's Thevenin source in a
    stand-alone test. ``off_early_s``: the level is back at ``idle`` this long before
    ``t_off`` (e.g. one edge for the word-lines, so the cells are isolated before the drivers
    return to Vref and the held line keeps the driven level). ``on_early_s``: the level is on
    this long before ``t_on`` (e.g. the word-lines, so their turn-on kick on the sensed line
    is absorbed while its driver still holds it at Vref).
    """
    wins = input_windows(sched)
    planes = sorted({n for n, _, _, _ in wins})
    lv = [number(v, "plane level", lo=-10.0, hi=10.0) for v in plane_levels]
    if len(lv) != len(planes):
        raise InputError(f"need {len(planes)} plane levels (planes {planes}), got {len(lv)}")
    idle = number(idle, "idle level", lo=-10.0, hi=10.0)
    e = spec.t_edge_s
    early = number(off_early_s, "off_early_s", lo=0.0, hi=1e-6)
    lead = number(on_early_s, "on_early_s", lo=0.0, hi=1e-6)
    pts = [(0.0, idle)]
    for n, _, t_on, t_off in wins:
        v = lv[n - 1]
        if t_off - early <= t_on + e:
            raise InputError(f"off_early_s {early:g} s leaves no level inside the {t_off - t_on:g}"
                             f" s window")
        if v != idle:
            pts += [(t_on - lead, idle), (t_on - lead + e, v), (t_off - early, v),
                    (t_off - early + e, idle)]
    pts.append((sched.t_stop, idle))
    return tuple(pts)


def line_testbench(spec: NeuronSpec, sched: Schedule, lines, *, r_source_ohm: float = 30e3,
                   c_line_f: float = 100e-15, probe: bool = False, title: str = "pycim neuron line bench") -> tuple[Circuit, list[NeuronNodes]]:
    """Neurons ``n<i>_`` on lines ``line<i>``, each driven by ``VSL<i>`` (a DC voltage or PWL
    points) through ``r_source_ohm`` with ``c_line_f`` to ground: the floating array line as
    a Thevenin source. Adds supplies, the schedule's sources and the shared neuron bias. (The
    neuron's own track/hold keeps each plane's value; the bench's line stays driven.)"""
    number(r_source_ohm, "r_source_ohm", lo=1.0, hi=1e9)
    number(c_line_f, "c_line_f", lo=0.0, hi=1e-9)
    c = Circuit(title)
    add_supplies(c, spec)
    add_schedule_sources(c, sched)
    lines = list(lines)
    bias = add_neuron_bias(c, spec, max(len(lines), 1))
    nodes = []
    for i, v in enumerate(lines):
        if isinstance(v, (tuple, list)):
            src = VSource(f"VSL{i}", f"vsl{i}", "0", dc_v=v[0][1], pwl=tuple(v))
        else:
            src = VSource(f"VSL{i}", f"vsl{i}", "0", dc_v=v)
        c.add(src, Resistor(f"RSL{i}", f"vsl{i}", f"line{i}", r_source_ohm))
        if c_line_f > 0:
            c.add(Capacitor(f"CSL{i}", f"line{i}", "0", c_line_f))
        nodes.append(add_neuron(c, spec, f"n{i}_", f"line{i}", sched, probe=probe, bias=bias))
    return c, nodes


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------


__all__ = ["CLOCKS", "DAC_NETS", "MAX_IN_BITS", "MAX_OUT_BITS", "MIN_LSB_V", "NeuronNodes",
           "NeuronSpec", "add_conversion", "add_integration_step", "add_neuron", "add_neuron_bias",
           "add_ota", "add_plane", "add_reset", "add_schedule_sources", "add_supplies",
           "add_track_hold", "builder",
           "check_prefix", "conversion_bits", "input_windows", "integration_steps",
           "line_testbench", "mvm_schedule", "n_planes", "neuron_nets", "ota_testbench",
           "settled_read_times", "window_pwl"]


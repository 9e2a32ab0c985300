"""NeuRRAM voltage-mode neuron at transistor level (SKY130 1.8 V devices).

The neuron senses a floating array line (Wan et al., Nature 2022): it samples the line voltage on
C_sample, integrates the charge C_sample (V_SL - Vref) onto C_integ with a switched-capacitor
integrator whose virtual ground is Vref, repeats that for every input bit plane (the n-th LSB
plane 2^(n-1) times), then reuses its amplifier open loop as a comparator for the sign and for a
charge-decrement binary search: after each decision a charge packet of the opposite sign, halved
every step, is integrated. The decision -> packet-polarity feedback is transistor-level inside the
simulation (a static D-latch and a transmission-gate multiplexer).

Circuit (one neuron; nodes carry the caller's prefix ``P``: ``Pa``, ``Pb``, ``Px``, ``Py``,
``Po``, ``Pm``, ``Plq``...; clocks are global nets ``<clk_prefix><name>`` plus ``_b``
complements)::

              s1a             s2a                               C_integ
    line ──TG──┬── a ──TG── vref               ┌──────────────── y ──TG(fb)── o
       m ─TG(pk)┘  │                           │                 └──TG(cy)─── vref
   (TG mux:        = C_sample                  │   rst: x ──TG── y
    vdacn if lq,   │                           │
    else vdacp)    b ──TG(s1b)── vref          │     OTA: two-stage Miller, NMOS input
                   └──TG(s2b)─────────── x ────┴── (-) ──► o ──TG(lat)── D-latch ── lq, lb
                                        vref ──── (+)

* sample (s1a, s1b): C_sample follows the line (top plate ``a``) with its bottom plate ``b`` at
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
  while ``lat`` is high) stores the decision: ``lq`` high = positive.
* packet (pk + s1b, then s2a + s2b): the top plate is charged to ``vdacn`` (= Vref - V_dac,k) if
  the latched decision is positive, else to ``vdacp`` (= Vref + V_dac,k), then integrated, so the
  residue moves towards zero by (C_s/C_i) V_dac,k = adc_fs / 2^k. V_dac,k halves every step: a
  PWL "DAC reference" pair shared by all neurons (an assumption standing in for the chip's
  reference generator; see :func:`add_conversion`).
* ReLU (``spec.relu``): a second latch stores the sign decision (``lats``, first comparison
  only) and, if it is negative, a series TG disables the packet path, so the neuron skips its
  conversion and the decoder reports code 0.

Bias: one resistor into a diode-connected NFET per neuron (documented assumption; an on-chip
design would share a bias generator). Every element and internal node name starts with the
prefix, so 256 neurons coexist; the clock nets, ``vref``, ``vdd`` and the DAC references are
shared. Every FET gets xschem-style source/drain areas (:func:`diffusion_params`).

Design (tt, 27 C; measured with :func:`pycim.measure.neuron.ota_metrics` and the tests):

* Capacitors: C_s = 50 fF, C_i = 100 fF (gain 0.5 per step: 7 steps of the largest line swing,
  0.1 V, give 0.35 V, inside the +-0.4 V full scale). Feedback factor in integration
  beta = C_i / (C_i + C_s + C_x) ~ 0.6 (C_x ~ 20 fF, mostly M1's gate); effective load ~40 fF.
* OTA: NMOS pair 4 x (2/0.6 um) per side on a 4 uA tail (gm/Id ~ 20, weak/moderate inversion),
  PMOS mirror 2/0.4 um, PMOS second stage 6 x (2/0.4 um) on 12 uA, Cc = 100 fF with Rz = 10 kOhm,
  2 uA reference: 18 uA, 33 uW. A0 = 72 dB (3900: finite-gain error per step (1/A beta) < 0.05 %,
  below 0.1 LSB at 8 bits), GBW = 61 MHz (closed-loop tau = 1/(2 pi beta GBW) ~ 4 ns, so an
  integration settles to 0.1 mV in ~35 ns of its 106 ns and the 0.27 us step has 3x margin),
  PM = 74 deg at 40 fF (66 deg at 100 fF), input offset -0.11 mV (systematic; mismatch is off),
  output range with gain > A0/2: 0.20 ... 1.59 V (Vref -0.70/+0.69 V).
* Comparator: the same OTA open loop with Cc disconnected; it resolves ~0.1 mV in the 100 ns
  compare phase (two stages of gain ~60 each, no Miller pole), against an 8-bit LSB of 3.1 mV.
* Switches: minimum-length TGs, NFET 0.5 um / PFET 0.9 um, so their channel charge (~0.2 fC)
  is small against C_i; bottom-plate sampling and early-opening virtual-ground switches make
  what remains signal-independent.

Timing (defaults from :mod:`pycim.assumptions`): one integration step is 0.27 us and one
conversion step 0.3 us, CiMLoop's NeuRRAM numbers; both leave a wide settling margin for this
OTA, so faster clocks are possible.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import assumptions
from ..errors import InputError
from .circuit import Capacitor, Circuit, Resistor, VSource
from .schedule import Schedule, schedule_sources
from .sky130_cards import card_model, card_mosfet
from ..validate import ident, node, number

from ..specs.neuron import (CLOCKS, DAC_NETS, NeuronSpec, _check_bits,  # noqa: F401 (re-exported)
                            add_conversion, add_integration_step, add_reset, builder,
                            conversion_bits, input_windows, integration_steps, mvm_schedule,
                            n_planes, neuron_nets)

A = assumptions.value

def _card(spec: NeuronSpec, device: str, w_um: float, l_um: float, nf: int = 1):
    from ..tech import sky130

    return sky130.flat_card(device, w_um * 1e-6, l_um * 1e-6, spec.corner, nf)


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


def _tg(c: Circuit, spec: NeuronSpec, name: str, a: str, b: str, en: str, en_b: str) -> None:
    """Transmission gate between ``a`` and ``b``: NFET gate ``en``, PFET gate ``en_b``."""
    _fet(c, spec, "n", f"M{name}n", a, en, b, spec.sw_wn_um, spec.sw_l_um)
    _fet(c, spec, "p", f"M{name}p", a, en_b, b, spec.sw_wp_um, spec.sw_l_um)


def _inv(c: Circuit, spec: NeuronSpec, name: str, inp: str, out: str) -> None:
    _fet(c, spec, "n", f"M{name}n", out, inp, "0", spec.inv_wn_um, spec.sw_l_um)
    _fet(c, spec, "p", f"M{name}p", out, inp, "vdd", spec.inv_wp_um, spec.sw_l_um)


def _latch(c: Circuit, spec: NeuronSpec, p: str, tag: str, d: str, clk: str) -> tuple[str, str]:
    """Static D-latch: transparent while ``clk`` is high; returns (q, qb) nodes."""
    s, qb, q = f"{p}{tag}s", f"{p}{tag}b", f"{p}{tag}q"
    _tg(c, spec, f"{p}{tag}i", d, s, clk, f"{clk}_b")
    _inv(c, spec, f"{p}{tag}1", s, qb)
    _inv(c, spec, f"{p}{tag}2", qb, q)
    _tg(c, spec, f"{p}{tag}f", q, s, f"{clk}_b", clk)
    c.add(Capacitor(f"C{p}{tag}s", s, "0", spec.c_latch_f))
    return q, qb


def add_ota(c: Circuit, spec: NeuronSpec, p: str, inp: str, inm: str, out: str,
            cc_clock: str | None = None) -> dict[str, str]:
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
    _fet(c, spec, "n", f"M{p}mb", nb, nb, "0", nw, ln)
    c.add(Resistor(f"R{p}b", "vdd", nb, spec.rbias()))
    _fet(c, spec, "n", f"M{p}m5", tail, nb, "0", nw * spec.m_tail, ln, spec.m_tail)
    _fet(c, spec, "n", f"M{p}m1", d1, inm, tail, nw * spec.m_in, ln, spec.m_in)
    _fet(c, spec, "n", f"M{p}m2", d2, inp, tail, nw * spec.m_in, ln, spec.m_in)
    _fet(c, spec, "p", f"M{p}m3", d1, d1, "vdd", pw * spec.m_load, lp, spec.m_load)
    _fet(c, spec, "p", f"M{p}m4", d2, d1, "vdd", pw * spec.m_load, lp, spec.m_load)
    _fet(c, spec, "p", f"M{p}m6", out, d2, "vdd", pw * spec.m_cs, lp, spec.m_cs)
    _fet(c, spec, "n", f"M{p}m7", out, nb, "0", nw * spec.m_out, ln, spec.m_out)
    cc_out = out
    if cc_clock is not None:
        cc_out = f"{p}cco"
        _tg(c, spec, f"{p}cc", cc_out, out, cc_clock, f"{cc_clock}_b")
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


def check_prefix(prefix: str) -> str:
    """A neuron prefix: an identifier ending in ``_``. The neuron's own name suffixes contain no
    ``_``, so two different prefixes can never produce the same node or element name."""
    ident(prefix, "neuron prefix")
    if len(prefix) > 24 or not prefix.endswith("_"):
        raise InputError(f"neuron prefix {prefix!r} must end with '_' and have at most 24 "
                         f"characters (e.g. 'n12_')")
    return prefix


def add_neuron(circuit: Circuit, spec: NeuronSpec, prefix: str, line_node: str,
               sched: Schedule | None = None, *, vref: str = "vref",
               probe: bool = False) -> NeuronNodes:
    """Add one neuron sensing ``line_node``; every element/internal node starts with ``prefix``.

    The neuron uses the global nets ``vdd``, ``vref`` (or ``vref=``), the clocks
    ``<clk_prefix><name>`` and their ``_b`` complements (see :data:`CLOCKS`), and the DAC pair
    ``<clk_prefix>vdacp/vdacn``. Their sources come from the schedule: call
    :func:`add_schedule_sources` once per circuit (``sched`` here is only checked to carry the
    neuron's clocks). Supplies: :func:`add_supplies`.

    ``probe=True`` inserts a 0 V source ``V<prefix>iq`` between the integrate switch and the
    virtual ground: ``i(V<prefix>iq)`` is the current from C_sample's bottom plate into ``x``
    (its integral over an integrate phase is minus the charge delivered to C_integ's ``x`` plate).
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
    k = spec.net
    a, b, x, y, o, m = (f"{p}a", f"{p}b", f"{p}x", f"{p}y", f"{p}o", f"{p}m")
    # capacitors
    circuit.add(Capacitor(f"C{p}s", a, b, spec.c_sample_f),
                Capacitor(f"C{p}i", x, y, spec.c_integ_f))
    # amplifier: + input at vref, - input at x
    add_ota(circuit, spec, p, vref, x, o, k("fb") if spec.cc_switch else None)

    def tg(name, n1, n2, clk):
        _tg(circuit, spec, f"{p}{name}", n1, n2, k(clk), f"{k(clk)}_b")

    tg("s1a", line_node, a, "s1a")
    tg("s1b", b, vref, "s1b")
    tg("s2a", a, vref, "s2a")
    if probe:
        circuit.add(VSource(f"V{p}iq", f"{p}xq", x, dc_v=0.0))
        tg("s2b", b, f"{p}xq", "s2b")
    else:
        tg("s2b", b, x, "s2b")
    tg("rst", x, y, "rst")
    tg("fb", y, o, "fb")
    tg("cy", y, vref, "cy")
    # decision latch and packet multiplexer: q high (positive residue) -> vdacn
    q, qb = _latch(circuit, spec, p, "l", o, k("lat"))
    sign_q = ""
    if spec.relu:
        sign_q, sign_qb = _latch(circuit, spec, p, "g", o, k("lats"))
        tg("pk", a, f"{p}m1", "pk")
        _tg(circuit, spec, f"{p}en", f"{p}m1", m, sign_q, sign_qb)
    else:
        tg("pk", a, m, "pk")
    _tg(circuit, spec, f"{p}mxn", m, k("vdacn"), q, qb)
    _tg(circuit, spec, f"{p}mxp", m, k("vdacp"), qb, q)
    return NeuronNodes(p, line_node, a, b, x, y, o, q, qb, sign_q,
                       f"V{p}iq" if probe else "")


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
               ) -> tuple[tuple[float, float], ...]:
    """PWL for anything driven per input bit plane: ``plane_levels[n-1]`` volts during every
    input window of plane n (:func:`input_windows`), ``idle`` volts outside them.

    Edges take ``spec.t_edge_s``; the level turns on at ``t_on`` and off one edge after
    ``t_off`` (once the sample switch has fully opened, still inside the guard). Use it for a
    row driver's control net, or for a line's Thevenin source in a stand-alone test.
    """
    wins = input_windows(sched)
    planes = sorted({n for n, _, _, _ in wins})
    lv = [number(v, "plane level", lo=-10.0, hi=10.0) for v in plane_levels]
    if len(lv) != len(planes):
        raise InputError(f"need {len(planes)} plane levels (planes {planes}), got {len(lv)}")
    idle = number(idle, "idle level", lo=-10.0, hi=10.0)
    e = spec.t_edge_s
    pts = [(0.0, idle)]
    for n, _, t_on, t_off in wins:
        v = lv[n - 1]
        if v != idle:
            pts += [(t_on, idle), (t_on + e, v), (t_off + e, v), (t_off + 2 * e, idle)]
    pts.append((sched.t_stop, idle))
    return tuple(pts)


def line_testbench(spec: NeuronSpec, sched: Schedule, lines, *, r_source_ohm: float = 30e3,
                   c_line_f: float = 100e-15, probe: bool = False,
                   title: str = "pycim neuron line bench") -> tuple[Circuit, list[NeuronNodes]]:
    """Neurons ``n<i>_`` on lines ``line<i>``, each driven by ``VSL<i>`` (a DC voltage or PWL
    points) through ``r_source_ohm`` with ``c_line_f`` to ground: the floating array line as
    a Thevenin source. Adds supplies and the schedule's sources."""
    number(r_source_ohm, "r_source_ohm", lo=1.0, hi=1e9)
    number(c_line_f, "c_line_f", lo=0.0, hi=1e-9)
    c = Circuit(title)
    add_supplies(c, spec)
    add_schedule_sources(c, sched)
    nodes = []
    for i, v in enumerate(lines):
        if isinstance(v, (tuple, list)):
            src = VSource(f"VSL{i}", f"vsl{i}", "0", dc_v=v[0][1], pwl=tuple(v))
        else:
            src = VSource(f"VSL{i}", f"vsl{i}", "0", dc_v=v)
        c.add(src, Resistor(f"RSL{i}", f"vsl{i}", f"line{i}", r_source_ohm))
        if c_line_f > 0:
            c.add(Capacitor(f"CSL{i}", f"line{i}", "0", c_line_f))
        nodes.append(add_neuron(c, spec, f"n{i}_", f"line{i}", sched, probe=probe))
    return c, nodes


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------


__all__ = ["CLOCKS", "DAC_NETS", "NeuronNodes", "NeuronSpec", "add_conversion",
           "add_integration_step", "add_neuron", "add_ota", "add_reset", "add_schedule_sources",
           "add_supplies", "builder", "check_prefix", "conversion_bits", "input_windows",
           "line_testbench", "ota_testbench", "window_pwl",
           "integration_steps", "mvm_schedule", "n_planes", "neuron_nets"]


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
from .schedule import ANALOG, LOGIC, Net, Schedule, ScheduleBuilder
from .sky130_cards import card_model, card_mosfet
from ..validate import ident, integer, node, number

A = assumptions.value

#: Logic clock nets (without the prefix) and what they do.
CLOCKS = {
    "rst": "short C_integ (x-y), with s2a+s1b discharging C_sample: precharge/discharge",
    "s1a": "C_sample top plate to the line (sample)",
    "s1b": "C_sample bottom plate to Vref (sample, packet sample)",
    "s2a": "C_sample top plate to Vref (integrate, reset)",
    "s2b": "C_sample bottom plate to the virtual ground x (integrate)",
    "fb": "C_integ to the OTA output (integrator mode)",
    "cy": "C_integ to Vref (comparator mode)",
    "lat": "decision latch transparent",
    "lats": "sign latch transparent (ReLU)",
    "pk": "C_sample top plate to the DAC multiplexer (packet sample)",
    "inp": "input rows driven (for the caller's drivers; the neuron does not use it)",
}
#: Analog nets: DAC reference pair.
DAC_NETS = ("vdacp", "vdacn")


@dataclass(frozen=True)
class NeuronSpec:
    """One neuron: capacitors, supplies, OTA sizing and bias, switch sizes, corner, timing.

    OTA (two-stage Miller, NMOS input pair, PMOS mirror, PMOS common-source second stage, see
    :func:`add_ota`): every transistor is built from unit fingers (``n_unit_w_um`` x
    ``ota_ln_um`` NFETs, ``p_unit_w_um`` x ``ota_lp_um`` PFETs) so mirrors match. The reference
    NFET (1 finger) carries ``ibias_a`` set by ``rbias_ohm``; the tail has ``m_tail`` fingers, the
    second-stage NFET load ``m_out``, each input FET ``m_in``, each mirror PFET ``m_load``, the
    second-stage PFET ``m_cs`` = 2 m_load m_out / m_tail (zero systematic offset: equal current
    density in M3/M4 and M6). Design numbers and their reasoning: the module docstring; measured
    by :func:`pycim.measure.neuron.ota_metrics`.
    """

    c_sample_f: float = A("neuron_c_sample_f")
    c_integ_f: float = A("neuron_c_integ_f")
    vdd_v: float = A("vdd_v")
    v_ref_v: float = A("v_ref_v")
    adc_fs_v: float = A("neuron_adc_fs_v")
    # OTA
    ibias_a: float = A("neuron_ibias_a")
    rbias_ohm: float | None = None  # None: (vdd - 0.66 V) / ibias, see rbias()
    cc_f: float = A("neuron_cc_f")
    rz_ohm: float = A("neuron_rz_ohm")
    ota_ln_um: float = 0.6
    ota_lp_um: float = 0.4
    p_unit_w_um: float = 2.0
    n_unit_w_um: float = 2.0
    m_tail: int = 2
    m_out: int = 6
    m_in: int = 4
    m_load: int = 1
    # switches (transmission gates) and logic
    sw_wn_um: float = 0.5
    sw_wp_um: float = 0.9
    sw_l_um: float = 0.15
    inv_wn_um: float = 0.5
    inv_wp_um: float = 0.9
    cc_switch: bool = True  # disconnect Cc in comparator mode (faster open-loop decisions)
    c_latch_f: float = A("neuron_c_latch_f")
    corner: str = "tt"
    relu: bool = False
    clk_prefix: str = "nc_"
    # timing
    t_edge_s: float = A("neuron_t_edge_s")
    t_guard_s: float = A("neuron_t_guard_s")
    t_reset_s: float = A("neuron_t_reset_s")
    t_sample_s: float = A("neuron_t_sample_s")
    t_early_s: float = A("neuron_t_early_s")
    t_integrate_s: float = A("neuron_t_integrate_s")
    t_settle_s: float = A("neuron_t_settle_s")
    t_compare_s: float = A("neuron_t_compare_s")
    t_hold_s: float = A("neuron_t_hold_s")
    t_packet_s: float = A("neuron_t_packet_s")
    t_packet_integrate_s: float = A("neuron_t_packet_integrate_s")

    def __post_init__(self) -> None:
        number(self.c_sample_f, "c_sample_f", lo=1e-15, hi=10e-12)
        number(self.c_integ_f, "c_integ_f", lo=1e-15, hi=10e-12)
        number(self.vdd_v, "vdd_v", lo=1.2, hi=1.98)
        number(self.v_ref_v, "v_ref_v", lo=0.3, hi=self.vdd_v - 0.3)
        number(self.adc_fs_v, "adc_fs_v", lo=0.01, hi=0.8)
        number(self.ibias_a, "ibias_a", lo=1e-8, hi=1e-3)
        if self.rbias_ohm is not None:
            number(self.rbias_ohm, "rbias_ohm", lo=100.0, hi=1e9)
        number(self.cc_f, "cc_f", lo=1e-15, hi=10e-12)
        number(self.rz_ohm, "rz_ohm", lo=0.0, hi=1e7)
        for k in ("ota_ln_um", "ota_lp_um", "p_unit_w_um", "n_unit_w_um", "sw_wn_um",
                  "sw_wp_um", "sw_l_um", "inv_wn_um", "inv_wp_um"):
            number(getattr(self, k), k, lo=0.15, hi=100.0)
        for k in ("m_tail", "m_out", "m_in", "m_load"):
            integer(getattr(self, k), k, 1, 64)
        if (2 * self.m_load * self.m_out) % self.m_tail:
            raise InputError("2 * m_load * m_out must be a multiple of m_tail (m_cs integer)")
        number(self.c_latch_f, "c_latch_f", lo=1e-16, hi=1e-12)
        v_dac1 = self.adc_fs_v / self.gain / 2
        if v_dac1 > min(self.v_ref_v, self.vdd_v - self.v_ref_v) - 0.1:
            raise InputError(f"first DAC packet Vref +- {v_dac1:.3g} V leaves the supply: lower "
                             f"adc_fs_v or raise c_sample_f / c_integ_f")
        ident(self.corner, "corner")
        if not isinstance(self.cc_switch, bool):
            raise InputError(f"cc_switch must be a bool, got {self.cc_switch!r}")
        if not isinstance(self.relu, bool):
            raise InputError(f"relu must be a bool, got {self.relu!r}")
        ident(self.clk_prefix, "clk_prefix")
        if len(self.clk_prefix) > 16:
            raise InputError("clk_prefix longer than 16 characters")
        number(self.t_edge_s, "t_edge_s", lo=1e-12, hi=1e-7)
        number(self.t_guard_s, "t_guard_s", lo=2 * self.t_edge_s, hi=1e-6)
        for k in ("t_reset_s", "t_sample_s", "t_early_s", "t_integrate_s", "t_settle_s",
                  "t_compare_s",
                  "t_hold_s", "t_packet_s", "t_packet_integrate_s"):
            number(getattr(self, k), k, lo=2 * self.t_edge_s, hi=1e-3)

    # -- derived ---------------------------------------------------------------------------
    @property
    def m_cs(self) -> int:
        return 2 * self.m_load * self.m_out // self.m_tail

    @property
    def gain(self) -> float:
        """C_sample / C_integ: integrator voltage per volt of (V_SL - Vref) per step."""
        return self.c_sample_f / self.c_integ_f

    def rbias(self) -> float:
        """Bias resistor: given, or (vdd - 0.66 V) / ibias (0.66 V ~ V_GS of the 2 um x 0.6 um
        reference NFET at 2 uA in tt; the real current is reported by ``ota_metrics``)."""
        return self.rbias_ohm if self.rbias_ohm is not None else (self.vdd_v - 0.66) / self.ibias_a

    def lsb_v(self, out_bits: int) -> float:
        """Integrator-referred LSB of a signed ``out_bits`` code: 2 adc_fs / 2^out_bits."""
        _check_bits(out_bits, "out_bits")
        return 2.0 * self.adc_fs_v / 2 ** out_bits

    def dac_levels(self, out_bits: int) -> list[float]:
        """V_dac,k (volts above/below Vref) of packets k = 1..out_bits-1: a packet moves the
        integrator by adc_fs / 2^k, i.e. V_dac,k = (C_i / C_s) adc_fs / 2^k."""
        _check_bits(out_bits, "out_bits")
        return [self.adc_fs_v / self.gain / 2 ** k for k in range(1, out_bits)]

    def net(self, clock: str) -> str:
        """Global net name of clock/analog ``clock`` (e.g. ``nc_s1a``)."""
        if clock not in CLOCKS and clock not in DAC_NETS:
            raise InputError(f"unknown neuron clock {clock!r}")
        return f"{self.clk_prefix}{clock}"

    @property
    def t_integration_step_s(self) -> float:
        """One input integration step: sample + early + guard + integrate + settle + guard."""
        return (self.t_sample_s + self.t_early_s + self.t_guard_s + self.t_integrate_s
                + self.t_settle_s + self.t_guard_s)

    @property
    def t_adc_step_s(self) -> float:
        """One conversion step: compare + hold + packet sample + early + integrate + settle +
        three guards."""
        return (self.t_compare_s + self.t_hold_s + self.t_packet_s + self.t_early_s
                + self.t_packet_integrate_s + self.t_settle_s + 3 * self.t_guard_s)


def _check_bits(b: int, what: str, lo: int = 1, hi: int = 8) -> int:
    return integer(b, what, lo, hi)


# ---------------------------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------------------------

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
    circuit.add(*sched.sources(skip))


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

def neuron_nets(spec: NeuronSpec, extra: tuple[Net, ...] = ()) -> list[Net]:
    nets = [Net(spec.net(kc), LOGIC) for kc in CLOCKS]
    nets += [Net(spec.net(d), ANALOG, default=spec.v_ref_v) for d in DAC_NETS]
    return nets + list(extra)


def _exclusive(spec: NeuronSpec) -> list[tuple[str, ...]]:
    k = spec.net
    return [(k("s1a"), k("s2a"), k("pk")),  # top plate: line / Vref / DAC
            (k("s1b"), k("s2b")),           # bottom plate: Vref / virtual ground
            (k("fb"), k("cy")),             # C_integ: output / Vref
            (k("rst"), k("cy"))]


def builder(spec: NeuronSpec, extra: tuple[Net, ...] = ()) -> ScheduleBuilder:
    """A :class:`ScheduleBuilder` with the neuron's nets, edge, guard and exclusive groups."""
    return ScheduleBuilder(neuron_nets(spec, extra), vdd_v=spec.vdd_v, edge_s=spec.t_edge_s,
                           guard_s=spec.t_guard_s, exclusive=_exclusive(spec))


def add_reset(b: ScheduleBuilder, spec: NeuronSpec, name: str = "reset") -> None:
    k = spec.net
    b.add(name, spec.t_reset_s, high=(k("rst"), k("fb"), k("s2a"), k("s1b")), tag="reset")


def add_integration_step(b: ScheduleBuilder, spec: NeuronSpec, name: str,
                         analog: dict | None = None) -> None:
    """Phases ``in<name>`` (input on + sample), ``in<name>_h`` (bottom plate opened, input
    still on), ``int<name>`` (integrate), ``int<name>_h`` (virtual-ground switch opened);
    guards ``int<name>_g`` and ``in<name>_g`` are inserted by the builder."""
    k = spec.net
    b.add(f"in{name}", spec.t_sample_s, high=(k("s1a"), k("s1b"), k("fb"), k("inp")),
          analog=analog, tag="input")
    b.add(f"in{name}_h", spec.t_early_s, high=(k("s1a"), k("fb"), k("inp")), tag="input")
    b.add(f"int{name}", spec.t_integrate_s, high=(k("s2a"), k("s2b"), k("fb")), tag="integrate")
    b.add(f"int{name}_h", spec.t_settle_s, high=(k("s2a"), k("fb")), tag="integrate_h")


def add_conversion(b: ScheduleBuilder, spec: NeuronSpec, out_bits: int) -> None:
    """Sign decision then out_bits-1 charge-decrement steps.

    Phases for j = 0..out_bits-1: ``cmp<j>`` (comparator mode, latch transparent),
    ``cmp<j>_h`` (latch closed: decision j is valid from here until ``cmp<j+1>``); for
    k = j+1 <= out_bits-1: ``pk<k>`` (packet sampled from the DAC pair at V_dac,k), ``pk<k>_h``,
    ``pki<k>`` (packet integrated), ``pki<k>_h``. Ends with ``done`` (integrator mode).
    """
    _check_bits(out_bits, "out_bits")
    k = spec.net
    levels = spec.dac_levels(out_bits)
    for j in range(out_bits):
        hi = [k("cy"), k("lat")] + ([k("lats")] if j == 0 else [])
        b.add(f"cmp{j}", spec.t_compare_s, high=hi, tag="compare")
        b.add(f"cmp{j}_h", spec.t_hold_s, high=(k("cy"),), tag="decision")
        if j == out_bits - 1:
            break
        v = levels[j]
        b.add(f"pk{j + 1}", spec.t_packet_s, high=(k("fb"), k("pk"), k("s1b")),
              analog={k("vdacp"): spec.v_ref_v + v, k("vdacn"): spec.v_ref_v - v}, tag="packet")
        b.add(f"pk{j + 1}_h", spec.t_early_s, high=(k("fb"), k("pk")), tag="packet")
        b.add(f"pki{j + 1}", spec.t_packet_integrate_s, high=(k("fb"), k("s2a"), k("s2b")),
              tag="packet_integrate")
        b.add(f"pki{j + 1}_h", spec.t_settle_s, high=(k("fb"), k("s2a")),
              tag="packet_integrate")
    b.add("done", 4 * spec.t_guard_s + spec.t_packet_integrate_s / 2, high=(k("fb"),),
          analog={k("vdacp"): spec.v_ref_v, k("vdacn"): spec.v_ref_v}, tag="done")


def n_planes(in_bits: int) -> int:
    """Magnitude bit planes of a signed ``in_bits`` input (1-bit inputs: one plane)."""
    _check_bits(in_bits, "in_bits")
    return max(in_bits - 1, 1)


def mvm_schedule(spec: NeuronSpec, in_bits: int, out_bits: int) -> Schedule:
    """The neuron's full MVM cycle.

    ``reset``; then for each magnitude plane n = 1..n_planes(in_bits) (LSB first) and repetition
    r = 0..2^(n-1)-1 one integration step named ``<n>_<r>`` (phases ``in<n>_<r>``,
    ``in<n>_<r>_h`` tagged ``input`` while the rows must be driven, logic net ``inp`` high, then
    ``int<n>_<r>``...); then the conversion (:func:`add_conversion`).

    Row drivers: drive plane n's bit pattern during :func:`input_windows` (the logic net
    ``<clk_prefix>inp`` is high exactly then; :func:`window_pwl` builds per-plane control PWLs);
    the line must be settled by the end of ``in<n>_<r>``, when the sample switch opens.
    """
    b = builder(spec)
    add_reset(b, spec)
    for n in range(1, n_planes(in_bits) + 1):
        for r in range(2 ** (n - 1)):
            add_integration_step(b, spec, f"{n}_{r}")
    add_conversion(b, spec, out_bits)
    return b.build()


def input_windows(sched: Schedule) -> list[tuple[int, int, float, float]]:
    """``[(plane, repetition, t_on, t_off)]``: when rows must drive plane ``plane`` (1 = LSB).

    ``t_on`` is the start of ``in<n>_<r>``, ``t_off`` the end of ``in<n>_<r>_h`` (the top-plate
    switch opens at that instant; the input may turn off during the following guard).
    """
    out = []
    for p in sched.phases:
        if p.tag == "input" and not p.name.endswith("_h"):
            n, r = (int(v) for v in p.name[2:].split("_"))
            out.append((n, r, sched.start(p.name), sched.end(f"{p.name}_h")))
    return out


def integration_steps(sched: Schedule) -> list[str]:
    """Names ``<n>_<r>`` of the integration steps in order."""
    return [p.name[3:] for p in sched.phases if p.tag == "integrate"]


def conversion_bits(sched: Schedule) -> int:
    return sum(1 for p in sched.phases if p.tag == "decision")


__all__ = ["CLOCKS", "DAC_NETS", "NeuronNodes", "NeuronSpec", "add_conversion",
           "add_integration_step", "add_neuron", "add_ota", "add_reset", "add_schedule_sources",
           "add_supplies", "builder", "check_prefix", "conversion_bits", "input_windows",
           "line_testbench", "ota_testbench", "window_pwl",
           "integration_steps", "mvm_schedule", "n_planes", "neuron_nets"]


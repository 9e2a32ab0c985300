"""The neuron's specification: capacitors, supplies, OTA sizing and bias, switches, timing.

A frozen, validated dataclass with no circuit code, so every stage can read it (the netlist
generator :mod:`pycim.netlist.neuron` builds the circuit from it; the macro-model, the fits and
the report read its capacitors, supply and timing without importing the generator).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import assumptions
from ..errors import InputError
from ..validate import ident, integer, number
from .schedule import ANALOG, LOGIC, Net, Schedule, ScheduleBuilder

A = assumptions.value

#: Logic clock nets (without the prefix) and what they do.
CLOCKS = {
    "rst": "short C_integ (x-y), with s2a+s1b discharging C_sample: precharge/discharge",
    "trk": "track/hold: the line to the hold capacitor C_hold (closed during the read pulse, "
           "opened before the word-lines turn off, so their kick never reaches the held value)",
    "s1a": "C_sample top plate to the hold node h (sample)",
    "s1b": "C_sample bottom plate to Vref (sample, packet sample)",
    "s2a": "C_sample top plate to Vref (integrate, reset)",
    "s2b": "C_sample bottom plate to the virtual ground x (integrate)",
    "fb": "C_integ to the OTA output (integrator mode)",
    "cy": "C_integ to Vref (comparator mode)",
    "lat": "decision latch transparent",
    "lats": "sign latch transparent (ReLU)",
    "pk": "C_sample top plate to the DAC multiplexer (packet sample)",
    "inp": "read pulse: input rows and word-lines driven (for the caller's drivers; the neuron "
           "does not use it)",
    "en": "OTA second stage enabled (footer/header switches; low: only the first stage draws)",
    "az": "auto-zero: the OTA's own input node (C_az's OTA side) to its output, unity gain, "
          "while rst + cy hold the virtual ground x at Vref: C_az stores the offset",
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
    density in M3/M4 and M6). Design numbers and their reasoning: the docstring of
    :mod:`pycim.netlist.neuron`; measured by :func:`pycim.measure.neuron.ota_metrics`.
    """

    c_sample_f: float = A("neuron_c_sample_f")
    c_hold_f: float = A("neuron_c_hold_f")
    read_pulse_s: float = A("read_pulse_s")
    c_integ_f: float = A("neuron_c_integ_f")
    vdd_v: float = A("vdd_v")
    v_ref_v: float = A("v_ref_v")
    adc_fs_v: float = A("neuron_adc_fs_v")
    #: the first (largest) DAC packet is sampled and integrated in this many equal parts,
    #: so its reference stays inside the supply (see :meth:`dac_levels`)
    dac_first_parts: int = int(A("neuron_dac_first_parts"))
    # OTA
    ibias_a: float = A("neuron_ibias_a")
    rbias_ohm: float | None = None  # None: (vdd - 0.66 V) / ibias, see rbias()
    cc_f: float = A("neuron_cc_f")
    rz_ohm: float = A("neuron_rz_ohm")
    ota_ln_um: float = 0.6
    ota_lp_um: float = 0.4
    p_unit_w_um: float = 2.0
    n_unit_w_um: float = 2.0
    m_tail: int = 1
    m_out: int = 3
    m_in: int = 4
    m_load: int = 1
    # switches (transmission gates) and logic
    sw_wn_um: float = 0.5
    sw_wp_um: float = 0.9
    sw_l_um: float = 0.15
    #: PFET widths of two transmission gates that always open with both terminals at Vref,
    #: sized so that the charge they leave behind cancels (see the assumptions): ``rst_sw_wp_um``
    #: rst (the integrator's starting level), ``az_sw_wp_um`` the az switch on C_az's OTA side
    #: (the stored offset, which every transfer integrates as (C_s/C_i) x its error)
    rst_sw_wp_um: float = A("neuron_rst_sw_wp_um")
    az_sw_wp_um: float = A("neuron_az_sw_wp_um")
    #: PFET width of the two TGs that open on the OTA output when it turns comparator (``fb``,
    #: C_integ's output plate; ``cc``, the Miller capacitor's), NFET the unit switch's: their
    #: charge is the comparator's threshold (see the assumption)
    out_sw_wp_um: float = A("neuron_out_sw_wp_um")
    # the track switch (line -> C_hold): wide, since C_hold must follow the line within the read
    # pulse (a unit TG at mid-rail is ~24 kOhm: tau 6 ns on 250 fF)
    trk_wn_um: float = A("neuron_trk_wn_um")
    trk_wp_um: float = A("neuron_trk_wp_um")
    trk_dummy: bool = True  # half-size dummy switches cancel the track switch's charge injection
    inv_wn_um: float = 0.5
    inv_wp_um: float = 0.9
    cc_switch: bool = True  # disconnect Cc in comparator mode (faster open-loop decisions)
    c_latch_f: float = A("neuron_c_latch_f")
    #: the decision latches take the OTA output through a clocked inverter instead of a TG
    #: (:func:`pycim.netlist.neuron._latch`): no kick from the latch back onto the output.
    #: Measured on the 16 x 16 ideal core's (8,10) spread problem (``make bench`` mvm_codes'
    #: case; TG / clocked): code error RMS 11.4 / 8.1 LSB, max 17 / 9, the high phase's mean
    #: +1.19 / +0.88 codes (max 2 / 1); the conversion alone (benchmarks/neuron_mvm_diag.py
    #: 8 10 hi 0): 11 / 6 of 16 codes above floor(v_int / LSB)
    latch_clocked_input: bool = True
    corner: str = "tt"
    #: False: every FET card without BSIM4's body resistance network (three internal nodes
    #: fewer per FET). The MVM keeps it (pycim.netlist.core.mvm_core_spec says why)
    body_network: bool = True
    relu: bool = False
    # input offset storage: C_az between the virtual ground x and the OTA's (-) input, charged to
    # the offset during the reset (:func:`add_reset`), so x sits at Vref, not Vref + V_os
    auto_zero: bool = True
    c_bias_f: float = A("neuron_c_bias_f")
    #: added to the bias net's decoupling per neuron of the core (see add_neuron_bias)
    c_bias_per_neuron_f: float = A("neuron_c_bias_per_neuron_f")
    c_az_f: float = A("neuron_c_az_f")
    t_az_settle_s: float = A("neuron_t_az_settle_s")
    clk_prefix: str = "nc_"
    # timing
    t_edge_s: float = A("neuron_t_edge_s")
    t_guard_s: float = A("neuron_t_guard_s")
    t_reset_s: float = A("neuron_t_reset_s")
    t_sample_s: float = A("neuron_t_sample_s")
    t_early_s: float = A("neuron_t_early_s")
    t_wake_s: float = A("neuron_t_wake_s")
    t_integrate_s: float = A("neuron_t_integrate_s")
    t_settle_s: float = A("neuron_t_settle_s")
    t_compare_s: float = A("neuron_t_compare_s")
    t_latch_s: float = A("neuron_t_latch_s")
    t_hold_s: float = A("neuron_t_hold_s")
    t_packet_s: float = A("neuron_t_packet_s")
    t_packet_integrate_s: float = A("neuron_t_packet_integrate_s")

    def __post_init__(self) -> None:
        number(self.c_sample_f, "c_sample_f", lo=1e-15, hi=10e-12)
        number(self.c_hold_f, "c_hold_f", lo=1e-15, hi=100e-12)
        number(self.c_integ_f, "c_integ_f", lo=1e-15, hi=10e-12)
        number(self.vdd_v, "vdd_v", lo=1.2, hi=1.98)
        number(self.v_ref_v, "v_ref_v", lo=0.3, hi=self.vdd_v - 0.3)
        number(self.adc_fs_v, "adc_fs_v", lo=0.05, hi=0.8)
        number(self.ibias_a, "ibias_a", lo=1e-8, hi=1e-3)
        if self.rbias_ohm is not None:
            number(self.rbias_ohm, "rbias_ohm", lo=100.0, hi=1e9)
        number(self.cc_f, "cc_f", lo=1e-15, hi=10e-12)
        number(self.rz_ohm, "rz_ohm", lo=0.0, hi=1e7)
        for k in ("ota_ln_um", "ota_lp_um", "p_unit_w_um", "n_unit_w_um", "sw_wn_um",
                  "sw_wp_um", "rst_sw_wp_um", "az_sw_wp_um", "out_sw_wp_um", "sw_l_um",
                  "inv_wn_um",
                  "inv_wp_um", "trk_wn_um", "trk_wp_um"):
            number(getattr(self, k), k, lo=0.15, hi=100.0)
        for k in ("m_tail", "m_out", "m_in", "m_load"):
            integer(getattr(self, k), k, 1, 64)
        if (2 * self.m_load * self.m_out) % self.m_tail:
            raise InputError("2 * m_load * m_out must be a multiple of m_tail (m_cs integer)")
        number(self.c_latch_f, "c_latch_f", lo=1e-16, hi=1e-12)
        integer(self.dac_first_parts, "dac_first_parts", 1, 4)
        v_dac1 = self.adc_fs_v / self.gain / 2 / self.dac_first_parts
        if v_dac1 > min(self.v_ref_v, self.vdd_v - self.v_ref_v) - 0.1:
            raise InputError(f"first DAC packet Vref +- {v_dac1:.3g} V leaves the supply: lower "
                             f"adc_fs_v, raise c_sample_f / c_integ_f or dac_first_parts")
        ident(self.corner, "corner")
        if not isinstance(self.cc_switch, bool):
            raise InputError(f"cc_switch must be a bool, got {self.cc_switch!r}")
        if not isinstance(self.trk_dummy, bool):
            raise InputError(f"trk_dummy must be a bool, got {self.trk_dummy!r}")
        if not isinstance(self.body_network, bool):
            raise InputError(f"body_network must be a bool, got {self.body_network!r}")
        if not isinstance(self.auto_zero, bool):
            raise InputError(f"auto_zero must be a bool, got {self.auto_zero!r}")
        number(self.c_az_f, "c_az_f", lo=10e-15, hi=10e-12)
        number(self.c_bias_f, "c_bias_f", lo=0.0, hi=1e-9)
        number(self.c_bias_per_neuron_f, "c_bias_per_neuron_f", lo=0.0, hi=1e-10)
        if not isinstance(self.relu, bool):
            raise InputError(f"relu must be a bool, got {self.relu!r}")
        ident(self.clk_prefix, "clk_prefix")
        if len(self.clk_prefix) > 16:
            raise InputError("clk_prefix longer than 16 characters")
        number(self.t_edge_s, "t_edge_s", lo=1e-12, hi=1e-7)
        number(self.t_guard_s, "t_guard_s", lo=2 * self.t_edge_s, hi=1e-6)
        if not 2 * self.t_edge_s <= self.t_wake_s <= self.t_sample_s - 2 * self.t_edge_s:
            raise InputError(f"t_wake_s must lie in [2 t_edge, t_sample_s - 2 t_edge], got "
                             f"{self.t_wake_s!r}")
        if not 2 * self.t_edge_s <= self.t_latch_s <= self.t_compare_s - 2 * self.t_edge_s:
            raise InputError(f"t_latch_s must lie in [2 t_edge, t_compare_s - 2 t_edge], got "
                             f"{self.t_latch_s!r}")
        if self.auto_zero and 2 * self.t_az_settle_s + 3 * self.t_guard_s > 0.75 * self.t_reset_s:
            raise InputError("2 t_az_settle_s + 3 t_guard_s must be under 3/4 of t_reset_s (the "
                             "auto-zero phase needs the rest)")
        for k in ("read_pulse_s", "t_reset_s", "t_az_settle_s", "t_sample_s", "t_early_s",
                  "t_integrate_s", "t_settle_s", "t_compare_s", "t_latch_s", "t_hold_s",
                  "t_packet_s", "t_packet_integrate_s"):
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
        """Integrator-referred LSB of a signed ``out_bits`` code (1..10): 2 adc_fs / 2^out_bits.
        Refuses an LSB below :data:`MIN_LSB_V` (the comparator's ~0.1 mV resolution)."""
        _check_bits(out_bits, "out_bits", hi=MAX_OUT_BITS)
        q = 2.0 * self.adc_fs_v / 2 ** out_bits
        if q < MIN_LSB_V:
            raise InputError(f"adc_fs_v {self.adc_fs_v:g} V at {out_bits} output bits gives a "
                             f"{q * 1e3:.3g} mV LSB, below {MIN_LSB_V * 1e3:g} mV: raise adc_fs_v "
                             f"or lower out_bits")
        return q

    def dac_levels(self, out_bits: int) -> list[float]:
        """V_dac,k (volts above/below Vref) of packets k = 1..out_bits-1: a packet moves the
        integrator by adc_fs / 2^k, i.e. V_dac,k = (C_i / C_s) adc_fs / 2^k (follows
        ``adc_fs_v``). Packet 1 is delivered in ``dac_first_parts`` equal parts, each at
        V_dac,1 / dac_first_parts (the level listed here)."""
        self.lsb_v(out_bits)
        return [self.adc_fs_v / self.gain / 2 ** k / (self.dac_first_parts if k == 1 else 1)
                for k in range(1, out_bits)]

    @property
    def bias_net(self) -> str:
        """Global net of the shared OTA bias (gate of the diode-connected reference NFET)."""
        return f"{self.clk_prefix}nbias"

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


#: Widest output code (the paper's in + 2 bits, up to 10) and widest one-phase input.
MAX_OUT_BITS = 10
MAX_IN_BITS = 8
#: Smallest integrator-referred LSB accepted (comparator resolution ~0.1 mV, measured).
MIN_LSB_V = 0.5e-3


def _check_bits(b: int, what: str, lo: int = 1, hi: int = MAX_IN_BITS) -> int:
    return integer(b, what, lo, hi)


# ---------------------------------------------------------------------------------------------
# Schedules: the MVM cycle's timing as data (pycim.specs.schedule)
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
            (k("fb"), k("az")),             # output: C_integ / the OTA's own input
            (k("trk"), k("s1a"))]           # hold node: tracks the line / feeds C_sample


def builder(spec: NeuronSpec, extra: tuple[Net, ...] = ()) -> ScheduleBuilder:
    """A :class:`ScheduleBuilder` with the neuron's nets, edge, guard and exclusive groups."""
    return ScheduleBuilder(neuron_nets(spec, extra), vdd_v=spec.vdd_v, edge_s=spec.t_edge_s,
                           guard_s=spec.t_guard_s, exclusive=_exclusive(spec))


def add_reset(b: ScheduleBuilder, spec: NeuronSpec, name: str = "reset") -> None:
    """Discharge C_sample (s2a + s1b) and C_integ (rst), ``t_reset_s`` in all.

    Without auto-zero: one phase ``<name>`` with the OTA in unity gain (rst + fb), x = o = Vref +
    V_os. With auto-zero (default): ``<name>`` (rst + cy hold x and y at Vref, az closes the
    OTA's own input node onto its output: C_az charges to the offset), ``<name>_z`` (az opened
    first: the stored offset is frozen while x is still held), ``<name>_f`` (cy opened, fb
    closed after a guard: the OTA now holds x at Vref through C_az, ``t_az_settle_s``),
    ``<name>_o`` (rst opened, the OTA settles from its charge kick: ``t_az_settle_s``; the
    integrator's starting level is read at its end).
    """
    k = spec.net
    keep = (k("rst"), k("s2a"), k("s1b"), k("en"))
    if not spec.auto_zero:
        b.add(name, spec.t_reset_s, high=keep + (k("fb"),), tag="reset")
        return
    t_z = 2 * spec.t_guard_s
    t_f = spec.t_az_settle_s
    # the builder adds a guard before <name>_f (cy -> fb break-before-make)
    t_0 = spec.t_reset_s - t_z - 2 * t_f - spec.t_guard_s
    b.add(name, t_0, high=keep + (k("cy"), k("az")), tag="reset")
    b.add(f"{name}_z", t_z, high=keep + (k("cy"),), tag="reset")
    b.add(f"{name}_f", t_f, high=keep + (k("fb"),), tag="reset")
    b.add(f"{name}_o", t_f, high=(k("s2a"), k("s1b"), k("en"), k("fb")), tag="reset")


def _integrate(b: ScheduleBuilder, spec: NeuronSpec, name: str) -> None:
    k = spec.net
    b.add(f"int{name}", spec.t_integrate_s, high=(k("s2a"), k("s2b"), k("fb"), k("en")),
          tag="integrate")
    b.add(f"int{name}_h", spec.t_settle_s, high=(k("s2a"), k("fb"), k("en")),
          tag="integrate_h")


def add_integration_step(b: ScheduleBuilder, spec: NeuronSpec, name: str,
                         analog: dict | None = None) -> None:
    """One sample of the HELD line and its integration: ``in<name>`` (top plate on the line,
    bottom plate at Vref; OTA off, the integrator holds its charge), ``in<name>_w`` (the same,
    OTA enabled ``t_wake_s`` early so it has settled before integrating), ``in<name>_h`` (bottom
    plate opened: charge frozen), ``int<name>`` (integrate), ``int<name>_h``
    (virtual-ground switch opened); guards are inserted by the builder."""
    k = spec.net
    b.add(f"in{name}", spec.t_sample_s - spec.t_wake_s, high=(k("s1a"), k("s1b"), k("fb")),
          analog=analog, tag="sample")
    b.add(f"in{name}_w", spec.t_wake_s, high=(k("s1a"), k("s1b"), k("fb"), k("en")),
          tag="sample")
    b.add(f"in{name}_h", spec.t_early_s, high=(k("s1a"), k("fb"), k("en")), tag="sample")
    _integrate(b, spec, name)


def add_plane(b: ScheduleBuilder, spec: NeuronSpec, n: int) -> None:
    """Magnitude plane ``n`` (1 = LSB): ONE read pulse, then 2^(n-1) samples of the held value,
    each integrated.

    ``rd<n>`` (``read_pulse_s`` less two edges): inputs and word-lines on (``inp``), the line
    settles and the track switch (``trk``) lets the hold capacitor C_hold follow it;
    ``rd<n>_h`` (two edges, so the pulse is ``read_pulse_s`` in all): ``trk`` opened, the
    inputs still on, so C_hold keeps the settled line and the word-lines'
    turn-off kick (they open one edge before ``inp`` ends) lands on the line only. Then the
    samples: sample k (k = 1, 2, ...) shares C_hold's charge with the discharged C_sample and
    sees V0 r^k, r = C_hold / (C_hold + C_s) (:func:`pycim.cim.closed_form.held_line_gain`).
    """
    k = spec.net
    if spec.read_pulse_s < 4 * spec.t_edge_s:
        raise InputError(f"read_pulse_s {spec.read_pulse_s:g} s is shorter than four edges")
    b.add(f"rd{n}", spec.read_pulse_s - 2 * spec.t_edge_s, high=(k("fb"), k("inp"), k("trk")),
          tag="input")
    b.add(f"rd{n}_h", 2 * spec.t_edge_s, high=(k("fb"), k("inp")), tag="input")
    for r in range(2 ** (n - 1)):
        add_integration_step(b, spec, f"{n}_{r}")


def add_conversion(b: ScheduleBuilder, spec: NeuronSpec, out_bits: int) -> None:
    """Sign decision then out_bits-1 charge-decrement steps (OTA enabled throughout).

    Phases for j = 0..out_bits-1: ``cmp<j>`` (comparator mode), ``cmp<j>_l`` (its last
    ``t_latch_s``: latch transparent),
    ``cmp<j>_h`` (latch closed: decision j is valid from here until ``cmp<j+1>``); for
    k = j+1 <= out_bits-1: ``pk<k>`` (packet sampled from the DAC pair at V_dac,k), ``pk<k>_h``,
    ``pki<k>`` (packet integrated), ``pki<k>_h``; packet 1 in ``dac_first_parts`` parts, the
    first ones named ``pk1p<m>``, ``pk1p<m>_h``, ``pki1p<m>``, ``pki1p<m>_h`` (m = 1, ...). Ends with ``done`` (integrator mode, OTA on:
    the residue is readable there).
    """
    _check_bits(out_bits, "out_bits", hi=MAX_OUT_BITS)
    k = spec.net
    levels = spec.dac_levels(out_bits)
    for j in range(out_bits):
        hi = [k("cy"), k("lat"), k("en")] + ([k("lats")] if j == 0 else [])
        b.add(f"cmp{j}", spec.t_compare_s - spec.t_latch_s, high=(k("cy"), k("en")),
              tag="compare")
        b.add(f"cmp{j}_l", spec.t_latch_s, high=hi, tag="compare")
        b.add(f"cmp{j}_h", spec.t_hold_s, high=(k("cy"), k("en")), tag="decision")
        if j == out_bits - 1:
            break
        v = levels[j]
        parts = spec.dac_first_parts if j == 0 else 1
        for part in range(parts):
            # the last (or only) part carries the plain names: the residue is read at the end
            # of pki<k>_h (pycim.measure.neuron)
            sfx = f"p{part + 1}" if part < parts - 1 else ""
            # OTA kept on: it must pull its output back from the comparator's rail at once
            # (gating it here let the rail reach C_integ through fb and corrupted the residue,
            # measured)
            b.add(f"pk{j + 1}{sfx}", spec.t_packet_s,
                  high=(k("fb"), k("pk"), k("s1b"), k("en")),
                  analog={k("vdacp"): spec.v_ref_v + v, k("vdacn"): spec.v_ref_v - v},
                  tag="packet")
            b.add(f"pk{j + 1}{sfx}_h", spec.t_early_s, high=(k("fb"), k("pk"), k("en")),
                  tag="packet")
            b.add(f"pki{j + 1}{sfx}", spec.t_packet_integrate_s,
                  high=(k("fb"), k("s2a"), k("s2b"), k("en")), tag="packet_integrate")
            b.add(f"pki{j + 1}{sfx}_h", spec.t_settle_s, high=(k("fb"), k("s2a"), k("en")),
                  tag="packet_integrate")
    # long enough for the OTA to pull its output back from the last comparison's rail
    b.add("done", 4 * spec.t_guard_s + spec.t_packet_integrate_s, high=(k("fb"), k("en")),
          analog={k("vdacp"): spec.v_ref_v, k("vdacn"): spec.v_ref_v}, tag="done")


def n_planes(in_bits: int) -> int:
    """Magnitude bit planes of a signed ``in_bits`` input (1-bit inputs: one plane)."""
    _check_bits(in_bits, "in_bits")
    return max(in_bits - 1, 1)


def mvm_schedule(spec: NeuronSpec, in_bits: int, out_bits: int) -> Schedule:
    """The neuron's full one-phase MVM cycle (``in_bits`` 1..8, ``out_bits`` 1..10).

    ``reset``; then for each magnitude plane n = 1..n_planes(in_bits) (LSB first) one read pulse
    and 2^(n-1) integration steps named ``<n>_<r>`` (:func:`add_plane`); then the conversion
    (:func:`add_conversion`). Row drivers and word-lines: on during :func:`input_windows` (one
    per plane; the logic net ``<clk_prefix>inp`` is high exactly then; :func:`window_pwl` builds
    per-plane control PWLs); the neuron holds each plane's settled line on C_hold (``trk``).
    """
    b = builder(spec)
    add_reset(b, spec)
    for n in range(1, n_planes(in_bits) + 1):
        add_plane(b, spec, n)
    add_conversion(b, spec, out_bits)
    return b.build()


def _plane_of(phase_name: str) -> int:
    head = phase_name[2:].split("_")[0]
    return int(head)


def input_windows(sched: Schedule) -> list[tuple[int, int, float, float]]:
    """``[(plane, 0, t_on, t_off)]``: ONE read pulse per magnitude plane (1 = LSB).

    ``t_on`` is the start of the plane's first ``input`` phase, ``t_off`` the end of its last
    (the inputs and word-lines start turning off at ``t_off``; the schedule's ``inp`` net rises
    at ``t_on`` and falls at ``t_off``, one edge each). The repetition is always 0 (kept for
    the callers' unpacking).
    """
    spans: dict[int, list[float]] = {}
    for p in sched.phases:
        if p.tag == "input":
            n = _plane_of(p.name)
            t0, t1 = sched.phase_times()[p.name]
            if n in spans:
                spans[n][1] = t1
            else:
                spans[n] = [t0, t1]
    return [(n, 0, t0, t1) for n, (t0, t1) in spans.items()]


def settled_read_times(sched: Schedule, spec: NeuronSpec) -> dict[int, float]:
    """``{plane: t}``: when a plane's settled line voltage is read (``v_settled_v``): one edge
    before its read pulse's track phase ``rd<n>`` ends, i.e. as the track switch starts to open
    and C_hold takes the value the neuron will sample."""
    return {n: sched.end(f"rd{n}") - spec.t_edge_s for n, _, _, _ in input_windows(sched)}


def integration_steps(sched: Schedule) -> list[str]:
    """Names ``<n>_<r>`` of the integration steps in order."""
    return [p.name[3:] for p in sched.phases if p.tag == "integrate"]


def conversion_bits(sched: Schedule) -> int:
    return sum(1 for p in sched.phases if p.tag == "decision")

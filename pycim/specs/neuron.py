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
    density in M3/M4 and M6). Design numbers and their reasoning: the docstring of
    :mod:`pycim.netlist.neuron`; measured
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

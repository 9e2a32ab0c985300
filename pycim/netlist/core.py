"""TNSA core assembler: the one place a core circuit is built (array, drivers, WL drivers,
neurons, taps), for ``pycim netlist core`` and ``pycim mvm`` alike.

Transposable Neurosynaptic Array (Wan et al., Nature 2022): the core is a grid of corelets of
16 x 16 cells with one neuron each. For a 256 x 256 core (16 x 16 corelets) the neuron of corelet
(p, q) serves bit-line 16p + q and source-line 16q + p, so every line has exactly one neuron and
the neuron sits on the line inside its own corelet. Here each line's port (``bl<r>``, ``sl<c>``)
is placed at the centre of that corelet (column 16q + 8 for a BL, row 16p + 8 for an SL); smaller
cores fold the assignment modulo the corelet grid (a partial corelet's centre is clipped to the
array), keeping one port per line.

Every line has a driver selecting Vref + Vread (``p``, rail ``vpos``), Vref - Vread (``n``,
``vneg``), Vref (``z``, ``vrefd``) or floating (``f``, all off): three transmission gates from
SKY130 switch FETs whose gates are the nets ``c<line>_<s>`` / ``c<line>_<s>b``. Every WL has a
driver: a 5 V CMOS inverter between the WL rails ``vwlh`` (``v_wl_v``, on) and ``vwll``
(``v_wl_low_v``, off; the nMOS body stays at ground), input ``wc<r>`` (low = on); both rails are
sources of the ``wordlines`` energy group.
With ``driver="ideal"`` there are no driver elements: the stimulus puts sources on the lines.
Neurons (:mod:`pycim.netlist.neuron`) sit on the sensed lines' ports; their clocks are nets.

The assembler writes no control waveform: :mod:`pycim.netlist.stimulus` adds them (DC levels
for a netlist, the MVM's PWL schedule for a transient) after a :data:`STIMULUS_MARK` comment, so
the core part of every deck is the same text for the same :class:`CoreSpec`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from .. import assumptions
from ..cim.mapping import CORELET, tnsa_taps
from ..errors import InputError
from ..validate import ident, integer, number
from .array import IDEAL_ACCESS, IDEAL_WIRES, AccessSpec, ArraySpec, WireSpec, add_array
from .circuit import Circuit, VSource
from .neuron import NeuronNodes, NeuronSpec, add_neuron, add_neuron_bias, add_track_hold
from .sky130_cards import card_model, card_mosfet

#: What of each neuron a core carries (:attr:`CoreSpec.neuron_part`).
NEURON_PARTS = ("full", "front", "front_sampling")
STATES = ("p", "n", "z", "f")
RAILS = {"p": "vpos", "n": "vneg", "z": "vrefd"}
#: The comment line that ends the core circuit and starts a deck's stimulus.
STIMULUS_MARK = "stimulus: control waveforms and line sources (the core circuit ends above)"


def neuron_map(rows: int, cols: int) -> list[tuple[int, int, str, str]]:
    """[(p, q, bl_port, sl_port)] for each corelet's neuron (square 16x16-corelet cores map
    one BL and one SL per neuron; smaller cores list the lines their neurons reach)."""
    n_r, n_c = -(-rows // CORELET), -(-cols // CORELET)
    out = []
    for p in range(n_r):
        for q in range(n_c):
            r, c = CORELET * p + q, CORELET * q + p
            out.append((p, q, f"bl{r}" if r < rows else "", f"sl{c}" if c < cols else ""))
    return out


@dataclass(frozen=True)
class CoreSpec:
    """A TNSA core: the array (its taps are set here), drivers, supplies, direction, neurons.

    Parameters
    ----------
    array : ArraySpec
    driver : "sky130" | "ideal"
        SKY130 transmission-gate drivers and 5 V WL inverters, or none (the stimulus puts ideal
        sources on the driven lines and WLs).
    direction : "forward" | "backward"
        forward drives the BLs and senses the SLs; backward the reverse.
    neuron : NeuronSpec, optional
        A transistor-level neuron on every ``neuron_stride``-th sensed line (None: ports only).
    neuron_stride : int
        2 for the transposable mapping (the odd lines hold the negated copy).
    v_wl_v, v_wl_low_v : float
        WL on / off levels, V: the WL inverters' rails (the paper's 2.2 / 0.9 V by default).
    wl_nfet_w_um, wl_pfet_w_um : float
        WL inverter widths, um (5 V FETs, 0.5 um long), sized for a 256-cell row.
    switch_w_um, switch_p_w_um, switch_l_um : float
        The line drivers' transmission gates: nFET and pFET widths and their length, um.
    body_network : bool
        False: the drivers' and WL inverters' cards without BSIM4's body resistance network
        (:meth:`pycim.tech.sky130.FetCard.without_body_network`), as the MVM transient runs
        them (:func:`mvm_core_spec`).
    neuron_part : "full" | "front" | "front_sampling"
        "front": each neuron is only its front end, the track switch and hold capacitor
        (:func:`~pycim.netlist.neuron.add_track_hold`, the line's whole load from the neuron):
        the array stage of a partitioned MVM (:mod:`pycim.flows.partition`). No bias generator.
        "front_sampling": also C_sample's top-plate switches, so the samples share C_hold's
        charge down between the read pulses.
    """

    array: ArraySpec
    driver: str = "sky130"
    direction: str = "forward"
    v_ref_v: float = assumptions.value("v_ref_v")
    vdd_v: float = assumptions.value("vdd_v")
    v_wl_v: float = assumptions.value("v_wl_read_v")
    v_wl_low_v: float = assumptions.value("v_wl_low_v")
    wl_nfet_w_um: float = assumptions.value("wl_nfet_w_um")
    wl_pfet_w_um: float = assumptions.value("wl_pfet_w_um")
    switch_w_um: float = assumptions.value("switch_w_um")
    switch_p_w_um: float = assumptions.value("switch_p_w_um")
    switch_l_um: float = assumptions.value("switch_l_um")
    corner: str = "tt"
    neuron: NeuronSpec | None = field(default=None)
    neuron_stride: int = 1
    body_network: bool = True
    neuron_part: str = "full"

    def __post_init__(self) -> None:
        if not isinstance(self.array, ArraySpec):
            raise InputError(f"array must be an ArraySpec, got {type(self.array).__name__}")
        bl, sl = tnsa_taps(self.array.rows, self.array.cols)
        if self.array.bl_tap != bl or self.array.sl_tap != sl:
            object.__setattr__(self, "array", replace(self.array, bl_tap=bl, sl_tap=sl))
        if self.driver not in ("ideal", "sky130"):
            raise InputError(f"driver must be 'ideal' or 'sky130', got {self.driver!r}")
        if self.direction not in ("forward", "backward"):
            raise InputError(f"direction must be 'forward' or 'backward', got {self.direction!r}")
        number(self.v_ref_v, "v_ref_v", lo=0.2, hi=1.6)
        number(self.vdd_v, "vdd_v", lo=1.0, hi=2.0)
        number(self.v_wl_low_v, "v_wl_low_v", lo=0.0, hi=5.0)
        number(self.v_wl_v, "v_wl_v", lo=0.0, hi=5.0)
        if not self.v_wl_low_v < self.v_wl_v:
            raise InputError(f"v_wl_low_v ({self.v_wl_low_v:g} V) must be below v_wl_v "
                             f"({self.v_wl_v:g} V)")
        number(self.wl_nfet_w_um, "wl_nfet_w_um", lo=0.42, hi=1000)
        number(self.wl_pfet_w_um, "wl_pfet_w_um", lo=0.42, hi=1000)
        number(self.switch_w_um, "switch_w_um", lo=0.15, hi=100)
        number(self.switch_p_w_um, "switch_p_w_um", lo=0.15, hi=500)
        number(self.switch_l_um, "switch_l_um", lo=0.15, hi=100)
        ident(self.corner, "corner")
        if self.neuron is not None and not isinstance(self.neuron, NeuronSpec):
            raise InputError(f"neuron must be a NeuronSpec or None, got {self.neuron!r}")
        integer(self.neuron_stride, "neuron_stride", 1, 2)
        if not isinstance(self.body_network, bool):
            raise InputError(f"body_network must be True or False, got {self.body_network!r}")
        if self.neuron_part not in NEURON_PARTS:
            raise InputError(f"neuron_part must be one of {', '.join(NEURON_PARTS)}, got "
                             f"{self.neuron_part!r}")

    @property
    def drive_lines(self) -> list[str]:
        a = self.array
        return ([f"bl{r}" for r in range(a.rows)] if self.direction == "forward"
                else [f"sl{c}" for c in range(a.cols)])

    @property
    def sense_lines(self) -> list[str]:
        a = self.array
        return ([f"sl{c}" for c in range(a.cols)] if self.direction == "forward"
                else [f"bl{r}" for r in range(a.rows)])

    @property
    def lines(self) -> list[str]:
        a = self.array
        return [f"bl{r}" for r in range(a.rows)] + [f"sl{c}" for c in range(a.cols)]

    @property
    def neuron_lines(self) -> list[str]:
        return self.sense_lines[::self.neuron_stride] if self.neuron is not None else []

    @property
    def has_wl(self) -> bool:
        return self.array.access.kind == "sky130"


@dataclass
class CoreCircuit:
    """An assembled core: the circuit, the energy group of each source it holds (lower-case
    name -> ``array`` | ``drivers`` | ``wordlines`` | ``neuron``; ``interface`` for the
    recorded line sources of a partitioned MVM's neuron stage, which are not part of the
    circuit and count no energy), the neurons' nodes, and the
    logic sources (lower-case names): ideal control waveforms standing in for CMOS drivers,
    whose energy :func:`pycim.measure.energy.energy_by_group` counts as drawn from a rail at
    their high level."""

    circuit: Circuit
    spec: CoreSpec
    groups: dict[str, str]
    neurons: list[NeuronNodes]
    logic: set[str] = field(default_factory=set)
    #: hold nodes of a front-end core's neurons (``neuron_part`` "front" or
    #: "front_sampling", in sensed-line order)
    holds: list[str] = field(default_factory=list)

    def add_sources(self, group: str, make, logic=False) -> None:
        """Stream the stimulus sources ``make()`` (VSources) into the circuit, in group
        ``group``. Streamed, so they follow every element of the core in the emitted text.
        ``logic``: True, or a predicate on the source, marks control waveforms (gates of
        switches and inverters) for the energy count."""
        if group not in ("array", "drivers", "wordlines", "neuron", "interface"):
            raise InputError(f"unknown energy group {group!r}")

        def stream():
            for s in make():
                self.groups[s.name.lower()] = group
                if logic is True or (callable(logic) and logic(s)):
                    self.logic.add(s.name.lower())
                yield s
        self.circuit.add_stream(stream)


def assemble_core(spec: CoreSpec, title: str | None = None,
                  header: tuple[str, ...] = ()) -> CoreCircuit:
    """Build the core circuit of ``spec``: array with TNSA taps, supplies and rails, line
    drivers on every line, WL inverters, neurons on the sensed lines and their one shared bias
    generator (:func:`~pycim.netlist.neuron.add_neuron_bias`). No control waveforms
    (see :mod:`pycim.netlist.stimulus`)."""
    from .. import __version__

    a = spec.array
    c = Circuit(title or f"pycim TNSA core {a.rows}x{a.cols} ({spec.direction})",
                header=(f"pycim {__version__} core spec sha256 {core_digest(spec)}",
                        f"driver={spec.driver} cell={a.cell} access={a.access.kind} "
                        f"wire_r_ohm_per_um={a.wire.r_ohm_per_um:g} "
                        f"segment_cells={a.wire.segment_cells} corner={spec.corner} "
                        f"neurons={len(spec.neuron_lines)}", *header))
    groups: dict[str, str] = {}

    def supply(group: str, *srcs: VSource) -> None:
        c.add(*srcs)
        for s in srcs:
            groups[s.name.lower()] = group

    add_array(c, a)
    supply("neuron", VSource("VDD", "vdd", "0", dc_v=spec.vdd_v),
           VSource("VREF", "vref", "0", dc_v=spec.v_ref_v))
    if spec.driver == "sky130":
        supply("array", VSource("VPOS", "vpos", "0", dc_v=spec.v_ref_v + a.v_read_v),
               VSource("VNEG", "vneg", "0", dc_v=spec.v_ref_v - a.v_read_v),
               VSource("VREFD", "vrefd", "0", dc_v=spec.v_ref_v))
        nsw, psw = switch_cards(spec.corner, spec.switch_w_um, spec.switch_l_um,
                                spec.body_network, p_w_um=spec.switch_p_w_um)
        c.add_model(card_model(nsw))
        c.add_model(card_model(psw))
        lines = spec.lines
        c.add_stream(lambda: (e for ln in lines for e in line_switches(ln, nsw, psw)))
        if spec.has_wl:
            nwl, pwl = wl_driver_cards(spec.corner, spec.wl_nfet_w_um, spec.wl_pfet_w_um,
                                       spec.body_network)
            c.add_model(card_model(nwl))
            c.add_model(card_model(pwl))
            supply("wordlines", VSource("VWLH", "vwlh", "0", dc_v=spec.v_wl_v),
                   VSource("VWLL", "vwll", "0", dc_v=spec.v_wl_low_v))
            c.add_stream(lambda: (e for r in range(a.rows) for e in wl_inverter(r, nwl, pwl)))
    nodes = []
    if spec.neuron_lines and spec.neuron_part != "full":
        holds = [add_track_hold(c, spec.neuron, f"n{k}_", ln,
                                sampling=spec.neuron_part == "front_sampling")
                 for k, ln in enumerate(spec.neuron_lines)]
        return CoreCircuit(c, spec, groups, nodes, holds=holds)
    if spec.neuron_lines:  # one OTA bias generator per core, mirrored by every neuron
        bias = add_neuron_bias(c, spec.neuron, len(spec.neuron_lines))
        nodes = [add_neuron(c, spec.neuron, f"n{k}_", ln, bias=bias)
                 for k, ln in enumerate(spec.neuron_lines)]
    return CoreCircuit(c, spec, groups, nodes)


def mvm_access_spec(corner: str) -> AccessSpec:
    """The MVM's access FET: the PDK card without BSIM4's body resistance network (three
    nodes fewer per cell; measured on the 16 x 16 4-bit MVM: settled lines within 8 uV, energy
    within 0.03 %, 30.5 s -> 27.6 s; 256 x 256 core: 475 k equations -> about 280 k)."""
    return AccessSpec(corner=corner, body_network=False)


def mvm_neuron_spec(req) -> NeuronSpec:
    """The neuron of an :class:`~pycim.cim.request.MvmRequest`: its corner, supply, ADC full
    scale and read pulse (one spec for the deck, its schedule and its LSB)."""
    return NeuronSpec(corner=req.corner, vdd_v=req.vdd_v, adc_fs_v=req.adc_full_scale_v,
                      read_pulse_s=req.read_pulse_s)


def mvm_core_spec(req, g_phys) -> CoreSpec:
    """The core an MVM request runs on (``req``: :class:`pycim.cim.request.MvmRequest`;
    ``g_phys``: the physical conductances of its mapping). ``req.ideal``: linear cells, ideal
    access, wires and drivers (the closed-form reference); else read-model RRAM cells, SKY130
    access FETs, wire R/C in ``req.wire_segment_cells`` segments and SKY130 drivers. The array's
    FETs (access, drivers, WL inverters) run without BSIM4's body resistance network (three
    nodes fewer each). The neurons keep it: without it (measured on the whole neuron, 16 x 16
    deck 9937 -> 6430 equations, 19.0 -> 14.3 s) tests/test_mvm.py's code budgets failed
    ((4,6): 0.875 of outputs inside, backward 0.944, the SKY130 16 x 8 0.833; against >= 0.95)
    and the Monte Carlo reference run moved, so the network is part of the neuron's accuracy
    at this level. Used by ``pycim mvm`` and ``pycim netlist core
    --weights``."""
    ideal = req.ideal
    arr = ArraySpec(g_phys, cell="linear" if ideal else "rram_read",
                    access=IDEAL_ACCESS if ideal else mvm_access_spec(req.corner),
                    wire=IDEAL_WIRES if ideal else WireSpec(segment_cells=req.wire_segment_cells),
                    name="mvm")
    return CoreSpec(arr, driver="ideal" if ideal else "sky130", direction=req.direction,
                    vdd_v=req.vdd_v, corner=req.corner,
                    neuron=mvm_neuron_spec(req),
                    neuron_stride=2 if req.mapping == "transposable" else 1, body_network=False)


def line_switches(ln: str, nsw, psw) -> Iterator:
    """One line's driver: a transmission gate from ``ln`` to the rail of each state p/n/z, its
    nMOS gate at ``c<ln>_<s>`` and pMOS gate at ``c<ln>_<s>b``. All gates low: the line floats."""
    for s, rail in RAILS.items():
        yield card_mosfet(nsw, f"MN{ln}_{s}", ln, f"c{ln}_{s}", rail, "0")
        yield card_mosfet(psw, f"MP{ln}_{s}", ln, f"c{ln}_{s}b", rail, "vdd")


def wl_inverter(r: int, nwl, pwl) -> Iterator:
    """WL ``r``'s 5 V CMOS inverter between the WL rails ``vwlh`` (on) and ``vwll`` (off; nMOS
    body at ground); input ``wc<r>`` (low = WL on)."""
    yield card_mosfet(pwl, f"MWP{r}", f"wl{r}", f"wc{r}", "vwlh", "vwlh")
    yield card_mosfet(nwl, f"MWN{r}", f"wl{r}", f"wc{r}", "vwll", "0")


def switch_cards(corner: str, w_um: float, l_um: float, body_network: bool = True,
                 p_w_um: float | None = None):
    """(nfet, pfet) 1.8 V flat cards of the driver switches: nFET ``w_um`` wide, pFET
    ``p_w_um`` (default ``w_um``), both ``l_um`` long (``body_network`` False: without BSIM4's
    body resistance network)."""
    from ..tech import sky130

    p_w_um = w_um if p_w_um is None else p_w_um
    return (sky130.flat_card("nfet_01v8", w_um * 1e-6, l_um * 1e-6, corner,
                             body_network=body_network),
            sky130.flat_card("pfet_01v8", p_w_um * 1e-6, l_um * 1e-6, corner,
                             body_network=body_network))


def wl_driver_cards(corner: str, n_w_um: float = assumptions.value("wl_nfet_w_um"),
                    p_w_um: float = assumptions.value("wl_pfet_w_um"), body_network: bool = True):
    """(nfet, pfet) 5 V flat cards of the WL inverters (``n_w_um`` / ``p_w_um`` wide, 0.5 um
    long; ``body_network`` False: without BSIM4's body resistance network)."""
    from ..tech import sky130

    return (sky130.flat_card("nfet_g5v0d10v5", n_w_um * 1e-6, 0.5e-6, corner,
                             body_network=body_network),
            sky130.flat_card("pfet_g5v0d10v5", p_w_um * 1e-6, 0.5e-6, corner,
                             body_network=body_network))


def core_digest(spec: CoreSpec) -> str:
    import hashlib

    h = hashlib.sha256(spec.array.digest().encode())
    h.update(repr((spec.driver, spec.direction, spec.v_ref_v, spec.vdd_v, spec.v_wl_v,
                   spec.switch_w_um, spec.switch_l_um, spec.corner, spec.neuron,
                   spec.neuron_stride)).encode())
    h.update(repr((spec.v_wl_low_v, spec.wl_nfet_w_um, spec.wl_pfet_w_um)).encode())
    if spec.switch_p_w_um != spec.switch_w_um:  # equal widths: the digest as before
        h.update(repr(("switch_p_w_um", spec.switch_p_w_um)).encode())
    if spec.neuron_part != "full":  # the digest of every full core is unchanged
        h.update(spec.neuron_part.encode())
    return h.hexdigest()

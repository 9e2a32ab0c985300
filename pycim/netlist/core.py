"""TNSA core generator: a 1T1R array in 16 x 16 corelets, line drivers, WL drivers, neuron ports.

Transposable Neurosynaptic Array (Wan et al., Nature 2022): the core is a grid of corelets of
16 x 16 cells with one neuron each. For a 256 x 256 core (16 x 16 corelets) the neuron of corelet
(p, q) serves bit-line 16p + q and source-line 16q + p, so every line has exactly one neuron and
the neuron sits on the line inside its own corelet. Here each line's port (``bl<r>``, ``sl<c>``)
is placed at the centre of that corelet (column 16q + 8 for a BL, row 16p + 8 for an SL); smaller
cores (R x C corelets) fold the assignment modulo the corelet grid, keeping one port per line.

Every line has a driver selecting Vref + Vread (``p``), Vref - Vread (``n``), Vref (``z``) or
floating (``f``): three transmission gates from SKY130 switch FETs, or ideal sources for the
closed-form case. Every WL has a driver: a 5 V CMOS inverter between the WL rail and ground.
Control nets are driven by sources named after the line (``VC<line>_<p|n|z>`` and
complements, ``VWC<r>``), DC here and PWL from the neuron's schedule in the MVM.

Directions: ``forward`` drives BLs (inputs on rows) and senses SLs; ``backward`` drives SLs and
senses BLs. The sensing lines' drivers float.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from .. import assumptions
from ..errors import InputError
from .array import ArraySpec, add_array
from .circuit import Circuit, VSource
from .sky130_cards import card_model, card_mosfet
from ..validate import ident, number

CORELET = 16
STATES = ("p", "n", "z", "f")
RAILS = {"p": "vpos", "n": "vneg", "z": "vref"}


def tnsa_taps(rows: int, cols: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(bl_tap, sl_tap): column of each BL's port and row of each SL's port."""
    if rows % CORELET or cols % CORELET:
        raise InputError(f"a TNSA core needs rows and cols in multiples of {CORELET}, "
                         f"got {rows} x {cols}")
    n_r, n_c = rows // CORELET, cols // CORELET
    bl = tuple(CORELET * ((r % CORELET) % n_c) + CORELET // 2 for r in range(rows))
    sl = tuple(CORELET * ((c % CORELET) % n_r) + CORELET // 2 for c in range(cols))
    return bl, sl


def neuron_map(rows: int, cols: int) -> list[tuple[int, int, str, str]]:
    """[(p, q, bl_port, sl_port)] for each corelet's neuron (square 16x16-corelet cores map
    one BL and one SL per neuron; smaller cores list the lines their neurons reach)."""
    n_r, n_c = rows // CORELET, cols // CORELET
    out = []
    for p in range(n_r):
        for q in range(n_c):
            r, c = CORELET * p + q, CORELET * q + p
            out.append((p, q, f"bl{r}" if r < rows else "", f"sl{c}" if c < cols else ""))
    return out


@dataclass(frozen=True)
class CoreSpec:
    """A TNSA core: array spec (taps are set here), drivers, supplies and direction."""

    array: ArraySpec
    driver: str = "sky130"  # or "ideal"
    direction: str = "forward"
    v_ref_v: float = assumptions.value("v_ref_v")
    vdd_v: float = assumptions.value("vdd_v")
    v_wl_v: float = assumptions.value("v_wl_read_v")
    switch_w_um: float = assumptions.value("switch_w_um")
    switch_l_um: float = assumptions.value("switch_l_um")
    corner: str = "tt"

    def __post_init__(self) -> None:
        bl, sl = tnsa_taps(self.array.rows, self.array.cols)
        if self.array.bl_tap != bl or self.array.sl_tap != sl:
            from dataclasses import replace

            object.__setattr__(self, "array", replace(self.array, bl_tap=bl, sl_tap=sl))
        if self.driver not in ("ideal", "sky130"):
            raise InputError(f"driver must be 'ideal' or 'sky130', got {self.driver!r}")
        if self.direction not in ("forward", "backward"):
            raise InputError(f"direction must be 'forward' or 'backward', got {self.direction!r}")
        number(self.v_ref_v, "v_ref_v", lo=0.2, hi=1.6)
        number(self.vdd_v, "vdd_v", lo=1.0, hi=2.0)
        number(self.v_wl_v, "v_wl_v", lo=0.0, hi=5.5)
        number(self.switch_w_um, "switch_w_um", lo=0.15, hi=100)
        number(self.switch_l_um, "switch_l_um", lo=0.15, hi=100)
        ident(self.corner, "corner")

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


def core_circuit(spec: CoreSpec, states: Mapping[str, str] | None = None,
                 wl_on: bool = True, title: str | None = None) -> Circuit:
    """Core netlist with DC controls: ``states[line]`` in p/n/z/f (drive lines default ``z``,
    sense lines ``f``). Sense lines float at their neuron ports."""
    from .. import __version__

    a = spec.array
    st = {ln: "z" for ln in spec.drive_lines} | {ln: "f" for ln in spec.sense_lines}
    for k, v in (states or {}).items():
        if k not in st:
            raise InputError(f"unknown line {k!r} (have bl0..bl{a.rows - 1}, sl0..sl{a.cols - 1})")
        if v not in STATES:
            raise InputError(f"line state must be one of {STATES}, got {v!r}")
        st[k] = v
    c = Circuit(title or f"pycim TNSA core {a.rows}x{a.cols} ({spec.direction})",
                header=(f"pycim {__version__} spec sha256 {core_digest(spec)}",
                        f"driver={spec.driver} cell={a.cell} access={a.access.kind} "
                        f"wire_r_ohm_per_um={a.wire.r_ohm_per_um:g} corner={spec.corner}",
                        "neuron ports: " + " ".join(f"n{p}_{q}:{b}/{s}"
                                                    for p, q, b, s in neuron_map(a.rows, a.cols)[:8])
                        + (" ..." if len(neuron_map(a.rows, a.cols)) > 8 else "")))
    add_array(c, a)
    v_read = a.v_read_v
    c.add(VSource("VPOS", "vpos", "0", dc_v=spec.v_ref_v + v_read),
          VSource("VNEG", "vneg", "0", dc_v=spec.v_ref_v - v_read),
          VSource("VREF", "vref", "0", dc_v=spec.v_ref_v))
    lines = [f"bl{r}" for r in range(a.rows)] + [f"sl{j}" for j in range(a.cols)]
    if spec.driver == "ideal":
        rail_v = {"p": spec.v_ref_v + v_read, "n": spec.v_ref_v - v_read, "z": spec.v_ref_v}
        c.add(*(VSource(f"VD{ln}", ln, "0", dc_v=rail_v[st[ln]]) for ln in lines if st[ln] != "f"))
        if a.access.kind == "sky130":
            c.add(*(VSource(f"VW{r}", f"wl{r}", "0", dc_v=spec.v_wl_v if wl_on else 0.0)
                    for r in range(a.rows)))
        return c
    nsw, psw = switch_cards(spec.corner, spec.switch_w_um, spec.switch_l_um)
    c.add_model(card_model(nsw))
    c.add_model(card_model(psw))
    c.add(VSource("VDD", "vdd", "0", dc_v=spec.vdd_v))
    c.add_stream(lambda: _drivers(lines, st, nsw, psw, spec.vdd_v))
    if a.access.kind == "sky130":
        nwl, pwl = wl_driver_cards(spec.corner)
        c.add_model(card_model(nwl))
        c.add_model(card_model(pwl))
        c.add(VSource("VWLH", "vwlh", "0", dc_v=spec.v_wl_v))
        c.add_stream(lambda: _wl_drivers(a.rows, nwl, pwl, spec.v_wl_v, wl_on))
    return c


Level = float | tuple[tuple[float, float], ...]  # DC volts or PWL points


def _source(name: str, net: str, level: Level) -> VSource:
    if isinstance(level, tuple):
        return VSource(name, net, "0", dc_v=level[0][1], pwl=level)
    return VSource(name, net, "0", dc_v=float(level))


def _complement(level: Level, vdd: float) -> Level:
    if isinstance(level, tuple):
        return tuple((t, vdd - v) for t, v in level)
    return vdd - float(level)


def line_driver(ln: str, on: Mapping[str, Level], rails: Mapping[str, str], nsw, psw,
                vdd: float) -> Iterator:
    """One line's driver: a transmission gate from ``ln`` to ``rails[s]`` for each state s, its
    nMOS gate at ``on[s]`` (``VC<ln>_<s>``) and pMOS gate at the complement (``VC<ln>_<s>b``).
    A state is selected while its ``on`` level is high; all low = the line floats."""
    for s, rail in rails.items():
        yield _source(f"VC{ln}_{s}", f"c{ln}_{s}", on[s])
        yield _source(f"VC{ln}_{s}b", f"c{ln}_{s}b", _complement(on[s], vdd))
        yield card_mosfet(nsw, f"MN{ln}_{s}", ln, f"c{ln}_{s}", rail, "0")
        yield card_mosfet(psw, f"MP{ln}_{s}", ln, f"c{ln}_{s}b", rail, "vdd")


def wl_driver(r: int, control: Level, nwl, pwl) -> Iterator:
    """WL ``r``'s 5 V CMOS inverter between the WL rail ``vwlh`` and ground; its input
    ``wc<r>`` (``VWC<r>``) low = WL on."""
    yield _source(f"VWC{r}", f"wc{r}", control)
    yield card_mosfet(pwl, f"MWP{r}", f"wl{r}", f"wc{r}", "vwlh", "vwlh")
    yield card_mosfet(nwl, f"MWN{r}", f"wl{r}", f"wc{r}", "0", "0")


def switch_cards(corner: str, w_um: float, l_um: float):
    """(nfet, pfet) 1.8 V flat cards of the driver switches."""
    from ..tech import sky130

    return (sky130.flat_card("nfet_01v8", w_um * 1e-6, l_um * 1e-6, corner),
            sky130.flat_card("pfet_01v8", w_um * 1e-6, l_um * 1e-6, corner))


def wl_driver_cards(corner: str):
    """(nfet, pfet) 5 V flat cards of the WL inverters (1 um / 2 um wide, 0.5 um long)."""
    from ..tech import sky130

    return (sky130.flat_card("nfet_g5v0d10v5", 1e-6, 0.5e-6, corner),
            sky130.flat_card("pfet_g5v0d10v5", 2e-6, 0.5e-6, corner))


def _drivers(lines, st, nsw, psw, vdd) -> Iterator:
    """Three transmission gates per line with DC controls selecting ``st[line]``."""
    for ln in lines:
        yield from line_driver(ln, {s: vdd if st[ln] == s else 0.0 for s in RAILS}, RAILS,
                               nsw, psw, vdd)


def _wl_drivers(rows, nwl, pwl, v_wl, wl_on) -> Iterator:
    for r in range(rows):
        yield from wl_driver(r, 0.0 if wl_on else v_wl, nwl, pwl)


def core_digest(spec: CoreSpec) -> str:
    import hashlib

    h = hashlib.sha256(spec.array.digest().encode())
    h.update(repr((spec.driver, spec.direction, spec.v_ref_v, spec.vdd_v, spec.v_wl_v,
                   spec.switch_w_um, spec.switch_l_um, spec.corner)).encode())
    return h.hexdigest()

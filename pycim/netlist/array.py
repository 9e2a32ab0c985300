"""1T1R array generator: any rows x cols, per-segment wire R and C on BL, SL and WL.

Geometry (NeuRRAM): bit-lines (BL) run along rows, source-lines (SL) along columns, word-lines
(WL) along rows and gate the access FETs. Cell (r, c) is RRAM from BL to an internal node, then
the access FET from there to SL (gate on WL, bulk at ground). Signed weights occupy row pairs:
row 2i holds G+, row 2i+1 holds G- (see :mod:`pycim.cim.mapping`).

Each line is reached from outside at one *tap* cell: the array exposes ports ``bl<r>``, ``sl<c>``
and ``wl<r>`` there. With wire resistance, a line is a chain of segments of one cell pitch, each
with ``r = wire_r_ohm_per_um * pitch`` and ``c = wire_c_f_per_um * pitch`` to ground at every
cell node; the tap node *is* the port, so the driver sits at its real position on the line (an
edge for a plain array, the corelet's neuron for a TNSA core). Without wire resistance every line
is one node.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .. import assumptions
from ..errors import InputError
from ..tech import rram
from .circuit import Capacitor, Circuit, Resistor, VaDevice
from .sky130_cards import card_model, card_mosfet
from .testbench import RRAM_MODEL, linear_model, rram_model, rram_read_model
from ..validate import ident, integer, number

MAX_SIZE = 256
#: resistor: a plain SPICE resistor per cell (no OSDI): the native floor of benchmarks
CELLS = ("rram", "rram_read", "linear", "resistor")
LINEAR_MODEL = "gcell"
READ_MODEL = "rram_rd"


@dataclass(frozen=True)
class WireSpec:
    """Per-length parasitics of BL, SL and WL and the cell pitch (see pycim.assumptions)."""

    r_ohm_per_um: float = assumptions.value("wire_r_ohm_per_um")
    c_f_per_um: float = assumptions.value("wire_c_f_per_um")
    pitch_x_um: float = assumptions.value("cell_pitch_x_um")
    pitch_y_um: float = assumptions.value("cell_pitch_y_um")
    #: cells per wire segment: 1 = a node per cell (exact ladder); k > 1 lumps k cells onto one
    #: node, with k pitches of R between segment nodes and k pitches of C on each (an RC
    #: reduction for large transients; its error is measured in tests/test_array.py).
    segment_cells: int = 1

    def __post_init__(self) -> None:
        integer(self.segment_cells, "segment_cells", 1, 256)
        number(self.r_ohm_per_um, "wire_r_ohm_per_um", lo=0.0, hi=1e4)
        number(self.c_f_per_um, "wire_c_f_per_um", lo=0.0, hi=1e-12)
        number(self.pitch_x_um, "pitch_x_um", lo=0.0, lo_open=True, hi=100.0)
        number(self.pitch_y_um, "pitch_y_um", lo=0.0, lo_open=True, hi=100.0)
        if self.c_f_per_um > 0 and not self.r_ohm_per_um > 0:
            raise InputError(f"wire_c_f_per_um = {self.c_f_per_um:g} needs wire_r_ohm_per_um > 0 "
                             f"(without wire resistance a line is one node and its capacitance "
                             f"would be dropped): give both, or c_f_per_um=0 (IDEAL_WIRES)")

    @property
    def has_r(self) -> bool:
        return self.r_ohm_per_um > 0


IDEAL_WIRES = WireSpec(r_ohm_per_um=0.0, c_f_per_um=0.0)


@dataclass(frozen=True)
class AccessSpec:
    """The cell's access device: ``ideal`` (RRAM straight to SL, WL unused) or ``sky130``."""

    kind: str = "sky130"
    device: str = "nfet_g5v0d10v5"
    w_um: float = assumptions.value("access_w_um")
    l_um: float = assumptions.value("access_l_um")
    corner: str = "tt"
    #: False: the access FET's card without BSIM4's body resistance network (rbodymod=0, see
    #: FetCard.without_body_network): same DC, 3 nodes fewer per cell; the MVM transient uses it
    body_network: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.body_network, bool):
            raise InputError(f"body_network must be True or False, got {self.body_network!r}")
        if self.kind not in ("ideal", "sky130"):
            raise InputError(f"access kind must be 'ideal' or 'sky130', got {self.kind!r}")
        ident(self.device, "access device")
        ident(self.corner, "corner")
        number(self.w_um, "access w_um", lo=0.0, lo_open=True, hi=100.0)
        number(self.l_um, "access l_um", lo=0.0, lo_open=True, hi=100.0)

    def card(self):
        from ..tech import sky130

        return sky130.flat_card(self.device, self.w_um * 1e-6, self.l_um * 1e-6, self.corner,
                                body_network=self.body_network)


IDEAL_ACCESS = AccessSpec(kind="ideal")


@dataclass(frozen=True)
class ArraySpec:
    """A physical array of target read conductances ``g_s`` (rows x cols).

    Parameters
    ----------
    g_s : array (rows, cols)
        Target read conductance of each cell at ``v_read_v``, S.
    cell : "rram" | "rram_read" | "linear"
        The stateful RRAM (``rram_skywater``, programmed to ``g_s`` through its initial gap), the
        same cell with the state frozen (reads: identical I-V, two fewer unknowns per cell),
        or an ideal conductance (closed-form tests).
    access, wire : AccessSpec, WireSpec
    bl_tap, sl_tap : tuple of int, optional
        Column at which each BL port sits and row at which each SL port sits (default: 0).
    """

    g_s: np.ndarray = field(compare=False, repr=False)
    cell: str = "rram"
    access: AccessSpec = AccessSpec()
    wire: WireSpec = WireSpec()
    v_read_v: float = assumptions.value("v_read_v")
    name: str = "array"
    bl_tap: tuple[int, ...] | None = None
    sl_tap: tuple[int, ...] | None = None
    rram_params: rram.RramParams = rram.DEFAULT_PARAMS

    def __post_init__(self) -> None:
        try:
            g = np.array(self.g_s, copy=True)
        except ValueError:  # a ragged nested list
            raise InputError("g_s must be a 2-D array (rows, cols) of numbers, got rows of "
                             "different lengths") from None
        if g.dtype.kind not in "iuf":  # not strings, bools, complex or objects, whose
            raise InputError(f"g_s must hold real numbers, got dtype {g.dtype}")  # cast drops
        g = g.astype(float)
        if g.ndim != 2:
            raise InputError(f"g_s must be 2-D (rows, cols), got shape {g.shape}")
        rows, cols = g.shape
        if not (1 <= rows <= 2 * MAX_SIZE and 1 <= cols <= MAX_SIZE):
            raise InputError(f"array size {rows} x {cols} outside 1..{2 * MAX_SIZE} rows, "
                             f"1..{MAX_SIZE} cols")
        if not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise InputError("g_s must be finite and > 0")
        if self.cell not in CELLS:
            raise InputError(f"cell must be one of {CELLS}, got {self.cell!r}")
        number(self.v_read_v, "v_read_v", lo=0.0, lo_open=True, hi=1.0)
        if self.cell not in ("linear", "resistor"):
            lo, hi = rram.conductance_range_s(self.v_read_v, self.rram_params)
            if g.min() < lo or g.max() > hi:
                raise InputError(f"g_s outside the RRAM model range [{lo:.3g}, {hi:.3g}] S")
        ident(self.name, "name")
        g.setflags(write=False)
        object.__setattr__(self, "g_s", g)
        for attr, n, lim in (("bl_tap", rows, cols), ("sl_tap", cols, rows)):
            tap = getattr(self, attr)
            if tap is None:
                tap = tuple([0] * n)
            else:
                if isinstance(tap, (str, bytes)) or not hasattr(tap, "__len__"):
                    raise InputError(f"{attr} needs a sequence of {n} indices, got {tap!r}")
                if any(isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer))
                       for t in tap):  # 1.9 is not an index (int() would make it 1)
                    raise InputError(f"{attr} indices must be integers, got {tuple(tap)!r}")
                tap = tuple(int(t) for t in tap)
            if len(tap) != n or any(not 0 <= t < lim for t in tap):
                raise InputError(f"{attr} needs {n} indices in 0..{lim - 1}")
            object.__setattr__(self, attr, tap)

    @property
    def rows(self) -> int:
        return self.g_s.shape[0]

    @property
    def cols(self) -> int:
        return self.g_s.shape[1]

    def digest(self) -> str:
        """SHA-256 of everything that determines the netlist."""
        h = hashlib.sha256()
        wire = {k: v for k, v in vars(self.wire).items()
                if not (k == "segment_cells" and v == 1)}  # per-cell digests stay as they were
        access = {k: v for k, v in vars(self.access).items()
                  if not (k == "body_network" and v is True)}  # digests stay as they were
        meta = {"cell": self.cell, "access": access, "wire": wire,
                "v_read_v": self.v_read_v, "name": self.name, "bl_tap": self.bl_tap,
                "sl_tap": self.sl_tap, "rram": vars(self.rram_params), "shape": self.g_s.shape}
        h.update(json.dumps(meta, sort_keys=True, default=str).encode())
        h.update(np.ascontiguousarray(self.g_s, dtype="<f8").tobytes())
        return h.hexdigest()


# -- node naming ----------------------------------------------------------------------------

def _center(s: int, k: int, n: int) -> float:
    """Position (in cells) of the node of segment ``s`` of a line of ``n`` cells: its middle."""
    return (s * k + min(s * k + k, n) - 1) / 2


def _line_node(port: str, seg: str, idx: int, tap: int, k: int, n: int) -> str:
    """The port itself where a node sits at the tap, else the segment's own node."""
    s = idx // k
    return port if s == tap // k and _center(s, k, n) == tap else seg


def bl_node(spec: ArraySpec, r: int, c: int) -> str:
    """Node of BL ``r`` at column ``c`` (the port ``bl<r>`` at the tap, or without wire R).
    With segments (k = segment_cells > 1) column ``c`` sits on the node of segment ``c // k``,
    placed at the segment's middle; the port joins its segment through the wire between them."""
    if not spec.wire.has_r:
        return f"bl{r}"
    k = spec.wire.segment_cells
    return _line_node(f"bl{r}", f"b{r}_{c // k}", c, spec.bl_tap[r], k, spec.cols)


def sl_node(spec: ArraySpec, r: int, c: int) -> str:
    if not spec.wire.has_r:
        return f"sl{c}"
    k = spec.wire.segment_cells
    return _line_node(f"sl{c}", f"s{r // k}_{c}", r, spec.sl_tap[c], k, spec.rows)


def wl_node(spec: ArraySpec, r: int, c: int) -> str:
    if not spec.wire.has_r:
        return f"wl{r}"
    k = spec.wire.segment_cells
    return _line_node(f"wl{r}", f"w{r}_{c // k}", c, spec.bl_tap[r], k, spec.cols)


def add_array(circuit: Circuit, spec: ArraySpec,
              fet_op_guess_v: tuple[float, float, float] | None = None) -> None:
    """Add the array's models and (streamed) elements to ``circuit``. ``fet_op_guess_v``:
    every access FET's Newton starting point (``Mosfet.op_guess_v``), or None."""
    if spec.cell == "rram":
        circuit.add_model(rram_model(spec.rram_params))
        gaps = rram.gap_for_conductance_m(spec.g_s, spec.v_read_v, spec.rram_params)
    elif spec.cell == "rram_read":
        circuit.add_model(rram_read_model(spec.rram_params, READ_MODEL))
        gaps = rram.gap_for_conductance_m(spec.g_s, spec.v_read_v, spec.rram_params)
    elif spec.cell == "linear":
        circuit.add_model(linear_model(LINEAR_MODEL))
        gaps = None
    else:
        gaps = None
    card = None
    if spec.access.kind == "sky130":
        card = spec.access.card()
        circuit.add_model(card_model(card))
    circuit.add_stream(lambda: _cells(spec, gaps, card, fet_op_guess_v))
    if spec.wire.has_r:
        circuit.add_stream(lambda: _wires(spec))


def _cells(spec: ArraySpec, gaps, card, op_guess_v=None) -> Iterator:
    g = spec.g_s
    model = RRAM_MODEL if spec.cell == "rram" else READ_MODEL
    for r in range(spec.rows):
        for c in range(spec.cols):
            b = bl_node(spec, r, c)
            s = sl_node(spec, r, c)
            bottom = s if card is None else f"m{r}_{c}"
            if gaps is not None:
                yield VaDevice(f"N{r}_{c}", (b, bottom), model, (("gap_init", float(gaps[r, c])),))
            elif spec.cell == "resistor":
                yield Resistor(f"RC{r}_{c}", b, bottom, 1.0 / float(g[r, c]))
            else:
                yield VaDevice(f"N{r}_{c}", (b, bottom), LINEAR_MODEL, (("g_s", float(g[r, c])),))
            if card is not None:
                yield card_mosfet(card, f"M{r}_{c}", bottom, wl_node(spec, r, c), s, "0",
                                  op_guess_v=op_guess_v)


def _wires(spec: ArraySpec) -> Iterator:
    w = spec.wire
    k = w.segment_cells
    r_x, r_y = w.r_ohm_per_um * w.pitch_x_um, w.r_ohm_per_um * w.pitch_y_um
    c_x, c_y = w.c_f_per_um * w.pitch_x_um, w.c_f_per_um * w.pitch_y_um
    with_wl = spec.access.kind == "sky130"
    n_cseg, n_rseg = -(-spec.cols // k), -(-spec.rows // k)

    def cells(n, s):  # cells on segment s of a line of n cells
        return min(k, n - s * k)

    def gap(s, n):  # cell pitches between the nodes of segments s - 1 and s
        return _center(s, k, n) - _center(s - 1, k, n)

    # the segments' resistances once, and below each line's segment nodes once (a node
    # serves two wire segments and a capacitor)
    r_cseg = [r_x * gap(s, spec.cols) for s in range(n_cseg)]
    r_rseg = [r_y * gap(s, spec.rows) for s in range(n_rseg)]
    for r in range(spec.rows):  # BL (and WL) along the row
        tap = spec.bl_tap[r]
        bn = [bl_node(spec, r, s * k) for s in range(n_cseg)]
        wn = [wl_node(spec, r, s * k) for s in range(n_cseg)] if with_wl else None
        for s in range(1, n_cseg):
            yield Resistor(f"RB{r}_{s}", bn[s - 1], bn[s], r_cseg[s])
            if with_wl:
                yield Resistor(f"RW{r}_{s}", wn[s - 1], wn[s], r_cseg[s])
        d = abs(_center(tap // k, k, spec.cols) - tap)
        if d > 0:  # the port joins its segment's node through the wire between them
            yield Resistor(f"RBP{r}", f"bl{r}", bl_node(spec, r, tap), r_x * d)
            if with_wl:
                yield Resistor(f"RWP{r}", f"wl{r}", wl_node(spec, r, tap), r_x * d)
        if c_x > 0:
            for s in range(n_cseg):
                cap = c_x * cells(spec.cols, s)
                yield Capacitor(f"CB{r}_{s}", bn[s], "0", cap)
                if with_wl:
                    yield Capacitor(f"CW{r}_{s}", wn[s], "0", cap)
    for c in range(spec.cols):  # SL along the column
        tap = spec.sl_tap[c]
        sn = [sl_node(spec, s * k, c) for s in range(n_rseg)]
        for s in range(1, n_rseg):
            yield Resistor(f"RS{s}_{c}", sn[s - 1], sn[s], r_rseg[s])
        d = abs(_center(tap // k, k, spec.rows) - tap)
        if d > 0:
            yield Resistor(f"RSP{c}", f"sl{c}", sl_node(spec, tap, c), r_y * d)
        if c_y > 0:
            for s in range(n_rseg):
                yield Capacitor(f"CS{s}_{c}", sn[s], "0", c_y * cells(spec.rows, s))


def array_circuit(spec: ArraySpec, title: str | None = None,
                  fet_op_guess_v: tuple[float, float, float] | None = None) -> Circuit:
    """A circuit holding only the array (ports bl<r>, sl<c>, wl<r> left open);
    ``fet_op_guess_v`` as :func:`add_array`'s."""
    from .. import __version__

    c = Circuit(title or f"pycim {spec.name} {spec.rows}x{spec.cols} 1T1R array",
                header=(f"pycim {__version__} spec sha256 {spec.digest()}",
                        f"cell={spec.cell} access={spec.access.kind} "
                        f"wire_r_ohm_per_um={spec.wire.r_ohm_per_um:g}"))
    add_array(c, spec, fet_op_guess_v)
    return c


def _reals(x, what: str) -> np.ndarray:
    """``x`` as a float array; an InputError for strings, bools, complex or ragged input."""
    try:
        a = np.asarray(x)
    except ValueError:
        raise InputError(f"{what} must be an array of numbers, got rows of different "
                         f"lengths") from None
    if a.dtype.kind not in "iuf":
        raise InputError(f"{what} must hold real numbers, got dtype {a.dtype}")
    return a.astype(float)


def row_voltages(x, v_ref_v: float, v_read_v: float) -> np.ndarray:
    """Physical row drive for signed inputs ``x`` (n_in,): row 2i at Vref + x_i Vread,
    row 2i+1 at Vref - x_i Vread (x_i in [-1, 1]; 0 drives Vref)."""
    x = _reals(x, "x")
    if x.ndim != 1 or not np.all(np.isfinite(x)) or np.any(np.abs(x) > 1):
        raise InputError("x must be a 1-D array of values in [-1, 1]")
    v = np.empty(2 * x.size)
    v[0::2] = v_ref_v + x * v_read_v
    v[1::2] = v_ref_v - x * v_read_v
    return v


def dc_drive_circuit(spec: ArraySpec, v_rows_v, v_wl_v: float | None = None,
                     title: str | None = None) -> Circuit:
    """Array with ideal sources on every BL port (``VB<r>``) and WL port (``VW<r>``); SLs float.

    The ideal-switch reference case: an input driver that has selected its rail is a voltage
    source. Sensed SL voltages are the node voltages ``sl<c>``.

    Each access FET's Newton iteration starts at the read bias (``Mosfet.op_guess_v``): its
    source and drain at the rows' mean voltage, where the floating lines settle, its gate at
    the word line, its body at ground. BSIM4's own guess (vgs = vth0 + 0.1 V) costs the
    operating point two more Newton iterations (6 against 4 on a 64 x 64 or 256 x 256 array,
    ``benchmarks/dc_op_profile.py --variant no-op-guess``); the solution moves by less than
    1e-8 V, inside the Newton tolerance.
    """
    from .circuit import VSource

    v_rows = _reals(v_rows_v, "row voltages")
    if v_rows.shape != (spec.rows,):
        raise InputError(f"need {spec.rows} row voltages, got shape {v_rows.shape}")
    guess = v_wl = None
    if spec.access.kind == "sky130":
        v_wl = number(assumptions.value("v_wl_read_v") if v_wl_v is None else v_wl_v, "v_wl_v")
        v_mid = float(np.mean(v_rows))
        guess = (0.0, v_wl - v_mid, -v_mid)  # the cells' FETs have their body at ground
    c = array_circuit(spec, title, fet_op_guess_v=guess)
    c.add(*(VSource(f"VB{r}", f"bl{r}", "0", dc_v=float(v)) for r, v in enumerate(v_rows)))
    if v_wl is not None:
        c.add(*(VSource(f"VW{r}", f"wl{r}", "0", dc_v=v_wl) for r in range(spec.rows)))
    return c

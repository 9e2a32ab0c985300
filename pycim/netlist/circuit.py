"""A small, validated circuit description and its two emitters (ngspice and VACASK).

Generators build a :class:`Circuit` from elements; the emitters turn it into text line by line,
so a large array is streamed to a file rather than built as one string. Every name and number is
validated when the element is created (see :mod:`pycim.validate`).

Element names carry their SPICE letter (``R1``, ``C1``, ``V1``, ``N1`` for OSDI devices,
``M1`` for MOSFETs) and are written unchanged to both engines, so vectors can be matched by name.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..errors import InputError
from ..validate import fmt, ident, node, number

_PREFIX = {"Resistor": "R", "Capacitor": "C", "VSource": "V", "VaDevice": "N", "Mosfet": "M"}


def _check_name(obj, prefix: str) -> None:
    ident(obj.name, f"{type(obj).__name__} name")
    if obj.name[0].upper() != prefix:
        raise InputError(f"{type(obj).__name__} name {obj.name!r} must start with {prefix!r}")


@functools.lru_cache(maxsize=4096)
def param_text(params: tuple[tuple[str, float], ...]) -> str:
    """`` k=v`` text of a validated parameter tuple. Cached: thousands of identical transistors
    share one tuple, so it is validated and formatted once (measured: 2.8 s of 8 s for a
    256 x 256 1T1R deck before caching)."""
    for k, v in params:
        ident(k, "parameter"), number(v, f"parameter {k}")
    return "".join(f" {k}={fmt(v)}" for k, v in params)


def _params(params: Mapping[str, float], what: str) -> tuple[tuple[str, float], ...]:
    return tuple((ident(k, f"{what} parameter"), number(v, f"{what} parameter {k}"))
                 for k, v in sorted(params.items()))


@dataclass(frozen=True)
class Resistor:
    name: str
    n1: str
    n2: str
    r_ohm: float

    def __post_init__(self) -> None:
        _check_name(self, "R")
        node(self.n1), node(self.n2)
        number(self.r_ohm, f"{self.name} resistance", lo=0.0, lo_open=True)


@dataclass(frozen=True)
class Capacitor:
    name: str
    n1: str
    n2: str
    c_f: float

    def __post_init__(self) -> None:
        _check_name(self, "C")
        node(self.n1), node(self.n2)
        number(self.c_f, f"{self.name} capacitance", lo=0.0, lo_open=True)


@dataclass(frozen=True)
class VSource:
    """Voltage source: DC, or piecewise-linear ``pwl`` of (t_s, v_v) pairs (t increasing).

    ``breakpoints`` False (a ``pwl`` source, ngspice): the waveform without a breakpoint at
    each of its points. ngspice lands a time point on every PWL point and restarts after it at
    a tenth of its step (:data:`pycim.flows.mvm.MAX_STEP_S`), which suits a clock's edges and
    not a recorded waveform of hundreds of points (a partitioned MVM's sensed lines,
    :func:`pycim.netlist.stimulus.add_line_sources`): its step then follows the circuit's own
    truncation error. Written as a behavioural source ``B<name>`` (``V = pwl(time, ...)``)
    on an internal node ``<np>_nbp`` and this 0 V source in series, so ``i(<name>)`` and the
    node names stay; it holds its first value before its first point and its last after its
    last, as a PWL source does, and it is its waveform in every analysis (an ``.op`` sees the
    value at t = 0, not ``dc_v``). VACASK writes the plain PWL source (its breakpoints as
    they are).
    """

    name: str
    np_: str
    nn: str
    dc_v: float = 0.0
    pwl: tuple[tuple[float, float], ...] | None = None
    breakpoints: bool = True

    def __post_init__(self) -> None:
        _check_name(self, "V")
        node(self.np_), node(self.nn)
        number(self.dc_v, f"{self.name} dc")
        if not isinstance(self.breakpoints, bool):
            raise InputError(f"{self.name}: breakpoints must be True or False, "
                             f"got {self.breakpoints!r}")
        if not self.breakpoints:
            if self.pwl is None:
                raise InputError(f"{self.name}: breakpoints=False needs a pwl waveform")
            node(self.inner_node, f"{self.name} internal node")
        if self.pwl is not None:
            if len(self.pwl) < 1:
                raise InputError(f"{self.name}: pwl needs at least one point")
            last = -1.0
            for t, v in self.pwl:
                t = number(t, f"{self.name} pwl time", lo=0.0)
                number(v, f"{self.name} pwl value")
                if t <= last:
                    raise InputError(f"{self.name}: pwl times must increase strictly")
                last = t

    @property
    def inner_node(self) -> str:
        """The internal node of a source without breakpoints (ngspice)."""
        return f"{self.np_}_nbp"


@dataclass(frozen=True)
class VaDevice:
    """Instance of an OSDI (Verilog-A) model."""

    name: str
    nodes: tuple[str, ...]
    model: str
    params: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        _check_name(self, "N")
        for n in self.nodes:
            node(n)
        ident(self.model, f"{self.name} model")
        for k, v in self.params:
            ident(k, f"{self.name} parameter"), number(v, f"{self.name} parameter {k}")


@dataclass(frozen=True)
class Mosfet:
    name: str
    d: str
    g: str
    s: str
    b: str
    model: str
    w_m: float
    l_m: float
    params: tuple[tuple[str, float], ...] = ()  # other instance parameters (nf, nrd, delvto, ...)
    #: (vds, vgs, vbs) volts: where ngspice's operating point starts this device's Newton
    #: iteration (BSIM4's ``ic=vds,vgs,vbs``, used in its first, junction-initialising
    #: iteration instead of its own guess vds = 0.1 V, vgs = vth0 + 0.1 V; pycim never runs
    #: with ``uic``, where it would be an initial condition). Moves the converged point only
    #: within the Newton tolerance. None: BSIM4's guess. Not written for VACASK.
    op_guess_v: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        _check_name(self, "M")
        for n in (self.d, self.g, self.s, self.b):
            node(n)
        if self.op_guess_v is not None:
            if not isinstance(self.op_guess_v, (tuple, list)) or len(self.op_guess_v) != 3:
                raise InputError(f"{self.name} op_guess_v: (vds, vgs, vbs), got "
                                 f"{self.op_guess_v!r}")
            object.__setattr__(self, "op_guess_v", tuple(  # a hashable tuple of floats
                number(v, f"{self.name} op_guess_v {k}", lo=-20.0, hi=20.0)
                for k, v in zip(("vds", "vgs", "vbs"), self.op_guess_v)))
        ident(self.model, f"{self.name} model")
        number(self.w_m, f"{self.name} width", lo=0.0, lo_open=True, hi=1e-3)
        number(self.l_m, f"{self.name} length", lo=0.0, lo_open=True, hi=1e-3)
        param_text(tuple(self.params))
        for k, v in self.params:  # threshold shift (corner or Monte Carlo mismatch), volts
            if k.lower() == "delvto":
                number(v, f"{self.name} delvto", lo=-1.0, hi=1.0)


@dataclass(frozen=True)
class Model:
    """A model card. ``kind`` is an OSDI module name (e.g. ``rram_skywater``) or ``nmos``/``pmos``
    (BSIM4, level 54, parameters given in full)."""

    name: str
    kind: str
    params: tuple[tuple[str, float], ...] = ()
    osdi: Path | None = None

    def __post_init__(self) -> None:
        ident(self.name, "model name")
        ident(self.kind, "model kind")

    @classmethod
    def of(cls, name: str, kind: str, params: Mapping[str, float] | None = None,
           osdi: str | os.PathLike[str] | None = None) -> "Model":
        return cls(name, kind, _params(params or {}, f"model {name}"),
                   Path(osdi) if osdi is not None else None)


@dataclass(frozen=True)
class Comment:
    """A comment line in the emitted netlist (``* text`` / ``// text``): marks sections such as
    the start of a deck's stimulus. It has no name and no nodes."""

    text: str

    def __post_init__(self) -> None:
        _comment(self.text, "comment")

    @property
    def name(self) -> str:
        return ""


Element = Resistor | Capacitor | VSource | VaDevice | Mosfet | Comment


@dataclass
class Circuit:
    """A flat circuit: title, models and elements.

    Elements are added eagerly with :meth:`add`, or lazily with :meth:`add_stream` (a function
    returning an iterator, run each time the circuit is emitted), so a 256 x 256 array is
    generated and written element by element instead of being held in memory or in one string.
    Names are unique (case-insensitively) and every referenced model must be defined; for streamed
    elements both are checked while emitting.
    """

    title: str
    models: dict[str, Model] = field(default_factory=dict)
    elements: list[Element] = field(default_factory=list)
    header: tuple[str, ...] = ()  # comment lines (validated, written after the title)

    def __post_init__(self) -> None:
        self.title = _comment(self.title, "title")
        self.header = tuple(_comment(h, "header line") for h in self.header)
        self._names: set[str] = {e.name.lower() for e in self.elements
                                 if not isinstance(e, Comment)}
        self._streams: list[Callable[[], Iterable[Element]]] = []
        self._maps: list[Callable[[Element], Element]] = []

    def add_model(self, model: Model) -> Model:
        old = self.models.get(model.name)
        if old is not None and old != model:
            raise InputError(f"model {model.name!r} defined twice with different parameters")
        self.models[model.name] = model
        return model

    def _check(self, e: Element, names: set[str]) -> None:
        if isinstance(e, Comment):
            return
        key = e.name.lower()
        if key in names:
            raise InputError(f"element name {e.name!r} used twice (names are case-insensitive)")
        model = getattr(e, "model", None)
        if model is not None and model not in self.models:
            raise InputError(f"{e.name}: model {model!r} not defined; add_model() it first")
        names.add(key)

    def add(self, *elements: Element) -> None:
        for e in elements:
            self._check(e, self._names)
            self.elements.append(e)

    def extend(self, elements: Iterable[Element]) -> None:
        self.add(*elements)

    def add_stream(self, make: Callable[[], Iterable[Element]]) -> None:
        """Add elements produced lazily by ``make()`` at emission time."""
        self._streams.append(make)

    def map_elements(self, fn: Callable[[Element], Element]) -> None:
        """Pass every element, eager or streamed, through ``fn`` at emission (e.g. per-instance
        mismatch: a Mosfet with a ``delvto``). ``fn`` must keep the element's type, name and
        model; the original elements are not changed."""
        self._maps.append(fn)

    def _mapped(self, e: Element) -> Element:
        for fn in self._maps:
            new = fn(e)
            if type(new) is not type(e) or new.name != e.name \
                    or getattr(new, "model", None) != getattr(e, "model", None):
                raise InputError(f"{e.name}: an element map changed its type, name or model")
            e = new
        return e

    def iter_elements(self) -> Iterator[Element]:
        """All elements in order: eager ones, then each stream (checked as they come), each
        through the :meth:`map_elements` functions."""
        if self._maps:
            yield from map(self._mapped, self.elements)
        else:
            yield from self.elements
        if self._streams:
            names = set(self._names)
            for make in self._streams:
                for e in make():
                    self._check(e, names)
                    yield self._mapped(e) if self._maps else e

    @property
    def osdi_files(self) -> list[Path]:
        return sorted({m.osdi for m in self.models.values() if m.osdi is not None})


def _comment(text: str, what: str) -> str:
    from ..validate import refuse_injection

    refuse_injection(text, what)
    if len(text) > 200:
        raise InputError(f"{what} longer than 200 characters")
    if any(not " " <= ch <= "~" for ch in text):
        raise InputError(f"{what} {text!r} must be printable ASCII (no control characters)")
    return text


# ---------------------------------------------------------------------------------------------
# ngspice
# ---------------------------------------------------------------------------------------------

def _ng_params(params) -> str:
    return "".join(f" {k}={fmt(v)}" for k, v in params)


def ngspice_lines(c: Circuit, *, options: Mapping[str, float | None] | None = None,
                  temp_c: float | None = None) -> Iterator[str]:
    """Yield the circuit as ngspice lines (no ``.control`` block, no ``.end``)."""
    yield f"* {c.title}"
    for h in c.header:
        yield f"* {h}"
    opts = dict(options or {})
    if opts:
        parts = []
        for k, v in sorted(opts.items()):
            ident(k, "option")
            parts.append(k if v is None else f"{k}={fmt(v)}")
        yield ".options " + " ".join(parts)
    if temp_c is not None:
        yield f".temp {fmt(number(temp_c, 'temperature', lo=-273.15, hi=500))}"
    for m in sorted(c.models.values(), key=lambda m: m.name):
        if m.kind in ("nmos", "pmos"):
            yield f".model {m.name} {m.kind} level=54{_ng_params(m.params)}"
        else:
            yield f".model {m.name} {m.kind}{_ng_params(m.params)}"
    for e in c.iter_elements():
        yield from _ng_element(e).split("\n")


def _ng_element(e: Element) -> str:
    """The element's ngspice line (two lines for a source without breakpoints)."""
    if isinstance(e, Comment):
        return f"* {e.text}"
    if isinstance(e, Resistor):
        return f"{e.name} {e.n1} {e.n2} {fmt(e.r_ohm)}"
    if isinstance(e, Capacitor):
        return f"{e.name} {e.n1} {e.n2} {fmt(e.c_f)}"
    if isinstance(e, VSource):
        if e.pwl is None:
            return f"{e.name} {e.np_} {e.nn} dc {fmt(e.dc_v)}"
        if not e.breakpoints:  # behavioural PWL (no breakpoints) + the 0 V source in series
            pts = ", ".join(f"{fmt(t)}, {fmt(v)}" for t, v in _held(e.pwl))
            return (f"B{e.name} {e.inner_node} {e.nn} V=pwl(time, {pts})\n"
                    f"{e.name} {e.np_} {e.inner_node} dc 0")
        pts = " ".join(f"{fmt(t)} {fmt(v)}" for t, v in e.pwl)
        return f"{e.name} {e.np_} {e.nn} dc {fmt(e.dc_v)} pwl({pts})"
    if isinstance(e, VaDevice):
        return f"{e.name} {' '.join(e.nodes)} {e.model}{_ng_params(e.params)}"
    if isinstance(e, Mosfet):
        guess = "" if e.op_guess_v is None else " ic=" + ",".join(fmt(v) for v in e.op_guess_v)
        return (f"{e.name} {e.d} {e.g} {e.s} {e.b} {e.model} w={fmt(e.w_m)} l={fmt(e.l_m)}"
                f"{param_text(tuple(e.params))}{guess}")
    raise TypeError(f"unknown element {e!r}")


def _held(pwl: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    """``pwl`` as a behavioural ``pwl(time, ...)`` must get it to act as a source's PWL: that
    function extrapolates its end segments and needs two points, a PWL source holds its first
    value before its first point and its last value after its last. So the first value at t = 0
    (if the waveform starts later) and the last value again 1e6 s after the last point."""
    pts = [(float(t), float(v)) for t, v in pwl]
    if pts[0][0] > 0:
        pts.insert(0, (0.0, pts[0][1]))
    pts.append((pts[-1][0] + 1e6, pts[-1][1]))
    return pts


# ---------------------------------------------------------------------------------------------
# VACASK
# ---------------------------------------------------------------------------------------------

def vacask_lines(c: Circuit, *, module_dir: Path) -> Iterator[str]:
    """Yield the circuit in VACASK's netlist language (no ``control`` block).

    Resistors and capacitors use VACASK's bundled SPICE-compatible OSDI devices; BSIM4 cards use
    its ``spice/bsim4v8.osdi`` (``sp_bsim4v8``), with ``type`` +1/-1 for n/p.
    """
    yield c.title
    for h in c.header:
        yield f"// {h}"
    loads = [module_dir / "spice" / "resistor.osdi", module_dir / "spice" / "capacitor.osdi"]
    if any(m.kind in ("nmos", "pmos") for m in c.models.values()):
        loads.append(module_dir / "spice" / "bsim4v8.osdi")
    loads.extend(c.osdi_files)
    for p in loads:
        yield f'load "{_path_literal(p)}"'
    yield "model vsource vsource"
    yield "model pycim_r sp_resistor"
    yield "model pycim_c sp_capacitor"
    for m in sorted(c.models.values(), key=lambda m: m.name):
        if m.kind in ("nmos", "pmos"):
            # sp_bsim4v8 is BSIM4.8 and takes `version` as a string: the numeric SPICE version
            # (4.5 in SKY130) is dropped (measured: Id differs 0.02 % from ngspice's 4.5).
            t = 1 if m.kind == "nmos" else -1
            params = tuple((k, v) for k, v in m.params if k != "version")
            yield f"model {m.name} sp_bsim4v8 type={t}{_ng_params(params)}"
        else:
            yield f"model {m.name} {m.kind}{_ng_params(m.params)}"
    for e in c.iter_elements():
        yield _vc_element(e)


def _path_literal(p: Path) -> str:
    s = str(p)
    if any(ch in s for ch in ('"', "\n", "\r", "\\")):
        raise InputError(f"path {s!r} cannot be written into a netlist")
    return s


def _vc_element(e: Element) -> str:
    if isinstance(e, Comment):
        return f"// {e.text}"
    name = e.name.lower()
    if isinstance(e, Resistor):
        return f"{name} ({e.n1} {e.n2}) pycim_r r={fmt(e.r_ohm)}"
    if isinstance(e, Capacitor):
        return f"{name} ({e.n1} {e.n2}) pycim_c c={fmt(e.c_f)}"
    if isinstance(e, VSource):
        if e.pwl is None:
            return f"{name} ({e.np_} {e.nn}) vsource dc={fmt(e.dc_v)}"
        wave = ", ".join(f"{fmt(t)}, {fmt(v)}" for t, v in e.pwl)
        return f'{name} ({e.np_} {e.nn}) vsource dc={fmt(e.dc_v)} type="pwl" wave=[{wave}]'
    if isinstance(e, VaDevice):
        return f"{name} ({' '.join(e.nodes)}) {e.model}{_ng_params(e.params)}"
    if isinstance(e, Mosfet):
        return (f"{name} ({e.d} {e.g} {e.s} {e.b}) {e.model} w={fmt(e.w_m)} l={fmt(e.l_m)}"
                f"{param_text(tuple(e.params))}")
    raise TypeError(f"unknown element {e!r}")


def write_lines(lines: Iterable[str], out: TextIO) -> None:
    for line in lines:
        out.write(line)
        out.write("\n")

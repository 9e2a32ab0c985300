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
from ..validate import fmt, ident, node, number, path_text

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
    if not isinstance(params, Mapping):
        raise InputError(f"{what} parameters must be a mapping of name -> value, "
                         f"got {type(params).__name__}")
    for k in params:
        ident(k, f"{what} parameter")  # before sorting: a key of another type cannot be sorted
    return tuple((k, number(v, f"{what} parameter {k}")) for k, v in sorted(params.items()))


def _pairs(params, what: str, refused: tuple[str, ...] = ()) -> tuple[tuple[str, float], ...]:
    """``params`` as a tuple of (name, value) pairs, every name an identifier used once (in any
    case) and not one of ``refused``, every value a finite number; else an InputError. Returns
    ``params`` itself when it already is such a tuple (a deck's thousands of transistors share
    theirs)."""
    if type(params) is not tuple:
        if isinstance(params, Mapping):
            raise InputError(f"{what} parameters must be a tuple of (name, value) pairs, "
                             f"got a {type(params).__name__} (Model.of takes a mapping)")
        if not isinstance(params, list):
            raise InputError(f"{what} parameters must be a tuple of (name, value) pairs, "
                             f"got {type(params).__name__}")
        params = tuple(params)
    if any(type(pair) is list for pair in params):  # [name, value] lists, as JSON gives them
        params = tuple(tuple(pair) if type(pair) is list else pair for pair in params)
    for pair in params:
        if type(pair) is not tuple or len(pair) != 2:
            raise InputError(f"{what} parameters must be (name, value) pairs, got {pair!r}")
        k, v = pair
        if type(k) is not str or k not in _KEYS_OK:  # (a deck has a few distinct names)
            ident(k, f"{what} parameter")
            if len(_KEYS_OK) < 10000:
                _KEYS_OK.add(k)
        if type(v) is not float or v - v != 0.0:  # (finite floats, the common case, pass)
            number(v, f"{what} parameter {k}")
    if len(params) > 1 or refused:
        seen = set()
        for k, _ in params:
            low = k.lower()
            if low in seen:
                raise InputError(f"{what} parameter {k!r} given twice")
            if low in refused:
                raise InputError(f"{what} parameter {k!r} is written by pycim itself; "
                                 f"not allowed")
            seen.add(low)
    return params


_KEYS_OK: set[str] = set()  # parameter names ident() accepted


def _set(obj, attr: str, value) -> None:
    """Store a normalised field of a frozen element (only when it changed)."""
    if getattr(obj, attr) is not value:
        object.__setattr__(obj, attr, value)


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
            _set(self, "pwl", _pwl(self.pwl, self.name))
            if not self.breakpoints:  # ngspice holds the last value to 1e6 s past the last point
                t = float(self.pwl[-1][0])
                if float(fmt(t + 1e6)) <= float(fmt(t)):
                    raise InputError(f"{self.name}: pwl time {t!r} too large for a source "
                                     f"without breakpoints (at most 1e18 s)")

    @property
    def inner_node(self) -> str:
        """The internal node of a source without breakpoints (ngspice)."""
        return f"{self.np_}_nbp"


def _pwl(pwl, name: str) -> tuple[tuple[float, float], ...]:
    """A PWL waveform as a tuple of (t, v) pairs, its times strictly increasing as written
    (:func:`~pycim.validate.fmt` keeps 15 digits: two times closer than that collapse into one
    in the netlist, which ngspice warns of as non-increasing)."""
    if type(pwl) is not tuple:
        if not isinstance(pwl, list):
            raise InputError(f"{name}: pwl must be a tuple of (t_s, v_v) pairs, "
                             f"got {type(pwl).__name__}")
        pwl = tuple(pwl)
    if len(pwl) < 1:
        raise InputError(f"{name}: pwl needs at least one point")
    if any(type(p) is not tuple for p in pwl):
        pwl = tuple(tuple(p) if isinstance(p, list) else p for p in pwl)
    last = last_text = None
    for p in pwl:
        if type(p) is not tuple or len(p) != 2:
            raise InputError(f"{name}: pwl points must be (t_s, v_v) pairs, got {p!r}")
        t, v = p
        t = number(t, f"{name} pwl time", lo=0.0)
        number(v, f"{name} pwl value")
        if last is not None:
            if t <= last:
                raise InputError(f"{name}: pwl times must increase strictly, got {t!r} "
                                 f"after {last!r}")
            text = fmt(t)
            if float(text) <= float(last_text):
                raise InputError(f"{name}: pwl times {last!r} and {t!r} are both written "
                                 f"{text} (15 significant digits): space them further apart")
            last_text = text
        else:
            last_text = fmt(t)
        last = t
    return pwl


@dataclass(frozen=True)
class VaDevice:
    """Instance of an OSDI (Verilog-A) model."""

    name: str
    nodes: tuple[str, ...]
    model: str
    params: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        _check_name(self, "N")
        if type(self.nodes) is not tuple:
            if not isinstance(self.nodes, list):
                raise InputError(f"{self.name}: nodes must be a tuple of node names, "
                                 f"got {type(self.nodes).__name__}")
            object.__setattr__(self, "nodes", tuple(self.nodes))
        if not self.nodes:
            raise InputError(f"{self.name}: needs at least one node")
        for n in self.nodes:
            node(n)
        ident(self.model, f"{self.name} model")
        _set(self, "params", _pairs(self.params, self.name))


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
        # w and l are written from w_m and l_m, ic from op_guess_v: none of them twice
        _set(self, "params", _pairs(self.params, self.name,
                                    ("w", "l") if self.op_guess_v is None else ("w", "l", "ic")))
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
        # BSIM4 cards are written with level=54 (ngspice) and type=+-1 (VACASK)
        _set(self, "params", _pairs(self.params, f"model {self.name}",
                                    ("level", "type") if self.kind in ("nmos", "pmos") else ()))
        if self.osdi is not None:
            if not isinstance(self.osdi, Path):
                raise InputError(f"model {self.name} osdi must be a Path, got "
                                 f"{type(self.osdi).__name__} (Model.of takes a string)")
            path_text(self.osdi, f"model {self.name} OSDI file")

    @classmethod
    def of(cls, name: str, kind: str, params: Mapping[str, float] | None = None,
           osdi: str | os.PathLike[str] | None = None) -> "Model":
        if osdi is not None:
            path_text(osdi, f"model {name} OSDI file")
        return cls(name, kind, _params({} if params is None else params, f"model {name}"),
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

#: Model names the VACASK emitter writes itself (its sources', resistors' and capacitors'
#: models): a circuit's own model of that name would be a second definition.
RESERVED_MODELS = ("vsource", "pycim_r", "pycim_c")


def _nodes_of(e: Element) -> tuple[str, ...]:
    t = type(e)
    if t is Resistor or t is Capacitor:
        return (e.n1, e.n2)
    if t is Mosfet:
        return (e.d, e.g, e.s, e.b)
    if t is VaDevice:
        return e.nodes
    if t is VSource:
        return (e.np_, e.nn)
    return ()


@dataclass
class Circuit:
    """A flat circuit: title, models and elements.

    Elements are added eagerly with :meth:`add` (or given to the constructor), or lazily with
    :meth:`add_stream` (a function returning an iterator, run each time the circuit is emitted),
    so a 256 x 256 array is generated and written element by element instead of being held in
    memory or in one string. Names are unique (case-insensitively), every referenced model must
    be defined, two node names may not differ only in case (ngspice merges them, VACASK keeps
    them apart) and no element may use the internal node of a source without breakpoints
    (``<node>_nbp``); eager elements are checked when added, and every element again while
    emitting (streamed ones only then).
    """

    title: str
    models: dict[str, Model] = field(default_factory=dict)
    elements: list[Element] = field(default_factory=list)
    header: tuple[str, ...] = ()  # comment lines (validated, written after the title)

    def __post_init__(self) -> None:
        self.title = _comment(self.title, "title")
        if not isinstance(self.header, (tuple, list)):
            raise InputError(f"header must be a tuple of comment lines, got "
                             f"{type(self.header).__name__}")
        self.header = tuple(_comment(h, "header line") for h in self.header)
        if not isinstance(self.models, Mapping):
            raise InputError(f"models must be a mapping of name -> Model, got "
                             f"{type(self.models).__name__}")
        if not isinstance(self.elements, (list, tuple)):
            raise InputError(f"elements must be a list of elements, got "
                             f"{type(self.elements).__name__}")
        models, self.models = dict(self.models), {}
        for key, m in models.items():
            if not isinstance(m, Model):
                raise InputError(f"models[{key!r}] must be a Model, got {type(m).__name__}")
            if key != m.name:
                raise InputError(f"models[{key!r}] holds model {m.name!r}: the key must be "
                                 f"the model's name")
            self.add_model(m)
        elements, self.elements = list(self.elements), []
        self._names: set[str] = set()
        self._nodes: dict[str, str] = {}
        self._inner: set[str] = set()
        self._streams: list[Callable[[], Iterable[Element]]] = []
        self._maps: list[Callable[[Element], Element]] = []
        self.add(*elements)

    def add_model(self, model: Model) -> Model:
        if not isinstance(model, Model):
            raise InputError(f"add_model() takes a Model, got {type(model).__name__}")
        if model.name.lower() in RESERVED_MODELS:
            raise InputError(f"model name {model.name!r} is reserved (the VACASK netlist "
                             f"defines it); choose another")
        old = self.models.get(model.name)
        if old is not None and old != model:
            raise InputError(f"model {model.name!r} defined twice with different parameters")
        if old is None:
            low = model.name.lower()
            for other in self.models:
                if other.lower() == low:  # ngspice folds names to lower case, VACASK does not
                    raise InputError(f"model {model.name!r} differs from model {other!r} "
                                     f"only in case; rename one")
        self.models[model.name] = model
        return model

    def _check(self, e: Element, names: set[str], nodes: dict[str, str],
               inner: set[str]) -> None:
        """Check ``e`` against the names, nodes (lower case -> as written) and internal nodes
        of the elements before it, and record its own."""
        t = type(e)  # (half a million elements in a 256 x 256 core: no helper calls)
        if t is Resistor or t is Capacitor:
            model, ns = None, (e.n1, e.n2)
        elif t is Mosfet:
            model, ns = e.model, (e.d, e.g, e.s, e.b)
        elif t is VaDevice:
            model, ns = e.model, e.nodes
        elif t is VSource:
            model, ns = None, (e.np_, e.nn)
        elif t is Comment:
            return
        else:
            raise InputError(f"not a circuit element: {e!r}"[:200])
        key = e.name.lower()
        if key in names:
            raise InputError(f"element name {e.name!r} used twice (names are case-insensitive)")
        if model is not None and model not in self.models:
            raise InputError(f"{e.name}: model {model!r} not defined; add_model() it first")
        get = nodes.get
        for n in ns:
            if get(n) == n:  # seen before as written (most nodes: checked once)
                continue
            low = n.lower()
            if low in inner:
                raise InputError(f"{e.name}: node {n!r} is the internal node of a source "
                                 f"without breakpoints; rename it")
            seen = nodes.setdefault(low, n)
            if seen != n:
                raise InputError(f"{e.name}: node {n!r} differs from node {seen!r} only in case "
                                 f"(ngspice merges them, VACASK does not); rename one")
        if type(e) is VSource and not e.breakpoints:
            n = e.inner_node
            low = n.lower()
            if low in nodes:
                raise InputError(f"{e.name}: its internal node {n!r} (a source without "
                                 f"breakpoints) is already a node of the circuit; rename it")
            nodes[low] = "\0" + n  # (not n: no later element passes it as seen before)
            inner.add(low)
        names.add(key)

    def add(self, *elements: Element) -> None:
        for e in elements:
            self._check(e, self._names, self._nodes, self._inner)
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
                    or getattr(new, "model", None) != getattr(e, "model", None) \
                    or _nodes_of(new) != _nodes_of(e) \
                    or (type(e) is VSource and new.breakpoints != e.breakpoints):
                raise InputError(f"{e.name}: an element map changed its type, name, nodes or "
                                 f"model")
            e = new
        return e

    def iter_elements(self) -> Iterator[Element]:
        """All elements in order: eager ones, then each stream, each checked as it comes
        (names, models, nodes: an element or model put into the lists directly is checked too)
        and passed through the :meth:`map_elements` functions."""
        self.check_models()
        names: set[str] = set()
        nodes: dict[str, str] = {}
        inner: set[str] = set()
        check, mapped = self._check, (self._mapped if self._maps else None)
        for e in self.elements:
            check(e, names, nodes, inner)
            yield mapped(e) if mapped else e
        for make in self._streams:
            for e in make():
                check(e, names, nodes, inner)
                yield mapped(e) if mapped else e

    def check_models(self) -> None:
        """The title, header and models as the constructor and :meth:`add_model` check them
        (one put into the circuit directly included): each model a Model under its own name,
        none reserved, none differing from another only in case."""
        _comment(self.title, "title")
        for h in self.header:
            _comment(h, "header line")
        if len({k.lower() for k in self.models}) != len(self.models):
            raise InputError(f"model names differ only in case: {sorted(self.models)}"[:200])
        for key, m in self.models.items():
            if not isinstance(m, Model) or key != m.name:
                raise InputError(f"models[{key!r}] must be a Model named {key!r}, got {m!r}"[:200])
            if key.lower() in RESERVED_MODELS:
                raise InputError(f"model name {key!r} is reserved (the VACASK netlist defines "
                                 f"it); choose another")

    @property
    def osdi_files(self) -> list[Path]:
        self.check_models()
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
    c.check_models()
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
    c.check_models()
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

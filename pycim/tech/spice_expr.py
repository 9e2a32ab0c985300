"""A small, safe evaluator of SPICE expressions (the SKY130 PDK's ``{...}`` parameter values).

PDK text is tokenised (:func:`tokenize`), turned into a Python expression string over renamed
identifiers, parsed with :func:`ast.parse` and evaluated by walking a whitelist of node types
(:func:`evaluate`). ``eval`` is never called on file text. :class:`Scope` evaluates a set of
named definitions lazily, with a parent scope to fall back on.

Grammar: numbers with SPICE suffixes (``f p n u m k meg mil g t``; unknown trailing letters
ignored, as SPICE does), names (case-insensitive), ``+ - * / ^ ** %``, comparisons, ``&& || !``,
``c ? a : b``, ``{}`` and ``'...'`` as parentheses, and the functions of :data:`FUNCS`
(Monte Carlo distributions return their mean unless replaced).
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Callable, Mapping

from ..errors import InputError

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


FUNCS: dict[str, Callable[..., float]] = {
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
                if val not in FUNCS:
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
        v = _walk(_compile(text), lookup, FUNCS if not funcs else {**FUNCS, **funcs})
    except (ZeroDivisionError, OverflowError, ValueError, TypeError, RecursionError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"cannot evaluate {text!r}: {e}") from None
    if not math.isfinite(v):
        raise InputError(f"expression {text!r} is not finite ({v})")
    return v


class Scope:
    """Lazily evaluated parameters: ``defs`` name -> expression text, falling back to ``parent``."""

    def __init__(self, defs: Mapping[str, str], parent: Scope | None = None,
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


#: the old private name (kept for code that imported it from pycim.tech.sky130)
_Scope = Scope


def clear_cache() -> None:
    """Forget compiled expressions."""
    _compile.cache_clear()


__all__ = ["FUNCS", "Scope", "clear_cache", "evaluate", "tokenize"]

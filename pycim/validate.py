"""Validation of every name and number a generator writes.

A netlist must never carry text a user did not intend: ngspice's ``.control`` blocks can run
shell commands, so names are whitelisted (identifiers only) and numbers are formatted from
finite floats, never passed through as strings.
"""

from __future__ import annotations

import functools
import math
import re

from .errors import InputError

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_NODE = re.compile(r"[A-Za-z0-9_]{1,64}")
_FORBIDDEN = re.compile(r"\.control|\.endc|shell|\.include|\.lib|[\n\r\"'`]", re.IGNORECASE)
# One pattern for the common case, an acceptable name: of _FORBIDDEN's texts only "shell" can
# occur in a string of letters, digits and underscores, so these two accept exactly the strings
# that pass both refuse_injection and the _IDENT / _NODE pattern (anything else takes the full
# checks, which say what is wrong). Half a million names in a 256 x 256 core's deck.
# (IGNORECASE for "shell" alone: on the classes it would admit the long s and the Kelvin sign)
_IDENT_OK = re.compile(r"(?!.*(?i:shell))[A-Za-z_][A-Za-z0-9_]{0,63}")
_NODE_OK = re.compile(r"(?!.*(?i:shell))[A-Za-z0-9_]{1,64}")


def refuse_injection(text: str, what: str) -> str:
    """Refuse a user string carrying netlist control text (newline, .control, shell, quotes...)."""
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}")
    m = _FORBIDDEN.search(text)
    if m:
        raise InputError(f"{what} {text!r} contains forbidden text {m.group(0)!r}")
    return text


def ident(name: str, what: str = "name") -> str:
    """An identifier: letter or underscore, then letters, digits, underscores; at most 64."""
    if type(name) is str and _IDENT_OK.fullmatch(name):
        return name
    refuse_injection(name, what)
    if not _IDENT.fullmatch(name):
        raise InputError(f"{what} {name!r} must match [A-Za-z_][A-Za-z0-9_]* (max 64 chars)")
    return name


def node(name: str, what: str = "node") -> str:
    """A node name: letters, digits and underscores ('0' is ground)."""
    if type(name) is str and _NODE_OK.fullmatch(name):
        return name
    refuse_injection(name, what)
    if not _NODE.fullmatch(name):
        raise InputError(f"{what} {name!r} must match [A-Za-z0-9_]+ (max 64 chars)")
    return name


def number(value: float, what: str = "value", *, lo: float | None = None,
           hi: float | None = None, lo_open: bool = False) -> float:
    """A finite real within [lo, hi] (or (lo, hi] with ``lo_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            raise InputError(f"{what} must be a number, got {value!r}") from None
    v = float(value)
    if not math.isfinite(v):
        raise InputError(f"{what} must be finite, got {value!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise InputError(f"{what} must be {'>' if lo_open else '>='} {lo:g}, got {v:g}")
    if hi is not None and v > hi:
        raise InputError(f"{what} must be <= {hi:g}, got {v:g}")
    return v


def integer(value: int, what: str, lo: int, hi: int) -> int:
    """A Python int (not bool) within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InputError(f"{what} must be an integer in {lo}..{hi}, got {value!r}")
    return value


def fmt(value: float) -> str:
    """Deterministic, round-trippable text of a validated float."""
    if type(value) is float:  # a deck repeats its wires' R and C and its devices' sizes
        return _fmt_float(value)
    return _fmt_float(number(value))


@functools.lru_cache(maxsize=4096)
def _fmt_float(value: float) -> str:
    v = value if math.isfinite(value) else number(value)  # raises for inf and nan
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))  # integral values as integers: VACASK refuses 2.0 for an integer flag
    # 15 significant digits: exact to 1e-15 and free of binary noise like 1.4400000000000002
    # (near the float maximum, rounding up would overflow to 'inf': keep the exact repr there)
    r = float(f"{v:.15g}")
    return repr(r if math.isfinite(r) else v)

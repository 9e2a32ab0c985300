"""Validation of every name and number a generator writes.

A netlist must never carry text a user did not intend: ngspice's ``.control`` blocks can run
shell commands, so names are whitelisted (identifiers only) and numbers are formatted from
finite floats, never passed through as strings.
"""

from __future__ import annotations

import functools
import math
import numbers
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
#: Node names no generator may write, in any case: ``time`` and ``sweep`` are ngspice's
#: transient and DC-sweep axis vectors (a node of that name replaces the axis in the results),
#: and ``gnd`` is ground in ngspice but an ordinary node in VACASK (write ``0`` for ground).
#: (VACASK's own DC sweep, ``sw``, takes another name when a node has it: pycim.sim.vacask.)
RESERVED_NODES = ("time", "sweep", "gnd")
_NODE_OK = re.compile(r"(?!.*(?i:shell))(?!(?i:time|sweep|gnd)\Z)[A-Za-z0-9_]{1,64}")
#: A Verilog-A module named in a netlist's ``* pycim-osdi: <module>`` line: the rule
#: :func:`pycim.tech.va.circuit_osdi` applies to the name it compiles (``circuits/<name>.va``).
_OSDI_MODULE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: A file path written into a deck (ngspice's ``pre_osdi <path>``, VACASK's ``load "<path>"``):
#: no white space, quotes, backslashes, control or non-ASCII characters, so it cannot end its
#: line, its word or its string literal.
_PATH = re.compile(r"[A-Za-z0-9_./+@~,:=-]{1,4096}")


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
    if name.lower() in RESERVED_NODES:
        hint = "use 0 for ground" if name.lower() == "gnd" else \
            "it names a simulator's analysis axis"
        raise InputError(f"{what} {name!r} is reserved ({hint})")
    return name


def osdi_module(name: str, what: str = "OSDI module") -> str:
    """A Verilog-A module name as a ``* pycim-osdi:`` line carries it (a letter, then letters,
    digits and underscores): the name :func:`pycim.tech.va.circuit_osdi` accepts."""
    if not isinstance(name, str) or not _OSDI_MODULE.fullmatch(name):
        raise InputError(f"{what} {name!r} must match [A-Za-z][A-Za-z0-9_]*")
    return name


def path_text(path, what: str = "path") -> str:
    """The text of a file path a deck may carry (``pre_osdi``, ``load "..."``): ASCII letters,
    digits and ``_ . / + @ ~ , : = -`` only (no white space, quotes, backslashes or control
    characters)."""
    import os

    try:
        s = os.fspath(path)
    except TypeError:
        raise InputError(f"{what} must be a path, got {type(path).__name__}") from None
    if not isinstance(s, str) or not _PATH.fullmatch(s):
        raise InputError(f"{what} {s!r} cannot be written into a netlist: letters, digits and "
                         f"_ . / + @ ~ , : = - only")
    return s


def number(value: float, what: str = "value", *, lo: float | None = None,
           hi: float | None = None, lo_open: bool = False) -> float:
    """A finite real within [lo, hi] (or (lo, hi] with ``lo_open``).

    A Python or numpy int or float: not a string (``"1e-6"`` would be kept by a caller and
    compared as text), not a bool (``True`` is no value), not a complex number."""
    if type(value) is not float:
        # (numpy's ints and floats are numbers.Real; its bool, like str, is not)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InputError(f"{what} must be a number, got {value!r}")
        try:
            value_f = float(value)  # ints, numpy scalars
        except OverflowError:
            raise InputError(f"{what} must be finite, got an integer of "
                             f"{len(str(abs(value)))} digits (too large for a float)") from None
        except (TypeError, ValueError):
            raise InputError(f"{what} must be a number, got {value!r}") from None
    else:
        value_f = value
    v = value_f
    if not math.isfinite(v):
        raise InputError(f"{what} must be finite, got {value!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise InputError(f"{what} must be {'>' if lo_open else '>='} {lo:g}, got {v:g}")
    if hi is not None and v > hi:
        raise InputError(f"{what} must be <= {hi:g}, got {v:g}")
    return v


def check_int(value, what: str, lo: int = 0) -> int:
    """An integer >= ``lo`` (a Python or numpy integer, not a bool) as int: seeds and counts."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo:
        raise InputError(f"{what} must be an integer >= {lo}, got {value!r}")
    return int(value)


def integer(value: int, what: str, lo: int, hi: int) -> int:
    """A Python int (not bool) within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InputError(f"{what} must be an integer in {lo}..{hi}, got {value!r}")
    return value


def fmt(value: float) -> str:
    """Deterministic text of a validated float: integral values below 1e15 as integers, others
    rounded to 15 significant digits (so ``1.4400000000000002`` is written ``1.44``).

    Not a round trip: ``float(fmt(v))`` differs from ``v`` by up to half a unit in the 15th
    digit (a relative 5e-15), and two floats that close are written alike. Generators check
    what depends on exact order on the written values (see ``VSource``'s PWL times)."""
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

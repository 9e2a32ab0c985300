"""Checks of SPICE netlist text passed to :class:`~pycim.sim.ngspice.NgspiceEngine` as a string.

The engine writes the deck's one ``.control`` block itself; a ``.control`` block anywhere else
runs ngspice commands, ``shell`` among them. It can come from the text itself, from a title
line ``*ng_script`` (ngspice then runs the whole file as a control script) or from a file the
text reads with ``.include`` / ``.inc`` / ``.lib``. So the text and every file it reads (each
``.include``, each ``.lib`` library, the whole library file, not only the section named, and
recursively) are refused when they hold a ``.control`` or ``.endc`` line.

Path resolution mirrors ngspice's, conservatively: a relative path in a file read by the deck
is tried against the directory of every file read so far (ngspice tries the including file's
directory, then the directory of the last include that resolved). A relative path in the text
itself is refused: the deck runs in a temporary directory, so it would name a file there or
above it (``../x``) rather than beside the caller. ``~`` (home: the run's temp directory) is
refused as well.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..errors import InputError

#: ``.control`` / ``.endc`` at the start of a line (ngspice matches a prefix, case-insensitive;
#: a lone ``\r`` counts as a line break here, to be on the safe side)
_CONTROL = re.compile(r"^[^\S\r\n]*\.(?:control|endc)", re.IGNORECASE | re.MULTILINE)
_END = re.compile(r"^[^\S\r\n]*\.end\b", re.IGNORECASE | re.MULTILINE)
#: ``.inc*`` / ``.lib*`` lines (ngspice matches the prefix) and the rest of the line
_READS = re.compile(r"^[^\S\r\n]*(\.(?:inc|lib)\S*)([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
#: ngspice runs a file whose first line starts with this as a control script
_SCRIPT = "*ng_script"

MAX_DEPTH = 30
MAX_FILES = 2000

_cache: dict[tuple, tuple[bool, bool, tuple[tuple[str, str, int], ...]]] = {}


def _lines_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _reads(text: str) -> list[tuple[str, str, int]]:
    """(statement, path argument, number of arguments) of each ``.inc*``/``.lib*`` line."""
    out = []
    for m in _READS.finditer(text):
        word, rest = m.group(1), m.group(2).strip()
        if rest.startswith('"'):
            end = rest.find('"', 1)
            path, tail = (rest[1:end], rest[end + 1:]) if end > 0 else (rest[1:], "")
            nargs = 1 + len(tail.split())
        elif rest.startswith("'"):
            end = rest.find("'", 1)
            path, tail = (rest[1:end], rest[end + 1:]) if end > 0 else (rest[1:], "")
            nargs = 1 + len(tail.split())
        else:
            parts = rest.split()
            path, nargs = (parts[0] if parts else ""), len(parts)
        out.append((word, path, nargs))
    return out


def _scan_file(path: Path) -> tuple[bool, bool, tuple[tuple[str, str, int], ...]]:
    """(has a .control/.endc line, starts with *ng_script, its .inc/.lib lines); cached by the
    file's identity and modification time."""
    st = path.stat()
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    hit = _cache.get(key)
    if hit is None:
        text = _lines_text(path.read_bytes().decode("latin-1"))
        hit = (bool(_CONTROL.search(text)), text.lstrip("\n").lower().startswith(_SCRIPT),
               tuple(_reads(text)))
        if len(_cache) > 4096:
            _cache.clear()
        _cache[key] = hit
    return hit


def check_netlist_text(text: str) -> None:
    """Refuse netlist text that would run anything but the engine's own ``.control`` block
    (InputError naming the line or file)."""
    if not isinstance(text, str):
        raise InputError(f"netlist must be a Circuit or a string, got {type(text).__name__}")
    flat = _lines_text(text)
    if _CONTROL.search(flat) or _END.search(flat):
        raise InputError("netlist text must not contain .control/.endc/.end; "
                         "the engine adds them")
    if flat.lower().startswith(_SCRIPT):
        raise InputError(f"netlist text must not start with {_SCRIPT!r} (ngspice would run "
                         f"it as a control script)")
    dirs: list[str] = []
    rel: dict[str, int] = {}  # relative paths named in included files -> their depth
    tried: set[str] = set()
    seen: set[tuple[int, int]] = set()
    todo: list[tuple[str, int]] = []
    for word, arg, nargs in _reads(flat):
        if word.lower().startswith(".lib") and nargs < 2:
            continue  # a section's start (.lib NAME)
        if not arg:
            raise InputError(f"netlist text: {word} without a file name")
        if arg.startswith("~") or not os.path.isabs(arg):
            raise InputError(f"netlist text: {word} {arg!r}: the path must be absolute (the "
                             f"deck runs in a temporary directory)")
        if not os.path.isfile(arg):
            raise InputError(f"netlist text: {word} {arg!r}: no such file")
        todo.append((arg, 1))
    while todo:
        cand, depth = todo.pop()
        if cand in tried:
            continue
        tried.add(cand)
        try:
            st = os.stat(cand)
        except (OSError, ValueError):  # (a one-word .lib names a section, not a file)
            continue
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in seen:
            continue
        p = os.path.realpath(cand)
        if depth > MAX_DEPTH or len(seen) >= MAX_FILES:
            raise InputError(f"netlist text: included files nested deeper than {MAX_DEPTH} or "
                             f"more than {MAX_FILES} of them (at {p})")
        seen.add((st.st_dev, st.st_ino))
        try:
            control, script, reads = _scan_file(Path(p))
        except OSError as e:
            raise InputError(f"netlist text: cannot read included file {p}: {e}") from None
        if control:
            raise InputError(f"netlist text: included file {p} contains a .control/.endc "
                             f"line; the engine writes the deck's only control block")
        if script:
            raise InputError(f"netlist text: included file {p} starts with {_SCRIPT!r}")
        # ngspice resolves a relative path against the including file's directory, then the
        # last include's; here against the directories of the file as named and as resolved
        # (symbolic links) of every file read
        for d in dict.fromkeys((os.path.dirname(cand), os.path.dirname(p))):
            if d not in dirs:
                dirs.append(d)
                todo += [(os.path.join(d, a), k) for a, k in rel.items()]
        for word, arg, nargs in reads:
            if not arg:
                continue
            if arg.startswith("~"):
                raise InputError(f"netlist text: {word} {arg!r} in {p}: a path under '~' "
                                 f"cannot be checked")
            if os.path.isabs(arg):
                todo.append((arg, depth + 1))
            elif arg not in rel:
                rel[arg] = depth + 1
                todo += [(os.path.join(d, arg), depth + 1) for d in dirs]

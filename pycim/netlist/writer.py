"""Write netlists to files: streamed line by line, atomically (:func:`pycim.files.atomic_open`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from ..files import atomic_open
from ..validate import osdi_module
from .circuit import Circuit, ngspice_lines

OSDI_TAG = "* pycim-osdi: "


def netlist_lines(c: Circuit, temp_c: float | None = None) -> Iterable[str]:
    """ngspice text of ``c`` with ``* pycim-osdi: <module>`` lines naming the Verilog-A models the
    runner must load (the compiled libraries' paths are machine-specific, so files carry names)."""
    lines = ngspice_lines(c, temp_c=temp_c)
    yield next(lines)  # title
    for p in c.osdi_files:
        # the module the runner compiles again (pycim.tech.va.circuit_osdi's rule, so a file
        # this writes is one it can run, and no name can end the comment line)
        yield OSDI_TAG + osdi_module(p.name.rsplit("-", 1)[0], f"OSDI module of {p.name!r}")
    yield from lines


def write_netlist(c: Circuit, path: str | os.PathLike[str], temp_c: float | None = None) -> Path:
    """Write atomically; on any error (validation included) no file, and no partial file, remains."""
    with atomic_open(path, encoding="ascii") as f:
        for line in netlist_lines(c, temp_c):
            f.write(line)
            f.write("\n")
    return Path(path)


def netlist_digest(c: Circuit, temp_c: float | None = None) -> str:
    """SHA-256 of the text :func:`write_netlist` would write, without writing it."""
    h = hashlib.sha256()
    for line in netlist_lines(c, temp_c):
        h.update(line.encode("ascii"))
        h.update(b"\n")
    return h.hexdigest()

"""Write netlists to files: streamed line by line, atomically (temp file + rename)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .circuit import Circuit, ngspice_lines

OSDI_TAG = "* pycim-osdi: "


def netlist_lines(c: Circuit, temp_c: float | None = None) -> Iterable[str]:
    """ngspice text of ``c`` with ``* pycim-osdi: <module>`` lines naming the Verilog-A models the
    runner must load (the compiled libraries' paths are machine-specific, so files carry names)."""
    lines = ngspice_lines(c, temp_c=temp_c)
    yield next(lines)  # title
    for p in c.osdi_files:
        module = p.name.rsplit("-", 1)[0]
        yield OSDI_TAG + module
    yield from lines


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], encoding: str = "utf-8"):
    """Open a temp file beside ``path`` for writing; rename it over ``path`` on success, delete
    it on any error, so readers see the old file or the complete new one, never a torn one."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="\n") as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


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


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)

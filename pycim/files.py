"""Files every stage writes and reads: atomic text writes, ``.npy`` inputs.

Atomic writes go through a temp file beside the destination and a rename, so a reader sees the
old file or the complete new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import InputError


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


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)


def load_npy(path: str | Path, what: str) -> np.ndarray:
    """A ``.npy`` array (no pickles), or an :class:`InputError` naming ``what``."""
    p = Path(path)
    if p.exists() and not p.is_file():
        raise InputError(f"{what}: {p} is not a regular file (need a .npy file)")
    if not p.is_file():
        raise InputError(f"{what}: file not found: {p}")
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for a bad file
        raise InputError(f"{what}: cannot read {p} as .npy ({type(exc).__name__}: {exc})") from None
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{what}: {p} holds no array")
    return arr

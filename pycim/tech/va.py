"""Compile Verilog-A sources to OSDI with openvaf-r, cached by content hash.

The cache key hashes the source text, every local file it includes, and the compiler's version
string, so a changed model or compiler can never be served a stale binary. Each entry stores the
SHA-256 of the compiled library beside it; an entry whose bytes no longer match (torn write,
disk corruption, tampering) is rebuilt, never loaded. Writes are atomic (temp file + rename), so
parallel workers may compile the same model at once without tearing each other's output.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from pathlib import Path

from .. import toolchain
from ..errors import CompileError, InputError

_INCLUDE = re.compile(r'^\s*`include\s+"([^"]+)"', re.MULTILINE)


def _source_digest(source: Path, compiler_version: str) -> str:
    h = hashlib.sha256()
    h.update(compiler_version.encode())
    text = source.read_bytes()
    h.update(b"\0" + text)
    for inc in _INCLUDE.findall(text.decode("utf-8", "replace")):
        local = source.parent / inc
        if local.is_file():  # standard headers (constants.vams, ...) belong to the compiler
            h.update(b"\0" + inc.encode() + b"\0" + local.read_bytes())
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def osdi_cache_entry(source: Path) -> Path:
    """Path the compiled OSDI of ``source`` has (or will have) in the cache."""
    key = _source_digest(source, toolchain.openvaf_version())
    return toolchain.cache_dir() / "osdi" / f"{source.stem}-{key[:20]}.osdi"


def _valid(entry: Path) -> bool:
    sidecar = entry.with_suffix(".sha256")
    try:
        return entry.is_file() and sidecar.read_text().strip() == _file_digest(entry)
    except OSError:
        return False


def compile_va(source: str | os.PathLike[str], timeout_s: float = 120.0) -> Path:
    """Return the path of the compiled OSDI library for ``source``, compiling if needed.

    Parameters
    ----------
    source : path
        A Verilog-A file.
    timeout_s : float
        Limit for one openvaf-r run.

    Raises
    ------
    InputError
        ``source`` does not exist.
    CompileError
        openvaf-r failed; the message carries its diagnostics.
    """
    src = Path(source).resolve()
    if not src.is_file():
        raise InputError(f"Verilog-A source not found: {src}")
    entry = osdi_cache_entry(src)
    if _valid(entry):
        return entry
    entry.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=entry.parent, prefix=".build-") as tmp:
        out = Path(tmp) / entry.name
        try:
            proc = subprocess.run(
                [toolchain.openvaf_path(), str(src), "-o", str(out)],
                capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
                env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"},
            )
        except subprocess.TimeoutExpired as exc:
            raise CompileError(f"openvaf-r timed out after {timeout_s} s on {src.name}") from exc
        if proc.returncode != 0 or not out.is_file():
            diag = re.sub(r"\x1b\[[0-9;]*m", "", proc.stderr + proc.stdout).strip()
            raise CompileError(f"openvaf-r failed on {src.name}:\n{diag}")
        digest = _file_digest(out)
        side_tmp = Path(tmp) / "digest"
        side_tmp.write_text(digest + "\n")
        # Library first, digest second: a reader that sees the new digest sees the new library.
        os.replace(out, entry)
        os.replace(side_tmp, entry.with_suffix(".sha256"))
    if not _valid(entry):  # a concurrent writer replaced one half; its pair is complete too
        raise CompileError(f"cache entry {entry} changed while it was written; retry")
    return entry


def circuit_osdi(name: str) -> Path:
    """Compile (or fetch from cache) ``circuits/<name>.va`` and return its OSDI path."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise InputError(f"model name {name!r} is not an identifier")
    return compile_va(toolchain.CIRCUITS_DIR / f"{name}.va")

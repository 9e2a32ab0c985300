"""Files every stage writes and reads: one output-path check, one atomic writer, one lock per
results directory, ``.npy`` inputs.

Every output goes through :class:`OutputFile`: the path is checked (:func:`check_output_path`)
and a temp file beside it is created (reserved) before any work starts; the work writes into
the temp file, and :meth:`OutputFile.commit` renames it over the destination, so a reader sees
the old file or the complete new one, never a torn one, and a refused or failed run leaves
nothing behind. :func:`atomic_open` / :func:`atomic_write_text` are the same writer for files a
stage names itself (results tables, caches).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .errors import InputError

#: file marking a pycim results directory (sha256 of every results file)
MANIFEST = "manifest.json"
#: the ``schema`` of a results directory's manifest (the only one readers accept)
RESULTS_SCHEMA = "pycim.results/1"
#: bytes read at a time when hashing (a large table is never held in memory to hash it)
HASH_CHUNK = 1 << 20
#: lock file of a results directory while a sweep writes it (:class:`DirLock`)
LOCK = ".pycim.lock"
#: NAME_MAX where the file system does not say
DEFAULT_NAME_MAX = 255
#: bytes of a temp name besides the (shortened) final name: "." + "." + 8 random + ".tmp"
_TMP_EXTRA = 1 + 1 + 8 + 4


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def name_max(directory: str | os.PathLike[str]) -> int:
    """Longest file name (bytes) the file system of ``directory`` allows."""
    try:
        return int(os.pathconf(directory, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return DEFAULT_NAME_MAX


def _tmp_prefix(name: str, limit: int) -> str:
    """``.NAME.`` shortened so that the temp name (prefix + 8 random + ``.tmp``) fits ``limit``."""
    room = max(0, limit - _TMP_EXTRA)
    stem = name.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return f".{stem}."


def _is_results_dir(d: Path) -> bool:
    """A pycim results directory: a sweep is writing it (lock file) or it has a pycim manifest."""
    if (d / LOCK).exists():
        return True
    man = d / MANIFEST
    if not man.is_file():
        return False
    try:
        with open(man, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"pycim.results" in head


def _existing_ancestor(p: Path) -> Path:
    q = p
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _inside(child: Path, parent: Path) -> bool:
    c, p = Path(os.path.realpath(child)), Path(os.path.realpath(parent))
    return c == p or p in c.parents


def check_output_path(path: str | os.PathLike[str], what: str,
                      inputs: Iterable[tuple[str, str | os.PathLike[str]]] = (),
                      make_parents: bool = False) -> Path:
    """Refuse (InputError naming ``what``) an output file path that

    * is a directory, or exists and is not a regular file (device node, fifo, socket, /proc);
    * is an input (``inputs``: (argument, path) pairs; same inode or same real path, hard and
      symbolic links included) or lies inside an input directory;
    * lies inside a pycim results directory (its manifest and tables belong to the sweep);
    * has a name longer than the file system allows;
    * has no existing parent directory (unless ``make_parents``).

    Only checks; :class:`OutputFile` also reserves the temp file.
    """
    p = Path(path)
    anc = _existing_ancestor(p.absolute().parent)
    limit = name_max(anc)
    for part in (*p.absolute().parent.relative_to(anc).parts, p.name):
        n = len(part.encode("utf-8", "surrogateescape"))
        if n > limit:
            raise InputError(f"{what}: file name {part[:24]}... is {n} bytes, more than the "
                             f"{limit} the file system allows")
    if str(path) == "" or str(path).endswith(os.sep) or p.is_dir():
        raise InputError(f"{what}: {path} is a directory; give a file name")
    if p.exists():
        mode = os.stat(p).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{what}: {p} exists and is not a regular file (device, fifo, "
                             f"socket or special file system); refusing to replace it")
    for arg, inp in inputs:
        if inp is None:
            continue
        q = Path(inp)
        if q.is_dir():
            if _inside(p.absolute().parent, q):
                raise InputError(f"{what}: {p} is inside the input directory {arg} {q}; "
                                 f"an output never replaces an input")
        elif _same_file(p.absolute(), q.absolute()):
            raise InputError(f"{what}: {p} is the input {arg} {q}; an output never replaces "
                             f"an input")
    parent = Path(os.path.realpath(p.absolute().parent))
    for d in (parent, *parent.parents):
        if d.is_dir() and _is_results_dir(d):
            raise InputError(f"{what}: {p} is inside the results directory {d} (its files "
                             f"belong to the sweep); choose another path")
    if not parent.exists():
        if not make_parents:
            raise InputError(f"{what}: directory {parent} does not exist")
        anc = _existing_ancestor(parent)
        if not anc.is_dir():
            raise InputError(f"{what}: {anc} is not a directory, cannot create {parent}")
    elif not parent.is_dir():
        raise InputError(f"{what}: {parent} is not a directory")
    return p


class OutputFile:
    """An output file reserved before the work: checked (:func:`check_output_path`, or only
    that it is not a special file when ``check=False``), its temp file created beside it now
    (so an unwritable place is refused before the work, not after it); write through
    :meth:`open` / :meth:`write_text`, then :meth:`commit` (rename over the destination) or
    :meth:`discard` (delete the temp file and any directory created for it)."""

    def __init__(self, path: str | os.PathLike[str], what: str = "output",
                 inputs: Iterable[tuple[str, str | os.PathLike[str]]] = (),
                 make_parents: bool = False, check: bool = True) -> None:
        self.path = Path(path)
        self.what = what
        self.mode = 0o666  # permissions before the umask (0o777: an executable script)
        if check:
            check_output_path(path, what, inputs, make_parents)
        elif self.path.exists() and not stat.S_ISREG(os.stat(self.path).st_mode):
            raise InputError(f"{what}: {self.path} exists and is not a regular file; "
                             f"refusing to replace it")
        parent = self.path.absolute().parent
        self._made: list[Path] = []
        missing = []
        q = parent
        while not q.exists() and q != q.parent:
            missing.append(q)
            q = q.parent
        try:
            for d in reversed(missing):
                d.mkdir()
                self._made.append(d)
            fd, tmp = tempfile.mkstemp(dir=parent,
                                       prefix=_tmp_prefix(self.path.name, name_max(parent)),
                                       suffix=".tmp")
        except OSError as exc:
            self._remove_dirs()
            if not check:  # a stage's own file: an environment fault, not bad input
                raise
            raise InputError(f"{what}: cannot create a file in {parent} "
                             f"({exc.strerror or exc})") from None
        os.close(fd)
        self.tmp = Path(tmp)
        self.state = "reserved"

    def open(self, mode: str = "w", encoding: str | None = "utf-8"):
        """The temp file, opened for writing (text: ``\\n`` line ends)."""
        if "b" in mode:
            return open(self.tmp, mode)
        return open(self.tmp, mode, encoding=encoding, newline="\n")

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        with self.open("w", encoding) as f:
            f.write(text)

    def write_bytes(self, data: bytes) -> None:
        with self.open("wb") as f:
            f.write(data)

    def commit(self) -> Path:
        """Rename the temp file over the destination (permissions as a plain ``open``)."""
        if self.state != "reserved":
            raise RuntimeError(f"{self.path}: already {self.state}")
        if self.path.exists() and not stat.S_ISREG(os.stat(self.path).st_mode):
            self.discard()  # became special since the check: never replace it
            raise InputError(f"{self.what}: {self.path} is no longer a regular file; not "
                             f"replaced")
        os.chmod(self.tmp, self.mode & ~_umask())  # mkstemp creates 0600
        os.replace(self.tmp, self.path)
        self.state = "committed"
        return self.path

    def discard(self) -> None:
        if self.state == "reserved":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)
            self._remove_dirs()
            self.state = "discarded"

    def _remove_dirs(self) -> None:
        for d in reversed(self._made):
            with contextlib.suppress(OSError):
                d.rmdir()  # only if still empty
        self._made = []


class Outputs:
    """Every output of one command, reserved in its argument phase, committed together after
    the work or all discarded (``with Outputs() as outs: ...``: discarded on any exception,
    Ctrl-C included, if not committed)."""

    def __init__(self, inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = ()) -> None:
        self.inputs = [(a, p) for a, p in inputs if p is not None]
        self.files: list[OutputFile] = []

    def file(self, path, what: str, make_parents: bool = False) -> OutputFile:
        for o in self.files:
            if _same_file(Path(path).absolute(), o.path.absolute()):
                raise InputError(f"{what}: {path} is also {o.what}; give two different files")
        o = OutputFile(path, what, self.inputs, make_parents)
        self.files.append(o)
        return o

    def commit(self) -> list[Path]:
        return [o.commit() for o in self.files]

    def discard(self) -> None:
        for o in reversed(self.files):
            o.discard()

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()  # no-op for committed files


def check_output_dir(path: str | os.PathLike[str], what: str,
                     inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = ()) -> Path:
    """An output directory may be missing (it is created), but it must not be a file, not be
    (or lie inside, or contain) an input, and its nearest existing ancestor must be a writable
    directory."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{what}: {p} exists and is not a directory")
    for arg, inp in inputs:
        if inp is None:
            continue
        q = Path(inp)
        if q.exists() and (_inside(p, q) or _inside(q, p)):
            raise InputError(f"{what}: {p} overlaps the input {arg} {q}; an output never "
                             f"replaces an input")
    q = _existing_ancestor(p.absolute())
    if not q.is_dir():
        raise InputError(f"{what}: {q} is not a directory, cannot create {p}")
    if not os.access(q, os.W_OK | os.X_OK):
        raise InputError(f"{what}: directory {q} is not writable")
    limit = name_max(q)
    for part in p.absolute().parts:
        if len(part.encode("utf-8", "surrogateescape")) > limit:
            raise InputError(f"{what}: a path component is longer than the {limit} bytes the "
                             f"file system allows")
    return p


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], encoding: str = "utf-8", mode: str = "w"):
    """Open a temp file beside ``path`` (parents created) for writing; rename it over ``path``
    on success, delete it on any error. Never replaces a special file (device node, fifo)."""
    out = OutputFile(path, str(path), make_parents=True, check=False)
    try:
        with out.open(mode, None if "b" in mode else encoding) as f:
            yield f
        out.commit()
    finally:
        out.discard()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, mode="wb") as f:
        f.write(data)
    return Path(path)


class DirLock:
    """One writer per directory: an exclusive ``flock`` on ``DIR/.pycim.lock``, taken without
    waiting (a second writer is refused with an InputError naming the holder's pid) and
    released, with the lock file removed, on exit."""

    def __init__(self, directory: str | os.PathLike[str], what: str = "--out") -> None:
        self.dir = Path(directory)
        self.what = what
        self._fd: int | None = None

    def _busy(self, holder: str) -> InputError:
        return InputError(f"{self.what}: {self.dir} is being written by another pycim process "
                          f"(pid {holder or '?'}); wait for it or choose another directory")

    def check_free(self) -> None:
        """Refuse (the same InputError as :meth:`acquire`) a directory another process holds,
        without taking the lock or creating anything."""
        try:
            fd = os.open(self.dir / LOCK, os.O_RDONLY)
        except OSError:
            return  # no lock file: nobody holds it
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                    raise self._busy(os.pread(fd, 64, 0).decode("ascii", "replace").strip()
                                     ) from None
                raise
        finally:
            os.close(fd)

    def acquire(self) -> DirLock:
        path = self.dir / LOCK
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                try:
                    holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
                finally:
                    os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                    raise self._busy(holder) from None
                raise
            try:  # the holder may have removed the file between our open and flock
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.dir / LOCK)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


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


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file, read in :data:`HASH_CHUNK` pieces (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(out: str | os.PathLike[str], files) -> Path:
    """``manifest.json``: sha256 and size of every results file, so readers can refuse a torn or
    edited table instead of loading it (:func:`verify_manifest`)."""
    entries = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
               for p in sorted(Path(f) for f in files) if p.name != MANIFEST}
    return atomic_write_text(Path(out) / MANIFEST,
                             json.dumps({"schema": RESULTS_SCHEMA, "files": entries},
                                        indent=1, sort_keys=True) + "\n")


def verify_manifest(directory: str | os.PathLike[str], error: type[Exception] = InputError,
                    rerun: str = "rerun the sweep") -> dict[str, Path]:
    """Check a results directory against its ``manifest.json``; return {name: path} of the
    files it lists. Refused (``error``, naming the file): no directory or manifest, a manifest
    that is not JSON, has another ``schema`` than :data:`RESULTS_SCHEMA` or a malformed entry,
    a listed file that is missing, not a regular file, a symbolic link (its content could
    change behind the manifest, or lie outside the directory) or whose size or sha256 differs.
    ``rerun`` ends each message (how to regenerate the directory)."""
    d = Path(directory)
    man = d / MANIFEST
    if not d.is_dir():
        raise error(f"results directory not found: {d}")
    if man.is_symlink():
        raise error(f"{man}: is a symbolic link (a results directory holds its own files); "
                    f"{rerun}")
    if not man.is_file():
        raise error(f"{d}: no {MANIFEST} (not a pycim results directory, or its writer did "
                    f"not finish); {rerun}")
    try:
        doc = json.loads(man.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise error(f"{man}: unreadable manifest ({str(exc).splitlines()[0]}); {rerun}"
                    ) from None
    entries = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise error(f"{man}: malformed manifest (need an object with a 'files' object); {rerun}")
    if doc.get("schema") != RESULTS_SCHEMA:
        raise error(f"{man}: manifest schema {doc.get('schema')!r}, expected "
                    f"{RESULTS_SCHEMA!r} (not a pycim results manifest, or another version's); "
                    f"{rerun}")
    out = {}
    for name, meta in sorted(entries.items()):
        if (Path(name).name != name or name in (".", "..", MANIFEST)
                or not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str)
                or isinstance(meta.get("bytes"), bool) or not isinstance(meta.get("bytes"), int)):
            raise error(f"{man}: malformed entry {name!r}; {rerun}")
        p = d / name
        if p.is_symlink():
            raise error(f"{p}: listed in {MANIFEST} but a symbolic link (to "
                        f"{os.readlink(p)}); results files must be regular files in {d}")
        if not p.is_file():
            raise error(f"{p}: listed in {MANIFEST} but missing (or not a regular file); "
                        f"{rerun}")
        if p.stat().st_size != meta["bytes"] or sha256_file(p) != meta["sha256"]:
            raise error(f"{p}: checksum mismatch (truncated or altered); {rerun}")
        out[name] = p
    return out

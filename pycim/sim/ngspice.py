"""ngspice engine: batch subprocess, binary raw output, OSDI models, KLU by default.

Chosen over PySpice's shared-library route by measurement (see the issue note and
``benchmarks/``): a subprocess costs ~20 ms per run, isolates crashes and memory, and is killed
cleanly on timeout, which the in-process library cannot offer.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import toolchain
from ..errors import ConvergenceError, InputError
from ..netlist.circuit import Circuit, ngspice_lines
from ..validate import fmt
from ._proc import classify_failure, run_simulator
from .analyses import Analysis, Dc, Op, Tran
from .rawfile import read_raw
from .result import SimResult

_CONTROL = re.compile(r"^\s*\.(control|endc|end)\b", re.IGNORECASE | re.MULTILINE)


def analysis_command(a: Analysis) -> str:
    if isinstance(a, Op):
        return "op"
    if isinstance(a, Dc):
        return f"dc {a.source} {fmt(a.start)} {fmt(a.stop)} {fmt(a.step)}"
    if isinstance(a, Tran):
        tmax = a.max_step_s if a.max_step_s is not None else a.step_s
        return f"tran {fmt(a.step_s)} {fmt(a.stop_s)} 0 {fmt(tmax)}"
    raise InputError(f"unknown analysis {a!r}")


#: Options of the one retry after non-convergence.
RESCUE_OPTIONS = {"itl1": 500, "itl2": 200, "itl4": 100, "gminsteps": 20, "srcsteps": 20,
                  "rshunt": 1e12}


def _save_lines(save: Sequence[str]) -> list[str]:
    """``save`` commands for node names and ``i(<source>)`` currents (validated), 200 per line.

    Only the saved vectors are kept in memory and written: a 256-neuron MVM transient otherwise
    stores every unknown at every time point."""
    from ..validate import ident, node

    items = []
    for name in dict.fromkeys(save):
        m = re.fullmatch(r"i\((\w+)\)", name)
        items.append(f"{ident(m.group(1), 'saved current')}#branch" if m else node(name, "saved node"))
    return [f"save {' '.join(items[k:k + 200])}" for k in range(0, len(items), 200)]


def _tagged_osdi(lines: list[str]) -> list[Path]:
    """Compile the models a netlist file names in ``* pycim-osdi: <module>`` lines."""
    from ..netlist.writer import OSDI_TAG
    from ..tech.va import circuit_osdi

    return [circuit_osdi(ln[len(OSDI_TAG):].strip()) for ln in lines if ln.startswith(OSDI_TAG)]


@dataclass(frozen=True)
class NgspiceEngine:
    """Run circuits in ngspice.

    Parameters
    ----------
    timeout_s : float
        Wall-clock limit of one run; the process group is killed past it.
    klu : bool
        Use the KLU sparse solver (default) instead of ngspice's Sparse 1.3.
    options : mapping
        Extra ``.options`` (name -> value or None for a flag), e.g. ``{"reltol": 1e-6}``.
    threads : int
        OpenMP threads for OSDI device evaluation. 1 by default: measured on a 2-core machine,
        ngspice's default thread pool made a 3 k-step RRAM transient 24x slower (1.08 s vs
        0.045 s) through futex contention.
    """

    timeout_s: float = 600.0
    klu: bool = True
    options: Mapping[str, float | None] = field(default_factory=dict)
    threads: int = 1
    retry: bool = True
    gear: bool = False
    name: str = "ngspice"

    def deck(self, circuit: Circuit | str, analysis: Analysis, *, temp_c: float | None = None,
             osdi: Sequence[Path] = (), raw_path: str = "out.raw",
             save: Sequence[str] | None = None, osdi_names: Mapping[str, str] | None = None,
             extra: Sequence[str] = ()) -> str:
        """The complete input deck: circuit, options and a generated ``.control`` block.

        ``osdi_names`` maps an OSDI library's resolved path to the name written in its
        ``pre_osdi`` line instead (a file beside the deck: stand-alone decks); ``extra`` are
        generator-written control commands run after the analysis (e.g. ``print``)."""
        opts = dict(self.options)
        if self.klu:
            opts["klu"] = None
        if isinstance(circuit, Circuit):
            body = "\n".join(ngspice_lines(circuit, options=opts, temp_c=temp_c))
            osdi = [*circuit.osdi_files, *osdi]
        else:
            if _CONTROL.search(circuit):
                raise InputError("netlist text must not contain .control/.endc/.end; "
                                 "the engine adds them")
            extra = [".options " + " ".join(k if v is None else f"{k}={fmt(v)}"
                                             for k, v in sorted(opts.items()))] if opts else []
            if temp_c is not None:
                extra.append(f".temp {fmt(temp_c)}")
            lines = circuit.rstrip("\n").split("\n")
            body = "\n".join([lines[0], *extra, *lines[1:]])
            osdi = [*_tagged_osdi(lines), *osdi]
        if not (isinstance(self.threads, int) and 1 <= self.threads <= 256):
            raise InputError(f"threads must be an integer in 1..256, got {self.threads!r}")
        ctl = [".control", "set noaskquit", f"set num_threads={self.threads}",
               "set filetype=binary"]
        if self.gear:
            ctl.append("option method=gear")
        for p in dict.fromkeys(str(Path(x).resolve()) for x in osdi):
            if osdi_names is not None:
                p = osdi_names[p]
            if '"' in p or "\n" in p or " " in p:
                raise InputError(f"OSDI path {p!r} cannot be written into a deck")
            ctl.append(f"pre_osdi {p}")
        if save is not None:
            ctl += _save_lines(save)
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", raw_path):
            raise InputError(f"raw file name {raw_path!r}: letters, digits, . _ - only")
        ctl += [analysis_command(analysis), f"write {raw_path}", *extra, ".endc", ".end", ""]
        return body + "\n" + "\n".join(ctl)

    def run(self, circuit: Circuit | str, analysis: Analysis, *, temp_c: float | None = None,
            osdi: Sequence[Path] = (), save: Sequence[str] | None = None) -> SimResult:
        """Simulate and return the vectors of ``analysis``.

        On non-convergence the run is retried once with :data:`RESCUE_OPTIONS` (more Newton
        iterations, gmin and source stepping, Gear integration for transients); the result
        records ``retried=True`` in its log header. A second failure raises.

        Raises
        ------
        ConvergenceError, SimulationTimeout, SimulatorCrash, SimulationError
            with the relevant ngspice log lines attached (both attempts for ConvergenceError).
        """
        try:
            return self._run_once(circuit, analysis, temp_c, osdi, save)
        except ConvergenceError as first:
            if not self.retry:
                raise
            eng = replace(self, options={**self.options, **RESCUE_OPTIONS}, retry=False,
                          gear=isinstance(analysis, Tran))
            try:
                res = eng._run_once(circuit, analysis, temp_c, osdi, save)
            except ConvergenceError as second:
                raise ConvergenceError(
                    f"{self.name}: no convergence, also after a retry with gmin/source stepping",
                    f"first attempt:\n{first.log}\nretry:\n{second.log}") from None
            res.log = "pycim: retried with rescue options after non-convergence\n" + res.log
            return res

    def _run_once(self, circuit, analysis, temp_c, osdi, save) -> SimResult:
        exe = toolchain.ngspice_path()
        with tempfile.TemporaryDirectory(prefix="pycim-ng-") as tmp:
            tmpd = Path(tmp)
            (tmpd / "deck.cir").write_text(self.deck(circuit, analysis, temp_c=temp_c, osdi=osdi,
                                                     save=save))
            env = {**os.environ, "HOME": tmp}  # ignore a user's ~/.spiceinit
            log, elapsed = run_simulator([exe, "-b", "deck.cir"], tmpd, self.timeout_s,
                                         self.name, env)
            raw = tmpd / "out.raw"
            classify_failure(log, self.name, True, raw.is_file() and raw.stat().st_size > 0)
            plots = read_raw(raw)
        if not plots:
            classify_failure(log, self.name, False, False)
        kind = type(analysis).__name__.lower()
        return SimResult.from_raw(kind, self.name, plots[-1][1], log, elapsed)

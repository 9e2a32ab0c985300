"""Simulation engines behind one interface: ``engine.run(circuit, analysis) -> SimResult``."""

from .analyses import Dc, Op, Tran
from .ngspice import NgspiceEngine
from .result import SimResult
from .vacask import VacaskEngine


#: Newton tolerances for device characterization. ngspice's defaults (reltol 1e-3, abstol 1e-12)
#: accept a DC-sweep point after one linearized step: measured 4.5e-4 relative error in a 1 uS
#: cell's current at 10 mV. These bring the same sweep to machine precision (2.5e-16).
PRECISE_OPTIONS = {"reltol": 1e-6, "abstol": 1e-18}


def get_engine(name: str, **kwargs):
    """Engine by name: ``ngspice`` (alias ``spice``) or ``vacask``."""
    from ..errors import InputError

    if name in ("ngspice", "spice"):
        return NgspiceEngine(**kwargs)
    if name == "vacask":
        return VacaskEngine(**kwargs)
    raise InputError(f"--engine must be one of spice, ngspice, vacask; got {name!r}")


__all__ = ["PRECISE_OPTIONS", "Dc", "NgspiceEngine", "Op", "SimResult", "Tran", "VacaskEngine", "get_engine"]

"""Simulation engines behind one interface: ``engine.run(circuit, analysis) -> SimResult``."""

from .analyses import Dc, Op, Tran
from .ngspice import NgspiceEngine
from .result import SimResult
from .vacask import VacaskEngine


def get_engine(name: str, **kwargs):
    """Engine by name: ``ngspice`` (alias ``spice``) or ``vacask``."""
    from ..errors import InputError

    if name in ("ngspice", "spice"):
        return NgspiceEngine(**kwargs)
    if name == "vacask":
        return VacaskEngine(**kwargs)
    raise InputError(f"--engine must be one of spice, ngspice, vacask; got {name!r}")


__all__ = ["Dc", "NgspiceEngine", "Op", "SimResult", "Tran", "VacaskEngine", "get_engine"]

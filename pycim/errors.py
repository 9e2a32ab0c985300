"""Typed errors. Every error a user can cause or hit carries a one-line message."""

from __future__ import annotations


class PycimError(Exception):
    """Base class of all pycim errors."""


class InputError(PycimError, ValueError):
    """A user-supplied value (argument, file, spec field) is invalid.

    The message names the argument and the allowed range.
    """


class ToolMissingError(PycimError):
    """A required external tool (ngspice, openvaf-r, VACASK, PDK) is not installed."""


class CompileError(PycimError):
    """openvaf-r failed to compile a Verilog-A source."""


class SimulationError(PycimError):
    """A simulation failed. ``log`` holds the relevant simulator lines."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message if not log else f"{message}\n{log}")
        self.summary = message
        self.log = log


class ConvergenceError(SimulationError):
    """The simulator did not converge (op, dc step or transient time step)."""


class SimulationTimeout(SimulationError):
    """The simulator ran longer than the allowed time and was killed."""


class SimulatorCrash(SimulationError):
    """The simulator process died (signal, abort, missing output)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the work stops, temp files and simulators are cleaned up."""


class SettlingWarning(UserWarning):
    """A read pulse too short for the array's slowest sensed line to settle (the held value,
    hence the codes, then miss the closed form; lengthen ``--read-pulse-s``)."""


class MetastableWarning(UserWarning):
    """A latch sampled between logic levels at its read time: its input (a comparator residue)
    lay within what the latch resolves in its decision time. The flow reads it as a CMOS gate
    at vdd / 2 would; the code can then differ by one step from a longer decision."""

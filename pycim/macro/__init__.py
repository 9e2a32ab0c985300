"""Numpy macro-model of NeuRRAM cores: the fitted compact model (:class:`MacroModel`), one
core (:class:`Core`) and the 48-core chip with layer mapping (:class:`Chip`)."""

from .model import MacroModel, OutOfRangeWarning
from .core import Calibration, Core, MvmResult
from .chip import N_CORES, Chip, software_forward
from .layers import Conv2d, Dense, quantize

__all__ = ["Calibration", "Chip", "Conv2d", "Core", "Dense", "MacroModel", "MvmResult", "N_CORES",
           "OutOfRangeWarning", "quantize", "software_forward"]

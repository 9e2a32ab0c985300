"""Cell measurements: I-V curves and the state after each programming pulse."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..netlist.testbench import PulseTrain
from ..sim.result import SimResult
from ..tech.rram import DEFAULT_PARAMS
from .waveform import sample


@dataclass(frozen=True)
class PulseResponse:
    """State read after each pulse of a train."""

    amplitudes_v: np.ndarray
    gap_m: np.ndarray  # gap at each read
    g_read_s: np.ndarray  # cell chord conductance I/V(te) at each read
    v_cell_v: np.ndarray  # cell voltage during each read (v_read minus the series-R drop)


def pulse_response(res: SimResult, train: PulseTrain, gap_init_m: float) -> PulseResponse:
    """Gap (internal node ``n1.gx``) and read conductance (cell current / cell voltage)."""
    t = res["time"]
    at = train.read_times_s()
    # the state node may sit up to gap_win beyond a bound; the equations see the bound
    p = DEFAULT_PARAMS
    gap = np.clip(gap_init_m + 1e-9 * sample(t, res["n1.gx"], at), p.gap_min_m, p.gap_max_m)
    i_cell = -sample(t, res["i(v1)"], at)
    v_cell = sample(t, res["te"], at)
    return PulseResponse(np.asarray(train.amplitudes_v), gap, i_cell / v_cell, v_cell)

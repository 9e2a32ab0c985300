"""The partitioned flow's array stage for one vector, for the benchmarks that read its nodes.

:mod:`pycim.flows.partition` runs an MVM as the array stage (the whole core with each neuron's
track/hold front end: SKY130 drivers and access FETs, RRAM read model, wire R/C) and then the
neurons in banks. ``benchmarks/hold_pedestal.py`` and ``benchmarks/read_settling_core.py`` read
the array stage's sensed lines and hold nodes directly; this runs it for them, as the flow
builds it, with the MVM's simulator options.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArrayStage:
    """One run: time points (s), every sensed line and every hold node (V; rows on ``t``),
    the schedule and neuron spec of the request, the front ends it carried ("front" or
    "front_sampling") and the simulator's wall time (s)."""

    t: np.ndarray
    lines: np.ndarray
    holds: np.ndarray
    schedule: object
    spec: object
    neuron_part: str
    wall_s: float


def problem_request(n_in: int, n_out: int, direction: str, seed: int, seg: int = 32,
                    density: float = 1.0, **kw):
    """A 4-bit / 6-bit partitioned request on :func:`pycim.characterize.kinds_fit.problem`'s
    weights and inputs for ``seed`` (wire R/C in ``seg``-cell segments); ``kw`` go to
    :class:`~pycim.cim.request.MvmRequest` (e.g. ``read_pulse_s``, ``corner``, ``temp_c``)."""
    from pycim.characterize.kinds_fit import problem
    from pycim.cim.request import MvmRequest

    w, x = problem({"n_in": n_in, "n_out": n_out, "in_bits": 4, "w_scale": 1.0, "batch": 1,
                    "seed": seed, "direction": direction, "density": density})
    return MvmRequest(w, x, 4, 6, seed=seed, direction=direction, partition=True,
                      wire_segment_cells=seg, **kw)


def run_array_stage(req, t_stop_s: float | None = None, step_s: float = 1e-9,
                    setup=None) -> ArrayStage:
    """The array stage of ``req``'s first vector until ``t_stop_s`` (default: the whole MVM),
    with the front ends the flow would give it (the sampling switches too when the lines miss
    settling, :func:`pycim.flows.partition.settling_miss`). ``setup``: ``req``'s
    :func:`pycim.netlist.mvm_deck.mvm_setup`, if the caller has it already."""
    from pycim.flows.mvm import MVM_TIMEOUT_S, mvm_options
    from pycim.flows.partition import Partition, settling_miss
    from pycim.netlist.mvm_deck import mvm_deck, mvm_setup, saved_vectors
    from pycim.sim import NgspiceEngine, Tran

    setup = mvm_setup(req) if setup is None else setup
    sched, spec = setup.schedule, setup.neuron
    part = Partition()
    miss = settling_miss(req, setup, spec.t_edge_s)
    core = mvm_deck(req, setup, 0,
                    neuron_part="front_sampling" if miss > part.sampling_miss else "front")
    eng = NgspiceEngine(timeout_s=MVM_TIMEOUT_S, options=mvm_options(spec, sched))
    t0 = time.perf_counter()
    res = eng.run(core.circuit, Tran(step_s, sched.t_stop if t_stop_s is None else t_stop_s,
                                     part.array_max_step_s),
                  temp_c=req.temp_c, save=saved_vectors(core))
    wall = time.perf_counter() - t0
    return ArrayStage(np.asarray(res["time"], dtype=float),
                      np.array([np.asarray(res[n], dtype=float) for n in core.spec.neuron_lines]),
                      np.array([np.asarray(res[n], dtype=float) for n in core.holds]),
                      sched, spec, core.spec.neuron_part, wall)

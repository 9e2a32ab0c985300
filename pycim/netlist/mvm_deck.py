"""The MVM transient deck of one input vector: the request's core (:func:`mvm_core_spec`, the
one assembler) with the MVM stimulus on top. Used by ``pycim mvm`` (:mod:`pycim.flows.mvm`) and
by ``pycim netlist core --weights ... --x ...`` (a deck a user runs in their own ngspice)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import assumptions
from ..cim.encoding import line_planes
from ..cim.mapping import physical_conductances
from ..cim.request import MvmProblem, MvmRequest, prepare
from ..specs.schedule import Schedule
from .circuit import VSource
from .core import CoreCircuit, assemble_core, mvm_core_spec, mvm_neuron_spec
from .neuron import NeuronSpec, mvm_schedule
from .stimulus import add_dc_stimulus, add_mvm_stimulus


@dataclass(frozen=True)
class MvmSetup:
    """What every vector's deck of one request shares: the programmed problem, the physical
    conductances, the neuron spec and its schedule, the line-referred LSB."""

    problem: MvmProblem
    g_phys: np.ndarray
    neuron: NeuronSpec
    schedule: Schedule
    lsb_v: float
    v_read_v: float


def mvm_setup(req: MvmRequest) -> MvmSetup:
    spec = mvm_neuron_spec(req)
    sched = mvm_schedule(spec, req.in_bits, req.out_bits)
    v_read = assumptions.value("v_read_v")
    lsb_line = spec.lsb_v(req.out_bits) / spec.gain  # line-referred integrated volts per code
    pb = prepare(req, lsb_line, v_read)
    g_phys = physical_conductances(pb.prog.g_pos_s, pb.prog.g_neg_s, req.mapping)
    return MvmSetup(pb, g_phys, spec, sched, lsb_line, v_read)


def mvm_deck(req: MvmRequest, setup: MvmSetup, vector: int) -> CoreCircuit:
    """The transient deck for input vector ``vector`` of ``req`` (its core, then its stimulus)."""
    core = assemble_core(mvm_core_spec(req, setup.g_phys),
                         title=f"pycim mvm {setup.g_phys.shape[0]}x{setup.g_phys.shape[1]} "
                               f"{req.direction} vector {vector}")
    planes = setup.problem.planes[vector]
    add_mvm_stimulus(core, line_planes(planes, req.direction, req.mapping), setup.schedule)
    return core


def mvm_dc_deck(req: MvmRequest, setup: MvmSetup) -> CoreCircuit:
    """The request's core with DC controls (drive lines at Vref, sensed lines floating, WLs on,
    neurons in reset): the core ``pycim mvm`` simulates, as an operating-point deck."""
    core = assemble_core(mvm_core_spec(req, setup.g_phys),
                         title=f"pycim mvm core {setup.g_phys.shape[0]}x{setup.g_phys.shape[1]} "
                               f"{req.direction} (DC)")
    add_dc_stimulus(core, sched=setup.schedule)
    return core


def saved_vectors(core: CoreCircuit) -> list[str]:
    """What measurement needs from an MVM transient: sensed lines, neuron outputs and latches,
    DAC references (for plots), and every source's terminals and current (energy)."""
    spec = core.spec.neuron
    out = []
    for nd in core.neurons:
        out += [nd.line, nd.hold, nd.out, nd.q, nd.qb] + ([nd.sign_q] if nd.sign_q else [])
    out += [spec.net("vdacp"), spec.net("vdacn")]
    for e in core.circuit.iter_elements():
        if isinstance(e, VSource):
            out += [n for n in (e.np_, e.nn) if n != "0"] + [f"i({e.name.lower()})"]
    return out

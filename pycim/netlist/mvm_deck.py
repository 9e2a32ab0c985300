"""The MVM transient deck of one input vector: the request's core (:func:`mvm_core_spec`, the
one assembler) with the MVM stimulus on top. Used by ``pycim mvm`` (:mod:`pycim.flows.mvm`) and
by ``pycim netlist core --weights ... --x ...`` (a deck a user runs in their own ngspice)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import __version__, assumptions
from ..cim.encoding import line_planes
from ..cim.mapping import physical_conductances
from ..cim.request import MvmProblem, MvmRequest, prepare
from ..specs.schedule import Schedule
from ..errors import InputError
from .circuit import Circuit, VSource
from .core import CoreCircuit, assemble_core, core_digest, mvm_core_spec, mvm_neuron_spec
from .neuron import NeuronSpec, add_neuron, add_neuron_bias, mvm_schedule
from .stimulus import (add_dc_stimulus, add_line_sources, add_mvm_stimulus,
                       add_schedule_stimulus, mark_stimulus)


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


def mvm_deck(req: MvmRequest, setup: MvmSetup, vector: int,
             neuron_part: str = "full") -> CoreCircuit:
    """The transient deck for input vector ``vector`` of ``req`` (its core, then its stimulus).
    ``neuron_part="front"`` / ``"front_sampling"``: the array stage of a partitioned MVM (each
    neuron only its track switch and hold capacitor, and C_sample's top-plate switches, with
    only their clocks; :mod:`pycim.flows.partition`)."""
    spec = replace(mvm_core_spec(req, setup.g_phys), neuron_part=neuron_part)
    stage = "" if neuron_part == "full" else " array stage"
    core = assemble_core(spec, title=f"pycim mvm {setup.g_phys.shape[0]}x{setup.g_phys.shape[1]} "
                                     f"{req.direction} vector {vector}{stage}")
    planes = setup.problem.planes[vector]
    add_mvm_stimulus(core, line_planes(planes, req.direction, req.mapping), setup.schedule)
    return core


def neuron_bank_deck(req: MvmRequest, setup: MvmSetup, vector: int,
                     line_pwl: dict[str, tuple]) -> CoreCircuit:
    """The neuron stage of a partitioned MVM: the neurons of the request's core on the lines
    of ``line_pwl`` (line -> PWL points recorded by the array stage), each line put at its
    waveform by an ideal source (group ``interface``), with the supplies, one bias generator
    and the schedule's sources. Neurons and their elements carry the names of the full deck
    (``n<k>_`` for the k-th sensed neuron line), so Monte Carlo mismatch draws the same
    shifts."""
    spec = mvm_core_spec(req, setup.g_phys)
    nspec = spec.neuron
    index = {ln: k for k, ln in enumerate(spec.neuron_lines)}
    unknown = [ln for ln in line_pwl if ln not in index]
    if unknown or not line_pwl:
        raise InputError(f"a neuron bank needs sensed neuron lines, got {list(line_pwl)[:4]}")
    c = Circuit(f"pycim mvm {setup.g_phys.shape[0]}x{setup.g_phys.shape[1]} {req.direction} "
                f"vector {vector} neuron bank {list(line_pwl)[0]}..{list(line_pwl)[-1]}",
                header=(f"pycim {__version__} neuron stage of core spec sha256 "
                        f"{core_digest(spec)}",))
    c.add(VSource("VDD", "vdd", "0", dc_v=spec.vdd_v),
          VSource("VREF", "vref", "0", dc_v=spec.v_ref_v))
    groups = {"vdd": "neuron", "vref": "neuron"}
    bias = add_neuron_bias(c, nspec, len(line_pwl), core_neurons=len(spec.neuron_lines))
    nodes = [add_neuron(c, nspec, f"n{index[ln]}_", ln, bias=bias) for ln in line_pwl]
    core = CoreCircuit(c, spec, groups, nodes)
    mark_stimulus(core)
    add_line_sources(core, line_pwl)
    add_schedule_stimulus(core, setup.schedule)
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
    DAC references (for plots), the neurons' bias net, and every source's terminals and
    current (energy). An array stage (``neuron_part="front"``): its sensed neuron lines, hold
    nodes and sources."""
    spec = core.spec.neuron
    out = []
    if core.spec.neuron_part != "full":  # a partitioned MVM's array stage: lines and holds
        out += core.spec.neuron_lines + core.holds
    else:
        for nd in core.neurons:
            out += [nd.line, nd.hold, nd.out, nd.q, nd.qb] + ([nd.sign_q] if nd.sign_q else [])
        out += [spec.net("vdacp"), spec.net("vdacn"), spec.bias_net]
    for e in core.circuit.iter_elements():
        if isinstance(e, VSource):
            out += [n for n in (e.np_, e.nn) if n != "0"] + [f"i({e.name.lower()})"]
    return out

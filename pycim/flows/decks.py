"""``pycim netlist ... -o FILE [--standalone]``: write a netlist, or a deck stock ngspice runs.

A plain netlist names its Verilog-A models in ``* pycim-osdi:`` lines (pycim's runner loads
them). A stand-alone deck (:func:`pycim.sim.standalone.write_standalone`) carries its OSDI
libraries, their sources and a generated ``.control`` block: ``.op`` for cell, array and core
decks (printing the sensed line ports; a core's with ``.options noopiter``, as ``pycim mvm``'s
transients: :data:`~pycim.flows.mvm.OP_OPTIONS`), or, for a core with ``--weights`` and ``--x``, the MVM
transient ``pycim mvm`` runs, with the same options, writing the sensed-line, neuron-output and
latch waveforms to ``NAME.raw``.
"""

from __future__ import annotations

from pathlib import Path

from ..netlist.mvm_deck import saved_vectors
from ..netlist.reference import NetlistRequest
from ..sim import Op, Tran
from ..sim.standalone import deck_name, write_standalone
from .mvm import OP_OPTIONS, max_step_s, mvm_options


def printed_nodes(req: NetlistRequest) -> list[str]:
    """Nodes a generated operating-point deck prints: the cell's terminals, or the sensed line
    ports (a core with ``--weights``: its own sensed lines, see :func:`deck_circuit`)."""
    if req.kind == "cell":
        return ["bl0", "sl0"]
    if req.kind == "array" or req.direction == "forward":
        return [f"sl{c}" for c in range(req.cols)]
    return [f"bl{r}" for r in range(req.rows)]


def deck_circuit(req: NetlistRequest):
    """(circuit, analysis, keyword arguments of write_standalone) of ``req``'s stand-alone deck;
    the core of a ``--weights`` request is assembled once."""
    if req.weights is not None:
        core, setup = req.mvm_core()
        if req.x is not None:
            sched = setup.schedule
            return core.circuit, Tran(1e-9, sched.t_stop, max_step_s(setup.neuron, sched)), {
                "save": saved_vectors(core), "options": mvm_options(setup.neuron, sched)}
        return core.circuit, Op(), {"prints": core.spec.sense_lines, "options": OP_OPTIONS}
    # a core's operating point: straight to gmin stepping (OP_OPTIONS; its direct Newton solve
    # does not converge, the neurons' amplifiers in their auto-zero loops), 3.6x faster at
    # 128 x 128 (benchmarks/core_op.py)
    kw = {"options": OP_OPTIONS} if req.kind == "core" else {}
    return req.circuit(), Op(), {"prints": printed_nodes(req), **kw}


def write_deck(req: NetlistRequest, out: str | Path, standalone: bool = False,
               reserved=None, prepared=None) -> list[Path]:
    """Write ``req``'s netlist (or stand-alone deck) to ``out``; return the paths written.
    ``reserved``/``prepared``: the command's reservations (:func:`reserve_standalone`) and the
    :func:`deck_circuit` it built for them."""
    if not standalone:
        return [req.write(out)]
    deck_name(out)  # refuse a bad name before any work
    circuit, analysis, kw = prepared if prepared is not None else deck_circuit(req)
    return write_standalone(circuit, analysis, out, temp_c=req.temp_c, reserved=reserved, **kw)

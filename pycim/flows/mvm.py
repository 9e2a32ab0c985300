"""``pycim mvm``: one core MVM at transistor level, from weights and inputs to output codes.

Forward (W x): inputs drive the bit-lines (rows; G+ on row 2i, G- on row 2i+1, see
:mod:`pycim.cim.mapping`), every source-line floats and is sensed by a neuron. Backward (W^T x)
drives the source-lines of the same programmed array and senses the bit-line pairs: output i is
the difference of the neurons on rows 2i and 2i+1 (each row normalised by its own conductance
sum, so it is not forward on W^T). With ``mapping="transposable"`` each weight takes a 2x2 block
(:func:`pycim.cim.mapping.transposable_blocks`): rows and columns are both differential pairs and
backward on W is forward on W^T (4 cells per weight instead of 2).

Per input magnitude bit plane n (LSB first) the drivers put Vref + Vread (bit set, x > 0),
Vref - Vread (bit set, x < 0) or Vref (bit clear) on every driven line for 2^(n-1) input windows
of the neuron's schedule (:func:`pycim.netlist.neuron.mvm_schedule`); between windows they hold
Vref. Word-lines pulse high during each window. The sensed lines' own drivers hold them at Vref
between windows and let them float during a window. The sensed lines float and settle to the
conductance-weighted average; the neuron samples, integrates and converts them.

Energy is the time integral of V*I of every source in the circuit, grouped by what it powers:
``array`` (input rails or ideal row sources: the energy that flows through the cells),
``drivers`` (gate controls of the driver switches), ``wordlines`` (WL rail and WL controls),
``neuron`` (supply, reference, clocks and DAC references of the neurons).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from tqdm import tqdm

from .. import __version__
from ..cim.closed_form import pair_difference
from ..cim.request import MvmRequest, check_settling, partitioned, phase_keys, run_two_phase
from ..errors import InputError, SettlingWarning
from ..measure.energy import energy_by_group
from ..measure.neuron import line_drift_v_per_s, read_neuron, settled_lines_v
from ..netlist.mismatch import apply_mismatch
from ..netlist.mvm_deck import mvm_deck, mvm_setup, saved_vectors
from ..netlist.neuron import conversion_bits, integration_steps
from ..sim import NgspiceEngine, Tran, get_engine
from .partition import Partition, run_vector

#: Largest transient step where the LSB allows (:func:`max_step_s`). Points are set by the
#: schedule's edges: every PWL corner is an ngspice breakpoint, after which it restarts at a
#: tenth of min(its step, the gap to the next breakpoint) and at most doubles per point (hard
#: coded; ``.options minbreak`` does not reach the transient in ngspice 46); each 1 ns edge then
#: costs ~12 points (benchmarks/mvm_corners.py lists the 236 corners per phase). The step cap
#: sets the rest. 16 x 16 4-bit case (benchmarks/mvm_step.py, against 2 ns / reltol 1e-4,
#: h51): 5 ns 2012 points, 6942 iterations, integrator voltages within 0.045 LSB, codes equal;
#: 10 ns 1737 points, 6248 iterations, within 0.024 LSB, codes equal, energy -0.12 % (5 ns
#: -0.09 %). tests/test_mvm.py's (4, 6) spread on an ideal array gives the same codes at 5 and
#: 10 ns (budget 1.0, bias +0.04 of 0.30; it failed at 10 ns with the neuron of h43).
MAX_STEP_S = 10e-9
#: Integrator error of a conversion at MAX_STEP_S, against 2 ns, on the neuron line bench (4-bit
#: in, 7-bit out, FS 0.05 V: ``python benchmarks/neuron_conv_diag.py 4 7 0.05 0 5 -5 15 -15
#: max_step_s=S``, S = 2, 5, 10 ns): the starting level -0.156 mV once (5 ns: +0.042), +0.023 mV
#: per integration (5 ns: -0.031), -0.004 mV per DAC packet (5 ns: -0.002), rounded up.
STEP_ERR_START_V = 0.16e-3
STEP_ERR_PER_TRANSFER_V = 0.025e-3
#: The next step down where MAX_STEP_S's error exceeds the LSB budget, and its error per
#: transfer (the same bench: 0.03 mV).
MAX_STEP_MID_S = 5e-9
STEP_MID_ERR_PER_TRANSFER_V = 0.03e-3
#: Largest step where the LSB is small (:func:`max_step_s`). On the neuron line bench (4-bit in,
#: 7-bit out, FS 0.05 V: ``python benchmarks/neuron_conv_diag.py 4 7 0.05 0 5 -5 15 -15
#: max_step_s=S``) the integrator's error per integration is -0.031 / -0.007 / -0.001 / -0.0006 mV
#: at S = 5 / 3 / 2 / 1 ns (the starting level +0.048 / +0.019 / +0.007 / +0.005 mV): 2 ns is
#: converged, 5 ns leaves ~0.03 mV per transfer.
MAX_STEP_FINE_S = 2e-9
#: Largest share of the integrator LSB that a step's error may add up to over a conversion.
STEP_ERR_MAX_LSB = 0.05
#: Wall-clock limit of one MVM transient (a hung simulator is killed). 1 h killed the 256 x 256
#: 4-bit MVM (make bench mvm_transient_256) on a loaded 2-core machine after ~34 CPU-minutes,
#: unfinished; 4 h, the benchmark's own limit.
MVM_TIMEOUT_S = 4 * 3600.0


#: ``noopiter`` (every MVM transient, and a stand-alone core's ``.op`` deck): the operating
#: point goes straight to gmin stepping. The direct Newton solve of a core with its neurons
#: never converges, so it only cost its 100 iterations (16 x 16 SKY130, 4 x 3 SKY130 and ideal
#: cores: 292 -> 191 op iterations, codes and energy identical). The cause is the neurons'
#: amplifiers in their auto-zero loops: with every amplifier held off the 16 x 16 core's direct
#: solve converges in 51 iterations (``benchmarks/core_op.py 16 --disable-ota``); a
#: ``.nodeset`` of each amplifier's output at Vref also converges it (39 iterations) but makes
#: each iteration's load 4-7x dearer at 64 x 64 and 128 x 128, a net loss.
OP_OPTIONS: dict = {"noopiter": None}
#: VACASK's same choice (its operating point straight to the homotopy), for a core's op
VACASK_OP_OPTIONS: dict = {"op_skipinitial": 1}
#: ngspice options of the MVM transient where the LSB allows (:func:`mvm_options`): device
#: bypass (a transistor whose terminal voltages moved less than reltol |V| + vntol, ~0.9 mV at
#: Vref, keeps its last evaluation, charges included). It saves ~25 % CPU on the 16 x 16 4-bit
#: MVM (h42: 13.7-14.1 s against 18.1 s without) but leaves charge errors on the neuron's
#: integrator: on the line bench at 4-bit in / 7-bit out, FS 0.05 V (``python
#: benchmarks/neuron_conv_diag.py 4 7 0.05 0 5 -5 15 -15 max_step_s=5e-9 bypass=1``) -0.15 mV per
#: integration, -0.22 mV per DAC packet, gain +3.5 %, codes up to 6 LSB off, against +-0.03 mV
#: and 1 LSB without. VACASK, the second engine, agrees with ngspice without bypass
#: (benchmarks/vacask_profile.py).
MVM_OPTIONS: dict = {"bypass": 1, **OP_OPTIONS}
#: Integrator error per transfer that bypass may add (the line bench above, rounded up).
BYPASS_ERR_PER_TRANSFER_V = 0.2e-3
#: Largest share of the integrator LSB that error may add up to over a conversion with bypass.
#: 0.25 kept it at the 4-bit / 6-bit default (12 transfers, 12.5 mV LSB: 0.19), which saved ~25 %
#: CPU on the 16 x 16 4-bit MVM, but then tests/test_mvm.py::test_backward_uses_the_same_array
#: (backward, 4-bit / 6-bit) held only 0.89 of its outputs in budget (h42); without bypass it
#: passes. 0.1: bypass only where its summed error is a tenth of an LSB (1- to 3-bit inputs).
BYPASS_MAX_LSB = 0.1


def _within_lsb(spec, sched, err_per_transfer_v: float, max_lsb: float,
                err_once_v: float = 0.0) -> bool:
    """Whether ``err_once_v`` plus ``err_per_transfer_v`` summed over the conversion's transfers
    (integration steps + DAC packets) stays within ``max_lsb`` of the integrator LSB
    2 adc_fs / 2^B."""
    bits = conversion_bits(sched)
    n_transfers = len(integration_steps(sched)) + bits - 1
    return err_once_v + n_transfers * err_per_transfer_v <= max_lsb * 2 * spec.adc_fs_v / 2 ** bits


#: Integrator error per transfer (integration step or DAC packet) that partitioning the
#: transient may add (:mod:`pycim.flows.partition`: the neurons see their lines as ideal
#: sources, so the samples' kicks through the open track switch no longer move the line and
#: couple back). Measured against the whole deck: 16 x 16 SKY130 core at 4-bit in / 6-bit out
#: (``benchmarks/partition_error.py 16 16 --bank 4``: max 0.124 mV over 12 transfers, 0.010 mV
#: each); the code tests' ideal 16 x 16 array at (8, 10) (``benchmarks.codes_cases.
#: mvm_codes_pair(8, 10, partition=True)``: its high slice's codes +0.31 of its 0.78 mV LSB
#: on average over 21 transfers, 0.012 mV each), rounded up.
PARTITION_ERR_PER_TRANSFER_V = 0.015e-3
#: Largest share of the integrator LSB that error may add up to over a conversion where the
#: flow partitions by default (``MvmRequest.partition`` None). 0.1: the 4-bit / 6-bit default
#: and the two-phase (6, 8) slices partition (codes within +-1 of the reference for all 48
#: outputs of the code tests' spread problem); (8, 10) and 10-bit outputs run the whole deck
#: (partitioned, (8, 10) held 0.69 of its outputs within +-1 against 1.0 whole).
PARTITION_MAX_LSB = 0.1


def partition_within_lsb(spec, sched) -> bool:
    """Whether a partitioned run's coupling error (:data:`PARTITION_ERR_PER_TRANSFER_V` per
    transfer) stays within :data:`PARTITION_MAX_LSB` of the conversion's LSB: where the
    default (``MvmRequest.partition`` None) partitions."""
    return _within_lsb(spec, sched, PARTITION_ERR_PER_TRANSFER_V, PARTITION_MAX_LSB)


def mvm_options(spec, sched) -> dict:
    """ngspice options of an MVM transient: :data:`MVM_OPTIONS` (device bypass) unless its
    error per transfer, summed over the conversion's transfers, exceeds :data:`BYPASS_MAX_LSB`
    of the integrator LSB; then :data:`OP_OPTIONS` only. From 4-bit inputs on (the 4-bit /
    6-bit default included) the MVM runs without bypass."""
    ok = _within_lsb(spec, sched, BYPASS_ERR_PER_TRANSFER_V, BYPASS_MAX_LSB)
    return dict(MVM_OPTIONS if ok else OP_OPTIONS)


def max_step_s(spec, sched) -> float:
    """Largest transient step of an MVM with neuron ``spec`` and schedule ``sched``: the
    largest of :data:`MAX_STEP_S`, :data:`MAX_STEP_MID_S` whose error over the conversion (its
    starting-level error once, its error per transfer summed over the integrations and DAC
    packets) stays within :data:`STEP_ERR_MAX_LSB` of the integrator LSB 2 adc_fs / 2^B; else
    :data:`MAX_STEP_FINE_S`. The 4-bit / 6-bit default (12 transfers, 12.5 mV LSB: 0.46 of
    0.625 mV) takes 10 ns; two-phase (6, 8) and (8, 10) (3.1 and 0.78 mV) take 2 ns."""
    if _within_lsb(spec, sched, STEP_ERR_PER_TRANSFER_V, STEP_ERR_MAX_LSB, STEP_ERR_START_V):
        return MAX_STEP_S
    if _within_lsb(spec, sched, STEP_MID_ERR_PER_TRANSFER_V, STEP_ERR_MAX_LSB):
        return MAX_STEP_MID_S
    return MAX_STEP_FINE_S


#: A sensed line still moving faster than this where the flow reads it (0.5 mV per ns: with a
#: settling time constant of 1 ns or more it is then at least 0.5 mV, the settling band of
#: benchmarks/read_settling.py, from its settled value) draws a SettlingWarning.
LINE_DRIFT_MAX_V_PER_S = 0.5e-3 / 1e-9


def check_line_drift(req: MvmRequest, drift_v_per_s) -> float:
    """Warn (:class:`~pycim.errors.SettlingWarning`) if a sensed line was still moving faster
    than :data:`LINE_DRIFT_MAX_V_PER_S` where the flow read it (``drift_v_per_s``: any shape,
    :func:`~pycim.measure.neuron.line_drift_v_per_s` of every vector). This is the
    simulation's own measurement, which also sees what the a-priori bound of
    :func:`~pycim.cim.request.check_settling` leaves out (the driven lines' RC: a full
    128 x 256 core). Returns the largest |drift| (V/s)."""
    d = np.abs(np.asarray(drift_v_per_s, dtype=float))
    worst = float(d.max()) if d.size else 0.0
    if worst > LINE_DRIFT_MAX_V_PER_S:
        warnings.warn(f"sensed lines still moving up to {worst * 1e-6:.3g} mV/ns where the "
                      f"{req.read_pulse_s * 1e9:.3g} ns read pulse holds them, so held values "
                      f"miss the settled lines (by that rate times the line's settling time "
                      f"constant); lengthen --read-pulse-s (a full 128 x 256 core needs 20 ns at "
                      f"ss / 125 C: benchmarks/read_settling_core.py)", SettlingWarning,
                      stacklevel=3)
    return worst


def neuron_readout(res, nodes, sched, spec) -> tuple[np.ndarray, np.ndarray]:
    """Every sensed neuron's own readout of one transient, before any pair difference:
    (settled line voltage minus Vref per plane (planes, neurons), taken before the word
    lines' kick on the held line; output code (neurons,))."""
    v_lines = settled_lines_v(res["time"], [res[nd.line] for nd in nodes], sched, spec)
    code = np.array([read_neuron(res, sched, nd, spec).code for nd in nodes])
    return v_lines, code


def run_mvm(req: MvmRequest, progress: bool = True, waveforms: dict | None = None,
            jobs: int = 1) -> dict:
    """Run the request at transistor level (engine ``spice`` or ``vacask``); return the JSON-ready
    result (keys documented in the README). :func:`pycim.dispatch.run_mvm` also takes ``macro``.

    A two-phase request (``req.phases == 2``, :mod:`pycim.cim.phases`) runs as two transients
    (high slice, then low slice; one deck each, the same core and seed), shift-added; energies
    and latencies add.

    ``waveforms``, if given, receives the last vector's ``readout`` (every sensed neuron's
    own settled lines and code, before any pair difference: :func:`neuron_readout`),
    ``schedule`` and ``spec``, and, unless partitioned, its ``result`` and ``nodes`` (one
    :class:`~pycim.netlist.neuron.NeuronNodes` per sensed line).

    Partitioned (``req.partition`` True, or None in ngspice without ``waveforms`` where
    :func:`partition_within_lsb` holds: :func:`~pycim.cim.request.partitioned`): each vector
    runs as the array stage, then the neurons in banks (:mod:`pycim.flows.partition`),
    ``jobs`` banks at a time in worker processes; the result's ``partition`` says which ran
    (two phases: the high slice's).
    """
    if req.engine not in ("spice", "vacask"):
        raise InputError(f"the SPICE flow runs engine spice or vacask, got {req.engine!r} "
                         f"(pycim.dispatch.run_mvm picks the macro-model)")
    if req.phases == 2:  # two transient runs, one per slice (cim.phases), shift-added
        return run_two_phase(req, lambda r: run_mvm(r, progress=progress, waveforms=waveforms,
                                                     jobs=jobs))
    w = req.weights
    setup = mvm_setup(req)
    pb, spec, sched = setup.problem, setup.neuron, setup.schedule
    check_settling(req, setup.g_phys, spec.t_edge_s)
    prog, v_read, lsb_line = pb.prog, setup.v_read_v, setup.lsb_v
    engine = (NgspiceEngine(timeout_s=MVM_TIMEOUT_S, options=mvm_options(spec, sched))
              if req.engine == "spice"
              else get_engine("vacask", timeout_s=MVM_TIMEOUT_S))
    # an explicit choice stands; by default partitioned where its coupling error stays a
    # tenth of the conversion's LSB
    split = partitioned(req, waveforms is not None) and (
        req.partition is not None or partition_within_lsb(spec, sched))
    if jobs > 1 and not split:
        warnings.warn(f"jobs={jobs} unused: this MVM runs as one deck of the whole core (its "
                      f"conversion's LSB is too fine for the partitioned run's coupling "
                      f"error; --partition forces it)", RuntimeWarning, stacklevel=2)
    v_settled, codes, energies, drift = [], [], [], []
    t0 = time.perf_counter()
    tran = Tran(1e-9, sched.t_stop, max_step_s(spec, sched))
    if split:  # the array stage runs without the neurons' options (no latches there)
        array_engine = (NgspiceEngine(timeout_s=MVM_TIMEOUT_S) if req.engine == "spice"
                        else engine)
        part = Partition(jobs=jobs)
    for b in tqdm(range(req.x.shape[0]), desc="mvm", unit="vector", disable=not progress):
        if split:
            vr = run_vector(req, setup, b, array_engine, engine, tran, part)
            v_settled.append(pair_difference(vr.v_lines, req.direction, req.mapping))
            codes.append(pair_difference(vr.codes, req.direction, req.mapping))
            energies.append(vr.energy)
            drift.append(vr.drift_v_per_s)
            if waveforms is not None:
                waveforms.update(readout=(vr.v_lines, vr.codes), schedule=sched, spec=spec)
            continue
        core = mvm_deck(req, setup, b)
        c, nodes = core.circuit, core.neurons
        apply_mismatch(c, req.seed, req.mismatch)  # a no-op without mismatch
        res = engine.run(c, tran, temp_c=req.temp_c, save=saved_vectors(core))
        v_lines, code = neuron_readout(res, nodes, sched, spec)
        drift.append(line_drift_v_per_s(res["time"], [res[nd.line] for nd in nodes], sched,
                                        spec))
        v_settled.append(pair_difference(v_lines, req.direction, req.mapping))
        codes.append(pair_difference(code, req.direction, req.mapping))
        energies.append(energy_by_group(res, c, core.groups, core.logic))
        if waveforms is not None:
            waveforms.update(result=res, nodes=nodes, schedule=sched, spec=spec,
                             readout=(v_lines, code))
    check_line_drift(req, drift)
    e_tot = {k: float(sum(e[k] for e in energies)) for k in energies[0]}
    macs = int(req.x.shape[0] * w.shape[0] * w.shape[1])
    return {
        "g_pos_s": prog.g_pos_s.tolist(), "g_neg_s": prog.g_neg_s.tolist(),
        "v_read_v": v_read, "v_ref_v": spec.v_ref_v, "x": req.x.tolist(),
        "v_settled_v": [v.tolist() for v in v_settled],
        "code": [c_.astype(int).tolist() for c_ in codes],
        "y_ideal": pb.y_ideal.tolist(), "y_target": pb.y_target.tolist(), "lsb": lsb_line,
        "energy_j": e_tot, "macs": macs, "energy_per_mac_j": e_tot["total"] / macs,
        "latency_s": sched.t_stop, "engine": req.engine, "pycim_version": __version__,
        "in_bits": req.in_bits, "out_bits": req.out_bits, "direction": req.direction,
        "ideal": req.ideal, "corner": req.corner, "temp_c": req.temp_c, "seed": req.seed,
        "mapping": req.mapping, "partition": split,
        "y_ideal_planes_v": pb.ideal_planes_v.tolist(), "wall_s": time.perf_counter() - t0,
        **phase_keys(req),
    }

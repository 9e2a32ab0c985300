"""A partitioned MVM transient: the array stage, then the neurons in banks.

A neuron touches its line only through its track switch: during each plane's read pulse the
hold capacitor C_hold follows the line, the switch opens, and everything after (sampling,
integration, conversion) works on C_hold. So one vector's transient splits at the sensed lines:

1. **array stage**: the whole core (array, line drivers, WL inverters) with each neuron's front
   end only (track switch, its dummy and C_hold: ``neuron_part="front"``,
   :func:`~pycim.netlist.neuron.add_track_hold`) and only its clock. The array is active
   only around the read pulses; without the neurons' clocks nothing sets a breakpoint between
   them, so the large matrix is solved at few points.
2. **neuron stage**: the neurons in banks of ``bank`` (:func:`~pycim.netlist.mvm_deck.neuron_bank_deck`,
   the element names of the full deck, so Monte Carlo draws the same shifts), each line put at
   the array stage's waveform by an ideal source: a piecewise-linear fit within
   :data:`PWL_TOL_V`, with corners common to the bank. Banks are independent and run in
   parallel (``jobs``).

The split leaves out the neuron's back-action on the line beyond its front end: none while the
track switch is closed (the rest of the neuron only sees C_hold), and through the open switch's
overlap capacitance the line drives C_hold in both. What C_hold holds when a read pulse starts
is the neuron's: its samples have shared it down since the last pulse. Where the lines settle
within the pulse (:func:`settling_miss` below :data:`SAMPLING_MISS`: every full core) that
start value is forgotten and the array stage carries the track/hold alone; where they do not,
it also carries C_sample's top plate and its switches (``neuron_part="front_sampling"``), so
the samples share C_hold down as in the neuron. Unsettled lines also carry their own memory from pulse
to pulse (they float between pulses and drift with the off drivers' leakage), so that array
stage takes the neuron stage's largest step, not :data:`ARRAY_MAX_STEP_S` (with the 100 um
driver pFETs the 500 ns step put a 4 x 8 core's lines 0.55 mV off at a 40 ns pulse; 0.015 mV
at the neuron's step). The coupling error, measured against the full
deck, is in ``benchmarks/partition_error.py``.

Energy: the array stage counts the array, drivers and word-lines (and the supply's leakage
there), without the front ends' clocks and the neurons' Vref, which the neuron stage counts
with the rest of the neurons; the line sources of the neuron stage count nothing. Every bank has its own bias generator, as
the core has one: all but the first bank's bias-resistor energy is taken off.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..cim.closed_form import settling_time_constants_s
from ..measure.energy import energy_by_group
from ..measure.neuron import line_drift_v_per_s, read_neuron, settled_lines_v
from ..netlist.mismatch import apply_mismatch
from ..netlist.mvm_deck import MvmSetup, mvm_deck, neuron_bank_deck, saved_vectors
from ..netlist.stimulus import front_clocks
from ..sim import Tran
from ..validate import integer, number

#: Largest deviation of the neuron stage's line waveforms from the array stage's (a common
#: piecewise-linear fit per bank): 10 uV, below a 10-bit MVM's line-referred LSB (0.8 mV at
#: the 0.2 V read) by ~80x.
PWL_TOL_V = 10e-6
#: Neurons per bank of the neuron stage. Smaller decks cost less per neuron: the 16 x 16 4-bit
#: MVM (``benchmarks/partition_error.py 16 16 --bank K``, 1 job) 8.6 s with one bank of 16,
#: 7.2 s with banks of 4 or 2 (the full deck 10.6 s); 64 x 64 with 2 jobs 29.5 s -> 26.5 s;
#: the 256 x 256 core (``mvm_transient_256``'s case, 2 jobs) 5.6 min wall, 6.1 CPU-min with
#: banks of 4 (8.3 / 9.9 with 16 before the line sources lost their breakpoints).
BANK_NEURONS = 4
#: Above this settling miss (:func:`settling_miss`) the array stage carries C_sample's
#: top-plate switches too (``neuron_part="front_sampling"``), so the hold capacitor enters each
#: read pulse shared down by the samples as in the neuron; below it the track/hold alone (the
#: sampling clocks would add breakpoints between the pulses). A full 256-row core misses
#: ~1e-13 (tau ~0.2 ns), a 16 x 16 core 0.02 (tau 1.8 ns).
SAMPLING_MISS = 1e-4
#: Largest step of the array stage: the read pulses' edges are breakpoints and set the points
#: inside them; between pulses the array is static (lines held at Vref, WLs off).
ARRAY_MAX_STEP_S = 500e-9


@dataclass(frozen=True)
class Partition:
    """How a partitioned MVM runs: ``bank`` neurons per neuron-stage deck, ``jobs`` decks at a
    time (worker processes; 1 runs them in this process), the line fit's ``pwl_tol_v``, the
    array stage's ``array_max_step_s`` and the settling miss above which it carries the
    sampling switches (``sampling_miss``)."""

    bank: int = BANK_NEURONS
    jobs: int = 1
    pwl_tol_v: float = PWL_TOL_V
    array_max_step_s: float = ARRAY_MAX_STEP_S
    sampling_miss: float = SAMPLING_MISS

    def __post_init__(self) -> None:
        number(self.sampling_miss, "sampling_miss", lo=0.0, hi=1.0)
        integer(self.bank, "bank", 1, 512)
        integer(self.jobs, "jobs", 1, 256)
        number(self.pwl_tol_v, "pwl_tol_v", lo=1e-7, hi=1e-2)
        number(self.array_max_step_s, "array_max_step_s", lo=1e-10, hi=1e-6)


def pwl_corners(t: np.ndarray, v: np.ndarray, tol_v: float) -> np.ndarray:
    """Indices into ``t`` of one piecewise-linear fit of every row of ``v`` (rows x len(t)):
    each row stays within ``tol_v`` of its fit at every sample (Ramer-Douglas-Peucker on the
    largest deviation over the rows). The first and last sample are always kept."""
    t = np.asarray(t, dtype=float)
    v = np.atleast_2d(np.asarray(v, dtype=float))
    if v.shape[1] != t.size or t.size < 2:
        raise InputError(f"pwl_corners: need rows of len(t) >= 2 samples, got {v.shape}, {t.size}")
    keep = np.zeros(t.size, dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, t.size - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        frac = (t[i + 1:j] - t[i]) / (t[j] - t[i])
        fit = v[:, i:i + 1] + (v[:, j:j + 1] - v[:, i:i + 1]) * frac
        dev = np.abs(v[:, i + 1:j] - fit).max(axis=0)
        k = int(np.argmax(dev))
        if dev[k] > tol_v:
            m = i + 1 + k
            keep[m] = True
            stack += [(i, m), (m, j)]
    return np.flatnonzero(keep)


def settling_miss(req, setup: MvmSetup, edge_s: float) -> float:
    """exp(-t / tau) of the slowest sensed line (``tau``: the bound of
    :func:`~pycim.cim.closed_form.settling_time_constants_s`; ``t``: the read pulse less three
    edges): the share of a step the hold capacitor still misses when the track switch opens,
    as :func:`~pycim.cim.request.check_settling` warns of it."""
    tau = float(np.max(settling_time_constants_s(setup.g_phys, req.direction, req.mapping)))
    return float(np.exp(-(req.read_pulse_s - 3 * edge_s) / tau))


def bias_energy_j(res, nspec) -> float:
    """Energy the bias generator's resistor draws from ``vdd`` in a neuron-stage result."""
    t = res["time"]
    v_nb = np.asarray(res[nspec.bias_net], dtype=float)
    vdd = np.asarray(res["vdd"], dtype=float)
    return float(np.trapezoid(vdd * (vdd - v_nb) / nspec.rbias(), t))


@dataclass(frozen=True)
class VectorResult:
    """One partitioned vector: settled line voltage minus Vref per plane (planes, neurons),
    codes (neurons,), the integrator voltage minus Vref before the conversion (neurons,), V,
    the energy by group, and how fast each line still moved where it was read (planes,
    neurons), V/s (:func:`~pycim.measure.neuron.line_drift_v_per_s`)."""

    v_lines: np.ndarray
    codes: np.ndarray
    v_int: np.ndarray
    energy: dict[str, float]
    drift_v_per_s: np.ndarray


def _run_bank(args) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """One neuron-stage deck: (codes of its neurons, their integrator voltages before the
    conversion, energy by group)."""
    req, setup, b, pwl, engine, tran, first = args
    core = neuron_bank_deck(req, setup, b, pwl)
    apply_mismatch(core.circuit, req.seed, req.mismatch)  # a no-op without mismatch
    res = engine.run(core.circuit, tran, temp_c=req.temp_c, save=saved_vectors(core))
    reads = [read_neuron(res, setup.schedule, nd, setup.neuron) for nd in core.neurons]
    codes = np.array([r.code for r in reads])
    v_int = np.array([r.residues[0] for r in reads])
    energy = energy_by_group(res, core.circuit, core.groups, core.logic)
    if not first:  # the core has one bias generator: the first bank carries it
        e_b = bias_energy_j(res, setup.neuron)
        energy["neuron"] -= e_b
        energy["total"] -= e_b
    return codes, v_int, energy


def run_vector(req, setup: MvmSetup, b: int, array_engine, neuron_engine, neuron_tran: Tran,
               part: Partition) -> VectorResult:
    """Vector ``b`` of ``req`` partitioned, its figures as :func:`pycim.flows.mvm.neuron_readout`
    and :func:`~pycim.measure.energy.energy_by_group` give them for the full deck.
    ``array_engine`` runs the array stage, ``neuron_engine`` the banks with ``neuron_tran``."""
    sched, spec = setup.schedule, setup.neuron
    miss = settling_miss(req, setup, spec.t_edge_s)
    sampling = miss > part.sampling_miss
    core = mvm_deck(req, setup, b, neuron_part="front_sampling" if sampling else "front")
    apply_mismatch(core.circuit, req.seed, req.mismatch)  # a no-op without mismatch
    max_step = part.array_max_step_s
    if sampling:  # unsettled lines remember the last pulse: their drift between pulses (the
        # off drivers' leakage) is integrated at the neuron stage's step, not the static one
        max_step = min(max_step, neuron_tran.max_step_s or neuron_tran.step_s)
    res = array_engine.run(core.circuit, Tran(1e-9, sched.t_stop, max_step),
                           temp_c=req.temp_c, save=saved_vectors(core))
    # the front ends' clocks and the neurons' Vref (here it only feeds the emulated samples)
    # belong to the neurons: the neuron stage counts them
    neuron_only = {f"v{n}".lower() for n in front_clocks(core.spec)} | {"vref"}
    groups = {k: ("interface" if k.removesuffix("_b") in neuron_only else g)
              for k, g in core.groups.items()}
    energy = energy_by_group(res, core.circuit, groups, core.logic)
    lines = core.spec.neuron_lines
    t = np.asarray(res["time"], dtype=float)
    v = np.array([np.asarray(res[ln], dtype=float) for ln in lines])
    v_lines = settled_lines_v(t, v, sched, spec)
    drift = line_drift_v_per_s(t, v, sched, spec)
    tasks = []
    for k0 in range(0, len(lines), part.bank):
        rows = v[k0:k0 + part.bank]
        idx = pwl_corners(t, rows, part.pwl_tol_v)
        pwl = {ln: tuple(zip(t[idx].tolist(), row[idx].tolist()))
               for ln, row in zip(lines[k0:k0 + part.bank], rows)}
        tasks.append((req, setup, b, pwl, neuron_engine, neuron_tran, k0 == 0))
    if part.jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(part.jobs, len(tasks))) as pool:
            banks = list(pool.map(_run_bank, tasks))
    else:
        banks = [_run_bank(a) for a in tasks]
    for _, _, e in banks:
        for g, val in e.items():
            energy[g] = energy.get(g, 0.0) + val
    return VectorResult(v_lines, np.concatenate([c for c, _, _ in banks]),
                        np.concatenate([v for _, v, _ in banks]), energy, drift)

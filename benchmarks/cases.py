"""Benchmark cases: each runs in its own child process (see run.py) and returns extra figures."""

from __future__ import annotations

import resource
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _array_spec(n: int, cell: str, access: str, corner: str = "tt", wire_r: bool = True):
    from pycim.netlist.array import IDEAL_ACCESS, IDEAL_WIRES, AccessSpec, ArraySpec, WireSpec
    from pycim.cim.mapping import interleave_rows, weights_to_conductances

    rng = np.random.default_rng(0)
    gp, gn = weights_to_conductances(rng.uniform(-1, 1, (n // 2, n)))
    acc = IDEAL_ACCESS if access == "ideal" else AccessSpec(corner=corner)
    return ArraySpec(interleave_rows(gp, gn), cell=cell, access=acc,
                     wire=WireSpec() if wire_r else IDEAL_WIRES)


#: ngspice's own counters (``rusage all``) a :func:`dc_op` run with ``counters`` reports, by
#: the key it reports them under: its front end (reading the deck; then expanding it and
#: building the devices: ngspice's "Subckt and Param expansion time" runs to the end of
#: ``inp_dodeck``, so it contains its "Netlist parsing time", ``if_inpdeck``, which is not
#: added again -- until the twenty-seventh round it was, counting the parse twice), the
#: sparse solver (KLU's analysis with the first factorization, the refactorizations, the
#: solves), the devices' matrix loads, the Newton iterations and the equations
DC_OP_COUNTERS = {
    "front_end_s": ("Netlist loading time", "Subckt and Param expansion time"),
    "parse_s": ("Netlist parsing time",),
    "solver_s": ("Matrix reorder time", "Matrix factor time", "Matrix solve time"),
    "load_s": ("Matrix load time",),
    "iterations": ("Total iterations",),
    "equations": ("Circuit Equations",),
}


#: the operating system's accounting of the ngspice process a :func:`dc_op` run makes, by the
#: key it reports it under: its CPU time in user mode and in the kernel, and its minor page
#: faults (first touches of memory: the kernel time of a large deck on a virtual machine
#: whose host backs guest memory lazily)
NGSPICE_RUSAGE = {"user_s": "ru_utime", "sys_s": "ru_stime", "minor_faults": "ru_minflt"}


@contextmanager
def ngspice_accounting():
    """Yields a dict that receives, at the block's end, :data:`NGSPICE_RUSAGE` of the child
    processes that ended inside it (one ngspice run: the block must start no other)."""
    acc: dict = {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    yield acc
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    acc.update({key: getattr(after, f) - getattr(before, f) for key, f in NGSPICE_RUSAGE.items()})


def sensed_ports(n: int) -> list[str]:
    """The n x n array's outputs, its source-line ports ``sl<c>``: what a DC op of the array
    is run for, and all that :func:`dc_op` saves on both decks (since the twenty-eighth
    round; before, every node, half a million vectors of the 1T1R deck against the
    crossbar's 131 thousand: ``benchmarks/dc_op_profile.py --ports-only`` against without)."""
    return [f"sl{c}" for c in range(n)]


def dc_op(n: int, cell: str, access: str, klu: bool, wire_r: bool = True,
          counters: bool = False) -> dict:
    """DC operating point of an n x n array driven at Vref +- Vread (per-cell wire R and C on
    BL, SL and WL when ``wire_r``), saving the sensed ports (:func:`sensed_ports`). ``sim_s``
    includes generating and writing the deck;
    the ngspice process's CPU time and page faults (:data:`NGSPICE_RUSAGE`) are reported;
    ``counters``: also ngspice's own counters (:data:`DC_OP_COUNTERS`)."""
    from contextlib import nullcontext

    from benchmarks.ngspice_stats import ngspice_rusage
    from pycim.netlist.array import dc_drive_circuit, row_voltages
    from pycim.sim import NgspiceEngine, Op

    spec = _array_spec(n, cell, access, wire_r=wire_r)
    rng = np.random.default_rng(1)
    c = dc_drive_circuit(spec, row_voltages(rng.choice([-1.0, 1.0], n // 2), 0.9, 0.1))
    t0 = time.perf_counter()
    with ngspice_accounting() as acc, ngspice_rusage() if counters else nullcontext() as runs:
        res = NgspiceEngine(klu=klu, timeout_s=1800).run(c, Op(), save=sensed_ports(n))
    out = {"sim_s": time.perf_counter() - t0, "ngspice_elapsed_s": res.elapsed_s, **acc}
    if counters:
        missing = [k for keys in DC_OP_COUNTERS.values() for k in keys if k not in runs[0]]
        if missing:
            raise RuntimeError(f"ngspice's rusage lacks {missing}")
        out.update({key: sum(runs[0][k] for k in keys) for key, keys in DC_OP_COUNTERS.items()})
    return out


def netlist_core(n: int) -> dict:
    from pycim.netlist.reference import NetlistRequest

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        p = NetlistRequest("core", n, n).write(Path(tmp) / "core.cir")
        return {"gen_s": time.perf_counter() - t0, "bytes": p.stat().st_size}


def sky130_parse() -> dict:
    """Flattening every SKY130 device card at every corner from the library (5 corners x 4
    devices, W = L = 1 um) with an empty card cache, in a fresh cache directory: the parse
    a new checkout pays once (was the timed assert of tests/test_sky130.py)."""
    import os
    from unittest import mock

    from pycim.tech import sky130

    with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ,
                                                               {"PYCIM_CACHE_DIR": tmp}):
        sky130.clear_caches()
        try:
            t0 = time.perf_counter()
            for corner in sky130.CORNERS:
                for dev in sky130.DEVICES:
                    sky130.flat_card(dev, 1e-6, 1e-6, corner)
            return {"parse_s": time.perf_counter() - t0,
                    "cards": len(sky130.CORNERS) * len(sky130.DEVICES)}
        finally:
            sky130.clear_caches()


def runner_op(mode: str, n_runs: int = 30) -> dict:
    """Per-run overhead of the ngspice runner on a one-cell op (subprocess vs PySpice)."""
    from pycim.netlist import testbench as tb
    from pycim.sim import NgspiceEngine, Op

    c = tb.cell_iv(0.5e-9)
    if mode == "subprocess":
        eng = NgspiceEngine()
        t0 = time.perf_counter()
        for _ in range(n_runs):
            eng.run(c, Op())
        return {"per_run_ms": (time.perf_counter() - t0) / n_runs * 1e3}
    import logging
    import os
    import warnings

    os.environ.setdefault("NGSPICE_LIBRARY_PATH", "/usr/lib/x86_64-linux-gnu/libngspice.so.0")
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    from PySpice.Spice.NgSpice.Shared import NgSpiceShared

    from pycim.netlist.circuit import ngspice_lines

    text = "\n".join(ngspice_lines(c, options={"klu": None})) + "\n.op\n.end\n"
    ng = NgSpiceShared.new_instance()
    ng.exec_command(f"osdi {c.osdi_files[0]}")
    t0 = time.perf_counter()
    for _ in range(n_runs):
        ng.load_circuit(text)
        ng.run()
        ng.remove_circuit()
        ng.destroy()
    return {"per_run_ms": (time.perf_counter() - t0) / n_runs * 1e3}


CASES = {"dc_op": dc_op, "netlist_core": netlist_core, "runner_op": runner_op,
         "sky130_parse": sky130_parse}


def mvm_core(n: int, in_bits: int = 4, out_bits: int = 6, segment_cells: int = 1,
             engine: str = "spice", partition: bool = False, jobs: int = 1) -> dict:
    """One forward MVM transient on an n x n core: W (n/2, n) signed, n neurons, SKY130
    drivers and access FETs, RRAM read model, wire R/C with ``segment_cells`` cells per node
    (1 = per cell), in ngspice (``spice``) or VACASK; ``partition``: the partitioned
    transient with ``jobs`` neuron banks at a time. ``full_deck_sha256``: the digest of the
    full deck of vector 0 (the same circuit and stimulus whichever way it runs)."""
    from pycim import dispatch as flow
    from pycim.cim.request import MvmRequest
    from pycim.netlist.mvm_deck import mvm_deck, mvm_setup
    from pycim.netlist.writer import netlist_digest

    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (n // 2, n))
    lim = 2 ** (in_bits - 1) - 1
    x = rng.integers(-lim, lim + 1, (1, n // 2))
    req = MvmRequest(w, x, in_bits, out_bits, engine=engine, wire_segment_cells=segment_cells,
                     partition=partition)
    t0 = time.perf_counter()
    out = flow.run_mvm(req, progress=False, jobs=jobs)
    sim_s = time.perf_counter() - t0
    code = np.array(out["code"][0])
    y = np.floor(np.array(out["y_ideal"][0]))
    return {"sim_s": sim_s, "energy_j": out["energy_j"]["total"],
            "energy_by_group_j": out["energy_j"],
            "max_code_err_lsb": float(np.max(np.abs(code - y))),
            "mean_code_err_lsb": float(np.mean(code - y)), "codes": code.tolist(),
            "latency_s": out["latency_s"], "partition": partition, "jobs": jobs,
            "full_deck_sha256": netlist_digest(mvm_deck(req, mvm_setup(req), 0).circuit)}


CASES["mvm_core"] = mvm_core


def sweep_throughput(jobs: int, n_points: int = 8) -> dict:
    """Characterization throughput: ``n_points`` equal ideal 4x3 MVM-transfer points (distinct
    seeds, so nothing is cached) run with ``jobs`` worker processes."""
    from pycim.characterize.runner import run_sweep
    from pycim.characterize.spec import parse_spec

    seeds = ", ".join(str(100 + k) for k in range(n_points))
    spec = parse_spec(f'title = "bench"\n[[sweep]]\nkind = "mvm_transfer"\nn_in = 4\nn_out = 3\n'
                      f'in_bits = 4\nout_bits = 6\nbatch = 1\nseeds = [{seeds}]\n'
                      f'ideal = [true]\ncorner = ["tt"]\n')
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rep = run_sweep(spec, tmp, jobs=jobs, progress=False, plots=False)
        wall = time.perf_counter() - t0
    assert rep.count("computed") == n_points, rep.failures
    return {"sweep_s": wall, "points_per_min": n_points / wall * 60}


CASES["sweep_throughput"] = sweep_throughput


def reference_core_op(engine: str) -> dict:
    """DC op of the committed 256 x 256 reference core (stateful RRAM, SKY130 access FETs, TG
    drivers, WL inverters, per-cell wire R/C, 256 neurons) in ngspice (the file) or VACASK (same
    circuit), each straight to its homotopy (ngspice ``noopiter``, pycim's ``OP_OPTIONS``;
    VACASK ``op_skipinitial``): a core's direct Newton solve does not converge, and its
    failed iterations cost each engine about half of its time (``benchmarks/core_op.py``)."""
    from pycim.flows.mvm import OP_OPTIONS, VACASK_OP_OPTIONS
    from pycim.netlist.reference import NETLISTS_DIR, REFERENCE
    from pycim.sim import NgspiceEngine, Op, VacaskEngine

    t0 = time.perf_counter()
    if engine == "ngspice":
        res = NgspiceEngine(timeout_s=3600, options=OP_OPTIONS).run(
            (NETLISTS_DIR / "core_256x256.cir").read_text(), Op())
    else:
        res = VacaskEngine(timeout_s=3600, options=VACASK_OP_OPTIONS).run(
            REFERENCE["core_256x256.cir"].circuit(), Op())
    v = np.array([res.value(f"sl{j}") for j in range(256)])
    return {"sim_s": time.perf_counter() - t0, "sl_mean_v": float(v.mean())}


CASES["reference_core_op"] = reference_core_op
CASES.update(__import__("benchmarks.fit_cases", fromlist=["_"]).FIT_CASES)
CASES.update(__import__("benchmarks.macro_cases", fromlist=["_"]).MACRO_CASES)
CASES.update(__import__("benchmarks.codes_cases", fromlist=["_"]).MVM_CODES_CASES)
CASES["adc_calibration"] = __import__("benchmarks.adc_calibration", fromlist=["_"]).run

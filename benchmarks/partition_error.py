"""The partitioned MVM transient against the full deck, one vector, same run.

    PYTHONPATH=. python benchmarks/partition_error.py ROWS COLS [IN OUT] [--seg N] [--jobs J]
        [--bank K] [--seed S] [--no-full]

A random signed W (ROWS/2 x COLS, row_pair mapping: ROWS physical rows) and x, SKY130 drivers
and access FETs, RRAM read model, wire R/C in N-cell segments; forward. Prints the wall time of
each (the full deck in ngspice; the partitioned run's array stage and banks), and the
partitioned run's error against the full deck: codes, the settled line per plane (mV and
line-referred LSB), the integrator voltage before the conversion (in the conversion's LSB
2 FS / 2^B) and energy per group. JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from pycim.cim.request import MvmRequest
from pycim.flows.mvm import MVM_TIMEOUT_S, max_step_s, mvm_options, neuron_readout
from pycim.flows.partition import Partition, run_vector
from pycim.measure.energy import energy_by_group
from pycim.measure.neuron import read_neuron
from pycim.netlist.mvm_deck import mvm_deck, mvm_setup, saved_vectors
from pycim.netlist.neuron import conversion_bits
from pycim.sim import NgspiceEngine, Tran


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", type=int)
    ap.add_argument("cols", type=int)
    ap.add_argument("in_bits", type=int, nargs="?", default=4)
    ap.add_argument("out_bits", type=int, nargs="?", default=6)
    ap.add_argument("--seg", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--bank", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--array-max-step", type=float, default=None)
    ap.add_argument("--pwl-tol", type=float, default=None)
    ap.add_argument("--no-full", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    w = rng.uniform(-1, 1, (a.rows // 2, a.cols))
    lim = 2 ** (a.in_bits - 1) - 1
    x = rng.integers(-lim, lim + 1, (1, a.rows // 2))
    req = MvmRequest(w, x, a.in_bits, a.out_bits, wire_segment_cells=a.seg, seed=a.seed)
    setup = mvm_setup(req)
    spec, sched = setup.neuron, setup.schedule
    tran = Tran(1e-9, sched.t_stop, max_step_s(spec, sched))
    eng = NgspiceEngine(timeout_s=MVM_TIMEOUT_S, options=mvm_options(spec, sched))
    kw = {"bank": a.bank, "jobs": a.jobs}
    if a.array_max_step:
        kw["array_max_step_s"] = a.array_max_step
    if a.pwl_tol:
        kw["pwl_tol_v"] = a.pwl_tol
    t0 = time.perf_counter()
    vr = run_vector(req, setup, 0, NgspiceEngine(timeout_s=MVM_TIMEOUT_S), eng, tran,
                    Partition(**kw))
    t_part = time.perf_counter() - t0
    lsb_int = 2 * spec.adc_fs_v / 2 ** conversion_bits(sched)
    out = {"shape": [a.rows, a.cols], "in_bits": a.in_bits, "out_bits": a.out_bits,
           "seg": a.seg, "bank": a.bank, "jobs": a.jobs, "partition_wall_s": round(t_part, 2),
           "partition_energy_pj": {k: round(v * 1e12, 3) for k, v in vr.energy.items()},
           "partition_codes": vr.codes.astype(int).tolist(),
           "partition_v_lines_v": np.round(vr.v_lines, 6).tolist()}
    print(f"partitioned: {t_part:.1f} s wall, energy {out['partition_energy_pj']}", flush=True)
    if not a.no_full:
        core = mvm_deck(req, setup, 0)
        t0 = time.perf_counter()
        res = eng.run(core.circuit, tran, temp_c=req.temp_c, save=saved_vectors(core))
        t_full = time.perf_counter() - t0
        v_lines, code = neuron_readout(res, core.neurons, sched, spec)
        v_int = np.array([read_neuron(res, sched, nd, spec).residues[0] for nd in core.neurons])
        e = energy_by_group(res, core.circuit, core.groups, core.logic)
        dv = (vr.v_lines - v_lines) * 1e3
        di = (vr.v_int - v_int) / lsb_int
        out.update({
            "full_wall_s": round(t_full, 2),
            "full_energy_pj": {k: round(v * 1e12, 3) for k, v in e.items()},
            "code_diff": (vr.codes - code).astype(int).tolist(),
            "v_line_diff_mv_max": round(float(np.abs(dv).max()), 4),
            "v_line_diff_mv_rms": round(float(np.sqrt(np.mean(dv ** 2))), 4),
            "v_line_diff_lsb_max": round(float(np.abs(dv).max() / (setup.lsb_v * 1e3)), 4),
            "v_int_diff_lsb_max": round(float(np.abs(di).max()), 4),
            "v_int_diff_lsb_mean": round(float(np.mean(di)), 4),
            "v_int_diff_lsb_rms": round(float(np.sqrt(np.mean(di ** 2))), 4),
            "energy_rel_diff": {k: round((vr.energy[k] - v) / v, 5) for k, v in e.items()
                                if abs(v) > 0}})
        print(f"full deck: {t_full:.1f} s wall, energy {out['full_energy_pj']}")
        print(f"codes differ at {int(np.count_nonzero(vr.codes != code))} of {code.size} "
              f"(max {int(np.abs(vr.codes - code).max())}); settled line max "
              f"{out['v_line_diff_mv_max']} mV; integrator before conversion: max "
              f"{out['v_int_diff_lsb_max']}, mean {out['v_int_diff_lsb_mean']}, rms "
              f"{out['v_int_diff_lsb_rms']} LSB; energy {out['energy_rel_diff']}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

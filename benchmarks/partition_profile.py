"""ngspice's own profile of a partitioned MVM's array stage (``rusage all`` appended to the deck).

    PYTHONPATH=. python benchmarks/partition_profile.py N [SEG] [MAX_STEP_S] [PART]

An N x N core (W (N/2, N) uniform in [-1, 1], 4-bit inputs, seed 0, SKY130 drivers and access
FETs, RRAM read model, wire R/C in SEG-cell segments, default 1), the array stage alone
(``neuron_part`` as the flow picks it: track/hold, or also the sampling switches where the
lines do not settle; PART ``front`` or ``front_sampling`` forces one), transient step cap
MAX_STEP_S (default the flow's ``ARRAY_MAX_STEP_S``). Prints timepoints, Newton iterations, load / factor / solve times and
the points inside each read pulse (30 ns before its start to 40 ns after its end).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np


def main() -> None:
    warnings.simplefilter("ignore")
    from benchmarks.ngspice_stats import ngspice_rusage
    from pycim.cim.request import MvmRequest
    from pycim.flows import partition as part
    from pycim.netlist.mvm_deck import mvm_deck, mvm_setup, saved_vectors
    from pycim.netlist.neuron import input_windows
    from pycim.sim import NgspiceEngine, Tran

    n = int(sys.argv[1])
    seg = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    max_step = float(sys.argv[3]) if len(sys.argv) > 3 else part.ARRAY_MAX_STEP_S

    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (n // 2, n))
    x = rng.integers(-7, 8, (1, n // 2))
    req = MvmRequest(w, x, 4, 6, wire_segment_cells=seg)
    setup = mvm_setup(req)
    miss = part.settling_miss(req, setup, setup.neuron.t_edge_s)
    kind = sys.argv[4] if len(sys.argv) > 4 else (
        "front_sampling" if miss > part.SAMPLING_MISS else "front")
    core = mvm_deck(req, setup, 0, neuron_part=kind)
    with ngspice_rusage() as runs:
        t0 = time.perf_counter()
        res = NgspiceEngine(timeout_s=3600).run(core.circuit, Tran(1e-9, setup.schedule.t_stop,
                                                                    max_step),
                                                save=saved_vectors(core))
        wall = time.perf_counter() - t0
    r = runs[-1]
    stats = {k: int(r[k]) if k in r else None
             for k in ("Transient iterations", "Transient timepoints", "Rejected timepoints")}
    stats.update({f"{k}_s": r.get(f"Transient {k} time") for k in ("load", "factor", "solve")})
    t = np.asarray(res["time"])
    inside = [int(((t > t0_ - 30e-9) & (t < t1 + 40e-9)).sum())
              for _, _, t0_, t1 in input_windows(setup.schedule)]
    print(f"{n}x{n} seg {seg}, array stage {kind} (settling miss {miss:.2g}), step cap "
          f"{max_step:g} s: {wall:.1f} s wall; {stats}; points per read pulse {inside}, "
          f"elsewhere {t.size - sum(inside)}")


if __name__ == "__main__":
    main()

"""Profile one :class:`pycim.macro.core.Core` forward call (the ``macro_throughput`` workload).

A calibrated 128 x 256 core (default fitted model or ``--model``, seed 0), 4-bit inputs, 6-bit
codes, one BLAS thread: thread CPU time and minor page faults per call (medians / means over the calls),
then cProfile's functions by own time. Only the public API is used, so the same script
profiles another checkout: run it from a directory without a ``pycim`` package, with
``PYTHONPATH`` at the tree to profile, e.g.::

    cd /tmp && PYTHONPATH=/path/to/tree python /path/to/benchmarks/macro_profile.py --batch 1024
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import time
import warnings

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--model", default=None,
                    help="a model file (default: the packaged model), e.g. an earlier round's "
                         "from `git show REV:pycim/macro/default_model.json`")
    args = ap.parse_args(argv)
    if args.batch < 1 or args.calls < 1:
        ap.error("--batch and --calls must be >= 1")
    from threadpoolctl import threadpool_limits

    from pycim.macro.core import Core
    from pycim.macro.model import MacroModel

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a full core is outside the fit's row range
        rng = np.random.default_rng(0)
        core = Core(rng.uniform(-1, 1, (128, 256)), model=MacroModel.load(args.model), seed=0)
        x = rng.integers(-7, 8, (args.batch, 128))
        a = rng.standard_normal((args.batch, 128)).astype(np.float32)
        b = rng.standard_normal((128, 256)).astype(np.float32)
        core.calibrate("forward", 4, 6)
        core.forward(x)
        cpu, np_cpu, faults = [], [], 0
        for i in range(args.calls):
            c0 = time.thread_time()
            a @ b
            np_cpu.append(time.thread_time() - c0)
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            c0 = time.thread_time()
            core.forward(x)
            cpu.append(time.thread_time() - c0)
            faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        print(f"batch {args.batch}: Core.forward CPU median {np.median(cpu) * 1e6:.0f} us "
              f"(min {min(cpu) * 1e6:.0f}), float32 matmul (same logical shape) median "
              f"{np.median(np_cpu) * 1e6:.0f} us (min {min(np_cpu) * 1e6:.0f}), "
              f"{faults / args.calls:.0f} minor page faults per forward call")
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.calls):
            core.forward(x)
        prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

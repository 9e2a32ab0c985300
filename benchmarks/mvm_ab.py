"""One 4-bit / 6-bit transistor-level MVM (16 signed rows x 16 columns, seed 0) timed in the
current process: wall time, the simulator's CPU time and the codes. For before/after checks of
one tree against another on the same machine in the same minute:

    PYTHONPATH=/path/to/tree .venv/bin/python benchmarks/mvm_ab.py [N]
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np

try:  # this tree
    from pycim.cim.request import MvmRequest
    from pycim.dispatch import run_mvm
except ImportError:  # trees before pycim/cim (de5b589 and earlier)
    from pycim.flows.mvm import MvmRequest, run_mvm

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (n // 2 if n > 16 else n, n))
    x = rng.integers(-7, 8, (1, w.shape[0]))
    t0 = time.perf_counter()
    out = run_mvm(MvmRequest(w, x, 4, 6), progress=False)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"wall {time.perf_counter() - t0:.1f} s, simulator cpu {ru.ru_utime + ru.ru_stime:.1f} s, "
          f"codes {out['code'][0][:8]}")

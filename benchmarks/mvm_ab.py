"""One 4-bit / 6-bit transistor-level MVM (16 signed rows x 16 columns, seed 0) timed in the
current process: wall time, the simulator's CPU time and the codes. For before/after checks of
one tree against another on the same machine in the same minute:

    PYTHONPATH=/path/to/tree .venv/bin/python benchmarks/mvm_ab.py [N]

E.g. against v0.1 (``git worktree add /tmp/v01 1ee9fe5``, the tree of the issue's 10.2 s),
alternating the two, each run timed as a whole process::

    for i in 1 2 3; do
      PYTHONPATH=. /usr/bin/time -f "now  %U s" .venv/bin/python benchmarks/mvm_ab.py
      PYTHONPATH=/tmp/v01 /usr/bin/time -f "v0.1 %U s" .venv/bin/python benchmarks/mvm_ab.py
    done
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

import pycim

# trees before pycim/cim (de5b589 and earlier) have the request in the flow; asked of the tree
# on PYTHONPATH itself (an editable install's finder would otherwise resolve pycim.cim from
# the installed checkout)
if (Path(pycim.__path__[0]) / "cim" / "request.py").is_file():
    from pycim.cim.request import MvmRequest
    from pycim.dispatch import run_mvm
else:
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

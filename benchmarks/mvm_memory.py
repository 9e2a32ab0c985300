"""ngspice peak RSS of one 4-bit / 6-bit MVM transient per shape: the data of
pycim.resources.MVM_FIT (tests/test_reliability.py's MVM_FITTED_ON).

    python benchmarks/mvm_memory.py [N_IN,N_OUT,IDEAL ...]

Each MVM (random weights in [-1, 1], one random input vector, seed 0) runs in its own Python
process, whose children's peak RSS (ngspice) is printed in MB beside the model's estimate.
Default shapes: 4,4,0 8,8,0 16,16,0 32,16,0 16,32,0 32,64,0 16,16,1 8,16,0 (the last held out).
"""

from __future__ import annotations

import subprocess
import sys

CHILD = r'''
import resource, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from pycim.cim.request import MvmRequest
from pycim.dispatch import run_mvm
n_in, n_out, ideal = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
rng = np.random.default_rng(0)
w = rng.uniform(-1, 1, (n_in, n_out))
x = rng.integers(-7, 8, (1, n_in))
run_mvm(MvmRequest(w, x, 4, 6, ideal=ideal), progress=False)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
'''
SHAPES = ["4,4,0", "8,8,0", "16,16,0", "32,16,0", "16,32,0", "32,64,0", "16,16,1", "8,16,0"]


def main(argv: list[str]) -> None:
    from pycim import resources

    for shape in argv or SHAPES:
        n_in, n_out, ideal = (int(v) for v in shape.split(","))
        r = subprocess.run([sys.executable, "-c", CHILD, str(n_in), str(n_out), str(ideal)],
                           capture_output=True, text=True, check=True)
        b = int(r.stdout.strip().splitlines()[-1])
        est = resources.mvm_sim_b(n_in, n_out, ideal=bool(ideal))
        print(f"{n_in}x{n_out}{' ideal' if ideal else ''}: {b / 1e6:.2f} MB measured, "
              f"{est / 1e6:.2f} MB estimated ({est / b - 1:+.1%})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

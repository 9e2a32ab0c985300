"""Cost of the backward active-fraction offset in the macro-model's fast path.

``python benchmarks/macro_backward_cost.py``: thread-CPU medians (7 calls after a warm-up) of
``Core.backward_lines`` on a 128 x 256 core (4-bit inputs, 6-bit codes, batch 1024) with the
packaged model, and with its backward ``b_act_v`` / ``b_load_v`` set to 0 (no magnitudes
operator block in the matmul)."""

import time
import warnings

import numpy as np

from pycim.macro.core import Core
from pycim.macro.model import MacroModel


def main() -> None:
    warnings.simplefilter("ignore")
    m = MacroModel.load()
    m0 = m.with_(line_backward={**m.line_backward, "b_act_v": 0.0, "b_load_v": 0.0})
    w = np.random.default_rng(0).uniform(-1, 1, (128, 256))
    x = np.random.default_rng(1).integers(-7, 8, (1024, 256))
    for name, mm in (("with b_act/b_load", m), ("without", m0)):
        core = Core(w, model=mm, seed=0)
        core.backward_lines(x, 4, 6)
        ts = []
        for _ in range(7):
            t0 = time.thread_time()
            core.backward_lines(x, 4, 6)
            ts.append(time.thread_time() - t0)
        print(f"{name}: median thread CPU {np.median(ts) * 1e3:.1f} ms per call")


if __name__ == "__main__":
    main()

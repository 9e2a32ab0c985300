"""CPU cost of the macro-model's wires resolved by position on a full 128 x 256 core.

    PYTHONPATH=. python benchmarks/wire_cost.py

The packaged model's whole line operator with the wires (what ``Core`` makes on the first
large call of each direction), the wires solved for three planes alone (``plane_lines``: a
request of the macro engine, or a ``Core`` call of few vectors) and the lumped operator; then
the wires solved for half, one and one and a half times the inputs' count of random planes
alone (``wire_lines``) against the whole operator, where ``MacroModel.plane_lines`` switches
from one to the other (at two thirds of the inputs)."""

import time
import warnings

import numpy as np

from pycim.cim.programming import program
from pycim.macro.model import MacroModel


def main() -> None:
    warnings.simplefilter("ignore")
    m = MacroModel.load()
    p = program(np.random.default_rng(0).uniform(-1, 1, (128, 256)), 0)
    for d in ("forward", "backward"):
        md = m.for_direction(d)
        x = np.random.default_rng(1).choice([-1.0, 0.0, 1.0], (3, 128 if d == "forward" else 256))
        cost = {}
        for name, call in (("wired operator", lambda: md.line_operator(p.g_pos_s, p.g_neg_s, d)),
                           ("3 planes", lambda: md.plane_lines(p.g_pos_s, p.g_neg_s, x, d)),
                           ("lumped operator",
                            lambda: md.lumped_operator(p.g_pos_s, p.g_neg_s, d))):
            t = time.process_time()
            call()
            cost[name] = time.process_time() - t
        print(f"{d}: " + ", ".join(f"{k} {v:.2f} CPU-s" for k, v in cost.items()))
        n_x = x.shape[1]
        for k in (n_x // 2, n_x, 3 * n_x // 2):
            pk = np.random.default_rng(2).choice([-1.0, 0.0, 1.0], (k, n_x))
            t = time.process_time()
            md.wire_lines(p.g_pos_s, p.g_neg_s, pk, d)
            print(f"  {k} planes alone ({k / n_x:.1f} x the inputs): "
                  f"{time.process_time() - t:.2f} CPU-s (the whole wired operator: "
                  f"{cost['wired operator']:.2f})")


if __name__ == "__main__":
    main()

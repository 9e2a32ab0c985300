"""What the default model's dense per-line share term costs and what it carries (issue 18 item 6).

    PYTHONPATH=. python benchmarks/share_term_cost.py [--batch B] [--repeats R]

The forward model's active-fraction offset has a mean-field part (the array's driven share,
low-rank) and ``b_act_line_v`` times each source-line's own share against it: a dense
(inputs x lines) operator, so an exact call is a K = 2n product against the reference matmul's
K = n. On ``macro_throughput``'s workload (a random 128 x 256 core, seed 0, 4-bit inputs ->
6-bit codes, batch 1024, one BLAS thread) this prints, for the packaged default model and for
the same model with ``b_act_line_v = 0`` (the term beyond the mean field dropped; not a refit):

- the pre-ADC values' difference (code units, ``keep_y``): RMS and max;
- the share of output codes that differ between the two models' exact calls;
- each core's call time against the same-shape float32 matmul, interleaved (thread CPU
  medians, ``ratio_cpu`` as ``make bench`` reports it), and whether its folded chain is fused.

A model without the term is not what the fit found; the figures are for the issue author's
decision on item 6's target, not a change of the packaged model.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    import pycim.macro.core  # noqa: F401  (scipy's BLAS loaded under the limit)
    from benchmarks.macro_cases import _interleaved_s
    from pycim.macro.core import CORE_IN, CORE_OUT, Core
    from pycim.macro.model import MacroModel

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a full core lies outside the fit's range
        rng = np.random.default_rng(0)
        full = MacroModel.packaged("default")
        mean = full.with_(line={**full.line, "b_act_line_v": 0.0})
        w = rng.uniform(-1, 1, (CORE_IN, CORE_OUT))
        x = rng.integers(-7, 8, (args.batch, CORE_IN))
        cores = {"default": Core(w, model=full, seed=0), "mean_field": Core(w, model=mean, seed=0)}
        y = {k: c.forward(x, 4, 6, keep_y=True).y for k, c in cores.items()}
        codes = {k: c.forward(x, 4, 6, exact=True).code for k, c in cores.items()}
        d = y["mean_field"] - y["default"]
        print(f"b_act_line_v = {full.line['b_act_line_v'] * 1e3:.3f} mV; dropping it moves the "
              f"pre-ADC values by RMS {np.sqrt(np.mean(d * d)):.4f}, max "
              f"{np.max(np.abs(d)):.4f} LSB")
        print(f"codes differing between the two models' exact calls: "
              f"{np.mean(codes['mean_field'] != codes['default']):.4f} of {d.size}")
        a = rng.standard_normal((args.batch, CORE_IN)).astype(np.float32)
        b = rng.standard_normal((CORE_IN, CORE_OUT)).astype(np.float32)
        for c in cores.values():
            c.forward(x)  # builds the folded chain (programming-time work)
        r = _interleaved_s({"numpy": lambda: a @ b,
                            **{k: (lambda c=c: c.forward(x)) for k, c in cores.items()}},
                           args.repeats)
        for k, c in cores.items():
            chain = c.fast_chain("forward", 4, 6)
            print(f"{k}: {r['median_cpu_s'][k] * 1e3:.3f} ms CPU per call against the matmul's "
                  f"{r['median_cpu_s']['numpy'] * 1e3:.3f} ms: ratio_cpu "
                  f"{r['median_cpu_s']['numpy'] / r['median_cpu_s'][k]:.3f} "
                  f"(fused chain: {bool(chain is not None and chain.fused)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

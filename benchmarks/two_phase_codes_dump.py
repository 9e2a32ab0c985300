"""Per-output view of a two-phase MVM on the ``mvm_codes`` spread problem (16 x 16 ideal core,
tt): each output's high- and low-phase reference (tests/mvm_reference.py), its distance above
the phase's code boundary, the phase codes and the shift-added code against the reference's
quantisation, flagging outputs off by more than one LSB.

    PYTHONPATH=. python benchmarks/two_phase_codes_dump.py IN_BITS OUT_BITS [name=value ...]

``name=value``: NeuronSpec overrides (``benchmarks.neuron_issue17.spec_kwargs``), e.g.
``az_sw_wp_um=1.14`` for the az switch before the fourteenth round: at (6, 8) its three misses
were one weight column with y_hi = 4.914 (0.914 above the boundary 4, 0.086 under 5)
converted as 5; with the default (1.20 um) none.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.neuron_issue17 import spec_kwargs  # noqa: E402


def main(in_bits: int, out_bits: int, overrides: dict) -> None:
    import mvm_reference as ref

    from pycim.cim.request import MvmRequest
    from pycim.dispatch import run_mvm

    warnings.simplefilter("ignore")
    fs = ref.matched_fs_two_phase_v(in_bits)
    w, x = ref.spread_problem_two_phase(in_bits, out_bits, 16, 16, fs_v=fs)
    with ref.neuron_defaults(**overrides):
        out = run_mvm(MvmRequest(w, x, in_bits, out_bits, phases=2, ideal=True, prog_tol_s=0.0,
                                 read_pulse_s=2 * ref.READ_PULSE_SMALL_S,
                                 adc_full_scale_v=fs), progress=False)
    y_hi, y_lo, q = ref.reference_two_phase(out["g_pos_s"], out["g_neg_s"], x, in_bits,
                                            out_bits, fs)
    y_hi, y_lo, q = (np.asarray(a, float).ravel() for a in (y_hi, y_lo, q))
    c_hi, c_lo = (np.array(c).ravel() for c in out["phase_codes"])
    code = np.array(out["code"]).ravel()
    for i in range(code.size):
        miss = "  MISS" if abs(code[i] - q[i]) > 1 else ""
        print(f"{i:2d} y_hi {y_hi[i]:+8.3f} (+{y_hi[i] - np.floor(y_hi[i]):.3f}) code {c_hi[i]:+4d}"
              f" | y_lo {y_lo[i]:+8.3f} (+{y_lo[i] - np.floor(y_lo[i]):.3f}) code {c_lo[i]:+4d}"
              f" | code {code[i]:+5d} reference {int(q[i]):+5d}{miss}")
    print(f"within +-1 LSB: {np.mean(np.abs(code - q) <= 1):.4f} of {code.size}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(int(sys.argv[1]), int(sys.argv[2]), spec_kwargs(sys.argv[3:]))

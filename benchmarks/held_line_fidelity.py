"""How far the held-line transfer is from x.W (numpy only, no simulation).

For a random W (uniform in [-1, 1], seed 0) and random signed inputs, the ideal output with
binary plane weights 2^(n-1) against the held-line closed form (``held_plane_weights`` with
C_line = cells x line_c_per_cell_f + line_c_fixed_f + C_hold and C_sample), after the best
common scale: normalised RMS error ||a y_held - y_bin|| / ||y_bin||, and the plane weights.

    python benchmarks/held_line_fidelity.py ROWS COLS IN_BITS [C_SAMPLE_FF [C_HOLD_FF]]
"""

from __future__ import annotations

import sys

import numpy as np


def main(rows: int, cols: int, in_bits: int, c_s_ff: float | None, c_hold_ff: float) -> None:
    from pycim import assumptions
    from pycim.cim.closed_form import closed_form_planes, held_plane_weights, line_capacitance_f
    from pycim.cim.encoding import bit_planes, plane_weights
    from pycim.cim.mapping import weights_to_conductances

    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (rows, cols))
    lim = 2 ** (in_bits - 1) - 1 if in_bits > 1 else 1
    x = rng.integers(-lim if in_bits > 1 else 0, lim + 1, (64, rows))
    gp, gn = weights_to_conductances(w)
    v = closed_form_planes(gp, gn, bit_planes(x, in_bits), 0.1, "forward")
    c_line = line_capacitance_f(2 * rows, c_hold_ff * 1e-15)  # row_pair: 2 cells per weight
    c_s = assumptions.value("neuron_c_sample_eff_f") if c_s_ff is None else c_s_ff * 1e-15
    wh = held_plane_weights(in_bits, c_line, c_s, in_pulse=False)
    wb = plane_weights(in_bits)
    y_b = np.einsum("bpn,p->bn", v, wb)
    y_h = np.einsum("bpn,p->bn", v, wh)
    a = float(np.sum(y_h * y_b) / np.sum(y_h * y_h))
    err = float(np.linalg.norm(a * y_h - y_b) / np.linalg.norm(y_b))
    print(f"{rows}x{cols} in {in_bits} b: C_line {c_line * 1e15:.1f} fF, C_s {c_s * 1e15:.0f} fF, "
          f"r {c_line / (c_line + c_s):.3f}; held plane weights {np.round(wh, 3).tolist()} vs "
          f"{wb.tolist()}; signal vs binary (sum of weights) {wh.sum() / wb.sum():.3f}; "
          f"normalised RMS error vs x.W after the best scale {err:.3f}")


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) not in (3, 4, 5):
        raise SystemExit(__doc__)
    main(int(a[0]), int(a[1]), int(a[2]), float(a[3]) if len(a) > 3 else None,
         float(a[4]) if len(a) > 4 else 0.0)

"""The sensed lines' offset on full transistor-level cores (issue 17 item 6), and the model's.

    PYTHONPATH=. python benchmarks/full_core_line_offset.py [RESULTS_DIR]

On the committed forward full cores (default ``characterization/results/fit_full``), per
input plane: the SPICE settled line minus the ideal closed form (mean over the 256 lines),
the intercept and slope of SPICE against the closed form, the plane's number of active
inputs, and the packaged macro-model's prediction of the same lines. Then the offset's
least-squares line against the number of active inputs. No simulation; a second or two.

The finding it records: the offset is about -38 mV per plane on dense random inputs, grows
with the number of active inputs and not with their sign (each active input drives its G+
and G- rows to opposite sides of Vref), and the model reproduces it (its activity offset
terms ``b_act_v`` / ``b_load_v``), so a full core's codes are one-sided.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np


def main(results_dir: str | None = None) -> dict:
    from pycim.characterize.tables import load_results
    from pycim.cim.closed_form import active_fraction, line_conductance_s
    from pycim.fit.fits import mvm_points
    from pycim.macro.model import MacroModel, OutOfRangeWarning

    warnings.simplefilter("ignore", OutOfRangeWarning)
    d = Path(results_dir or Path(__file__).parents[1] / "characterization/results/fit_full")
    m = MacroModel.load()
    print("seed in_bits plane active  SPICE-ideal [mV]  intercept [mV]  slope | model-ideal [mV]")
    rows = []
    for pt in mvm_points(load_results(d)["mvm_fit"]):
        if pt.p["direction"] != "forward":
            continue
        g = line_conductance_s(pt.g_pos, pt.g_neg, "forward")
        for k in range(pt.planes.shape[1]):
            pl = pt.planes[:, k, :]
            v_op = m.v_read_v * m.plane_lines(pt.g_pos, pt.g_neg, pl[:, None, :], "forward")[:, 0]
            act = active_fraction(pt.g_pos, pt.g_neg, pl, "forward")
            pred = m.settled_line_v(v_op, 2 * pt.p["n_in"], g, act)
            vs, vi = pt.v_settled[:, k, :].ravel(), pt.v_ideal[:, k, :].ravel()
            slope, icpt = np.linalg.lstsq(np.vstack([vi, np.ones(vi.size)]).T, vs, rcond=None)[0]
            rows.append((int(np.abs(pl).sum()), 1e3 * np.mean(vs - vi),
                         1e3 * np.mean(pred.ravel() - vi)))
            print(f"{pt.p['seed']:4d} {pt.p['in_bits']:7d} {k:5d} {rows[-1][0]:6d} "
                  f"{rows[-1][1]:17.2f} {1e3 * icpt:15.2f} {slope:6.3f} | {rows[-1][2]:16.2f}")
    n, sp, mo = (np.array(c, dtype=float) for c in zip(*rows))
    per_input, at_zero = np.polyfit(n, sp, 1)
    out = {"planes": len(rows), "spice_mean_mv": float(sp.mean()),
           "spice_range_mv": [float(sp.min()), float(sp.max())],
           "mv_per_active_input": float(per_input), "mv_at_no_input": float(at_zero),
           "model_minus_spice_rms_mv": float(np.sqrt(np.mean((mo - sp) ** 2)))}
    print(f"{out['planes']} planes: SPICE line offset mean {out['spice_mean_mv']:.1f} mV "
          f"({out['spice_range_mv'][0]:.1f} .. {out['spice_range_mv'][1]:.1f}); "
          f"{per_input:.3f} mV per active input {at_zero:+.1f} mV; model - SPICE RMS "
          f"{out['model_minus_spice_rms_mv']:.2f} mV")
    return out


if __name__ == "__main__":
    main(*sys.argv[1:2])

"""A macro-model's settled-line residual per fit point, and how much of the small backward
arrays' scatter the driven lines' IR drop per drive polarity would explain.

    PYTHONPATH=. python benchmarks/line_residuals.py [MODEL.json] [RESULTS_DIR ...]

For every point of the fit sweeps (default: the packaged model on
characterization/results/fit, fit_full, fit_sparse, fit_mid, fit_fine) it prints the residual
model - SPICE of the settled lines per plane (RMS, max, mean in mV) beside the point's output
LSB. Then, on the backward points of at most 16 driven rows, it regresses the residual on the
driven lines' current-weighted share per polarity (each driven line j's current
I_j = sum_i G_ij (s_j v_read - V_i), seen by sensed line i as sum_j G_ij I_j / sum_j G_ij,
for the lines driven up, down and held at Vref), and on each cell's series resistance per
polarity of its drive (sum_j G_ij^2 (s_j v_read - V_i) / sum_j G_ij over the cells driven up,
down and held: the access FET's on-resistance moves with the driven source-line's voltage),
and prints the RMS each regression leaves: the part such terms could take (the twentieth
round's packaged model: 2.33 mV -> 2.28 with the drivers' IR drop, 2.13 with the cells' series
resistance, +774 / -570 ohm up / down against the model's, 2.04 with both; the same round's
model fitted with each point weighed about alike, ``--line-size-weight 0.5``: 2.32 -> 2.20,
1.98, +805 / -972 ohm).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

from benchmarks.fit_data import mvm_fit_table


def main(argv: list[str]) -> None:
    from pycim.cim.closed_form import sense_views
    from pycim.fit.fits import mvm_points
    from pycim.macro.model import MacroModel

    model = MacroModel.load(argv[0]) if argv and argv[0].endswith(".json") else MacroModel.load()
    df = mvm_fit_table([a for a in argv if not a.endswith(".json")])
    rows, feats, ys = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pts = mvm_points(df)
        for pt in pts:
            mm = pt.model(model)
            v = mm.held_line_v(pt.v_eff_planes(mm), pt.n_rows, pt.g_sum, pt.act)
            r = (v - pt.v_settled) * 1e3
            p = pt.p
            rows.append((p["direction"], p["n_in"], p["n_out"], p["in_bits"], p["out_bits"],
                         p["seed"], p["read_pulse_s"] * 1e9, p.get("density", 1.0),
                         float(np.sqrt(np.mean(r ** 2))), float(np.abs(r).max()),
                         float(r.mean()), mm.lsb_v(p["out_bits"]) * 1e3))
            if pt.direction == "backward" and pt.n_rows <= 16:
                g, s = sense_views(pt.g_pos, pt.g_neg, "backward")  # (driven, sensed)
                pl = pt.planes
                i_j = ((pl[..., :, None] * pt.v_read - pt.v_ideal[..., None, :]) * g).sum(-1)
                share = [np.einsum("bpj,ji->bpi", i_j * sel, g) / s * 1e3
                         for sel in (pl > 0, pl < 0, pl == 0)]
                # each cell's series resistance per drive polarity: sum_j G_ij^2 dV_ij / S_i
                dv = pl[..., :, None] * pt.v_read - pt.v_settled[..., None, :]
                ser = [((g ** 2) * dv * sel[..., :, None]).sum(-2) / s * 1e3
                       for sel in (pl > 0, pl < 0, pl == 0)]
                feats.append(np.stack([np.ones(r.size), *(x.ravel() for x in share),
                                       *(x.ravel() for x in ser)], 1))
                ys.append(r.ravel())
    t = pd.DataFrame(rows, columns=["direction", "n_in", "n_out", "in_bits", "out_bits",
                                    "seed", "pulse_ns", "density", "rms_mV", "max_mV",
                                    "mean_mV", "lsb_mV"])
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(t.sort_values(["direction", "n_in", "n_out", "in_bits", "seed"]).round(3)
              .to_string(index=False))
    for d, g in t.groupby("direction"):
        small = g[(g["n_out"] if d == "backward" else 2 * g["n_in"]) <= 16]
        print(f"{d}: rms over points {np.sqrt((g['rms_mV'] ** 2).mean()):.3f} mV; "
              f"<= 16 driven rows {np.sqrt((small['rms_mV'] ** 2).mean()):.3f} mV")
    if ys:
        f, y = np.concatenate(feats), np.concatenate(ys)
        print(f"backward, <= 16 driven rows: residual {y.std():.3f} mV RMS about its mean "
              f"(n = {y.size}); what each regression leaves:")
        for name, cols in (("the driven lines' IR drop per polarity", [0, 1, 2, 3]),
                           ("each cell's series resistance per polarity", [0, 4, 5, 6]),
                           ("both", list(range(7)))):
            c, *_ = np.linalg.lstsq(f[:, cols], y, rcond=None)
            extra = (f"; extra series resistance +, -, 0: {c[1]:+.0f}, {c[2]:+.0f}, "
                     f"{c[3]:+.0f} ohm" if cols[1] == 4 else "")
            print(f"  {name}: {np.std(y - f[:, cols] @ c):.3f} mV{extra}")


if __name__ == "__main__":
    main(sys.argv[1:])

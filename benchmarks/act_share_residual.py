"""How a macro-model's forward line residual follows each source-line's own active share
(the evidence for ``b_act_line_v``, :func:`pycim.cim.closed_form.active_fraction`'s third
term).

    PYTHONPATH=. python benchmarks/act_share_residual.py MODEL.json [RESULTS_DIR ...]

For every forward point of the fit sweeps (default: characterization/results/fit, fit_full,
fit_sparse, fit_mid, fit_fine) it takes the model's settled lines without the per-line term
(``b_act_line_v`` set to 0), the residual model - SPICE per plane and line (mV), and the
line's own active share minus the array's (the mean field the model's ``b_act_v`` and
``b_load_v`` see). Per array size it prints the residual's RMS, its correlation with the
deviation and the slope (mV per unit share); then one slope over every size on the deviation
scaled by n_rows / 256 (the term as the model has it) and the RMS each size is left with.
The sixteenth round's model, fitted without the term, shows what it left out (on the four
sweeps it was fitted on)::

    git show 1c0d22a:pycim/macro/default_model.json > /tmp/m16.json
    PYTHONPATH=. python benchmarks/act_share_residual.py /tmp/m16.json \
        characterization/results/{fit,fit_full,fit_sparse,fit_mid}
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from benchmarks.fit_data import result_dirs


def main(argv: list[str]) -> dict:
    from pycim.characterize.tables import load_results
    from pycim.cim.closed_form import ACT_LINE_REF_ROWS, active_fraction
    from pycim.fit.fits import mvm_points
    from pycim.macro.model import MacroModel

    if not argv:
        sys.exit(__doc__)
    warnings.simplefilter("ignore")
    m = MacroModel.load(argv[0])
    m = m.with_(line={**m.line, "b_act_line_v": 0.0})
    dirs = result_dirs(argv[1:])
    by_size: dict[tuple[int, int], list[np.ndarray]] = {}
    for rd in dirs:
        for pt in mvm_points(load_results(rd)["mvm_fit"]):
            if pt.direction != "forward":
                continue
            mm = pt.model(m)
            act = active_fraction(pt.g_pos, pt.g_neg, pt.planes, "forward")
            v = mm.settled_line_v(pt.v_eff_planes(mm), pt.n_rows, pt.g_sum, act)
            e = (v - pt.v_settled) * 1e3
            dev = act[2] * ACT_LINE_REF_ROWS / pt.n_rows  # the unscaled share deviation
            by_size.setdefault((pt.p["n_in"], pt.p["n_out"]), []).append(
                np.c_[e.ravel(), dev.ravel(), act[2].ravel()])
    out = {"sizes": {}}
    print("size        n   RMS [mV]  corr   slope [mV / unit share]")
    for key, r in sorted(by_size.items()):
        x = np.vstack(r)
        slope, icpt = np.polyfit(x[:, 1], x[:, 0], 1)
        rms = float(np.sqrt(np.mean(x[:, 0] ** 2)))
        corr = float(np.corrcoef(x[:, 0], x[:, 1])[0, 1])
        out["sizes"][f"{key[0]}x{key[1]}"] = {"n": len(x), "rms_mv": rms, "corr": corr,
                                               "slope_mv": float(slope)}
        print(f"{key[0]:3d} x {key[1]:3d} {len(x):6d} {rms:9.3f} {corr:+6.2f} {slope:9.2f}")
    x = np.vstack([np.vstack(r) for r in by_size.values()])
    a = np.c_[x[:, 2], np.ones(len(x))]
    coef, *_ = np.linalg.lstsq(a, x[:, 0], rcond=None)
    out["slope_scaled_mv"] = float(coef[0])
    print(f"one slope on the share x n_rows / 256: {coef[0]:.2f} mV (the model's b_act_line_v "
          f"enters with the opposite sign: residual = model - SPICE); RMS left per size:")
    for key, r in sorted(by_size.items()):
        xs = np.vstack(r)
        left = xs[:, 0] - coef[0] * xs[:, 2] - coef[1]
        out["sizes"][f"{key[0]}x{key[1]}"]["rms_left_mv"] = float(np.sqrt(np.mean(left ** 2)))
        print(f"  {key[0]:3d} x {key[1]:3d}: {np.sqrt(np.mean(xs[:, 0] ** 2)):.3f} -> "
              f"{np.sqrt(np.mean(left ** 2)):.3f} mV")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])

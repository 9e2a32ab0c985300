"""A macro-model's residuals on a fit sweep's MVMs, per direction.

``python benchmarks/fit_residuals.py MODEL.json RESULTS_DIR``: settled line voltages (RMS and
max per plane, mV), codes (RMS and max, LSB: forward outputs, backward bit-lines and backward
outputs, the row-pair differences) and energy per MVM (RMS and max relative error), each
point at its own read pulse; ``--points`` first prints each point's line and code errors.
E.g. the model before backward MVMs were fitted against the results that hold them::

    git show c31539e:pycim/macro/default_model.json > /tmp/m0.json
    python benchmarks/fit_residuals.py /tmp/m0.json characterization/results/fit
"""

import sys
import warnings

import numpy as np


def per_point(m, points) -> None:
    """One line per point: its shape, density, read pulse, the settled lines' mean and RMS
    error (model - SPICE, mV) and the codes' mean and RMS error (LSB)."""
    from pycim.fit.fits import _codes

    for pt in points:
        mm = pt.model(m)
        v = mm.held_line_v(pt.v_eff_planes(mm), pt.n_rows, pt.g_sum, pt.act)
        r = (v - pt.v_settled).ravel() * 1e3
        c, cm = _codes(m, [pt])
        e = cm - c
        print(f"{pt.direction:8s} {pt.p['n_in']:3d} x {pt.p['n_out']:3d} {pt.p['in_bits']}/"
              f"{pt.p['out_bits']} density {pt.p['density']:.2f} pulse "
              f"{pt.p['read_pulse_s'] * 1e9:.0f} ns seed {pt.p['seed']}: lines mean "
              f"{r.mean():+.2f} RMS {np.sqrt(np.mean(r ** 2)):.2f} mV; codes mean {e.mean():+.3f}"
              f" RMS {np.sqrt(np.mean(e ** 2)):.3f} LSB")


def main(model_path: str, results_dir: str, points_too: bool = False) -> None:
    from pycim.characterize.tables import load_results
    from pycim.fit.fits import _codes, energy_rows, mvm_points
    from pycim.macro.model import MacroModel

    warnings.simplefilter("ignore")
    m = MacroModel.load(model_path)
    points = mvm_points(load_results(results_dir)["mvm_fit"])
    if points_too:
        per_point(m, points)
    rows = energy_rows(points)
    for d in ("forward", "backward"):
        pts = [pt for pt in points if pt.direction == d]
        if not pts:
            continue
        r = []
        for pt in pts:
            mm = pt.model(m)
            v = mm.held_line_v(pt.v_eff_planes(mm), pt.n_rows, pt.g_sum, pt.act)
            r.append((v - pt.v_settled).ravel())
        r = np.concatenate(r) * 1e3
        c, cm = _codes(m, pts)
        e = cm - c
        out = [f"{d}: line RMS {np.sqrt(np.mean(r ** 2)):.3f} mV max {np.abs(r).max():.3f} mV"
               f" ({r.size}); codes{' (bit-lines)' if d == 'backward' else ''} RMS "
               f"{np.sqrt(np.mean(e ** 2)):.3f} max {np.abs(e).max():.0f} LSB ({e.size})"]
        if d == "backward":
            k, eo = 0, []
            for pt in pts:
                x = e[k:k + pt.code.size].reshape(pt.code.shape)
                k += pt.code.size
                eo.append((x[:, 0::2] - x[:, 1::2]).ravel())
            eo = np.concatenate(eo)
            out.append(f"outputs RMS {np.sqrt(np.mean(eo ** 2)):.3f} max {np.abs(eo).max():.0f}"
                       f" LSB ({eo.size})")
        rel = []
        for row in rows:
            if row.direction != d:
                continue
            mr = m.with_read_pulse(row.read_pulse_s) if row.read_pulse_s else m
            pred = mr.energy_j(row.in_bits, row.out_bits, row.n_rows, row.n_cols,
                               row.g_total_s, activity=row.activity, n_wl=row.n_wl)["total"]
            rel.append(pred / row.energy_j["total"] - 1)
        rel = np.abs(rel)
        out.append(f"energy RMS {np.sqrt(np.mean(rel ** 2)):.2%} max {rel.max():.2%} "
                   f"({rel.size} MVMs)")
        print("; ".join(out))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--points"]
    if len(args) != 2:
        sys.exit("usage: python benchmarks/fit_residuals.py MODEL.json RESULTS_DIR [--points]")
    main(args[0], args[1], "--points" in sys.argv[1:])

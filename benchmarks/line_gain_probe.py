"""Line gain of every ``mvm_fit`` point against the closed form (issue 18's finding).

    PYTHONPATH=. python benchmarks/line_gain_probe.py characterization/results/fit_full [DIR ...]

Per point: the least-squares slope and intercept of the settled line voltages (every plane,
vector and sensed line pooled) on the ideal closed form of the programmed conductances
(linear cells, ideal wires and drivers: ``MacroModel.ideal()``), and the slope per quarter of
the sensed lines by position. A full 256 x 256 core's lines come out at ~0.5 of the closed
form, a 16 x 16 array's at ~0.8: the driven lines' sag (``pycim.cim.closed_form.line_operator``).
"""

from __future__ import annotations

import sys

import numpy as np


def main(dirs: list[str]) -> None:
    from pycim.characterize.tables import load_results
    from pycim.fit.fits import mvm_points
    from pycim.macro.model import MacroModel

    m0 = MacroModel.ideal()
    for d in dirs:
        for pt in mvm_points(load_results(d)["mvm_fit"]):
            ve, vs = pt.v_eff_planes(pt.model(m0)), pt.v_settled
            n = vs.shape[-1]
            x, y = ve.reshape(-1), vs.reshape(-1)
            g, c = np.linalg.lstsq(np.c_[x, np.ones_like(x)], y, rcond=None)[0]
            qs = []
            for q in np.array_split(np.arange(n), 4):
                xq, yq = ve[..., q].reshape(-1), vs[..., q].reshape(-1)
                qs.append(np.linalg.lstsq(np.c_[xq, np.ones_like(xq)], yq, rcond=None)[0][0])
            p = pt.p
            print(f"{d.rstrip('/').split('/')[-1]:10s} {p['direction']:8s} "
                  f"{p['n_in']:3d}x{p['n_out']:3d} {p['in_bits']}/{p['out_bits']} "
                  f"seed {p['seed']:2d} read {p['read_pulse_s'] * 1e9:.0f} ns: gain {g:.3f}, "
                  f"offset {c * 1e3:+.1f} mV, by position "
                  + " ".join(f"{v:.3f}" for v in qs))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])

"""How the line drivers' transmission gates set a full core's forward line offset, gain and
per-line active-share error (the macro-model's ``b_act_line_v``; issue 17 item 6).

    PYTHONPATH=. python benchmarks/driver_asymmetry.py [--p-scale P] [--n-scale N] [--seed S]

Runs the partitioned flow's array stage (:mod:`benchmarks.array_stage`: the whole 256 x 256
core, SKY130 drivers and access FETs, RRAM read model, 32-cell wire segments, the neurons'
track/hold front ends) for one forward 4-bit vector of
:func:`pycim.characterize.kinds_fit.problem` with every line driver's pFETs ``P`` times and
nFETs ``N`` times the assumption's ``switch_w_um`` (the nFET's, 20 um), reads the settled sensed
lines per plane, and fits them as gain x closed form + one offset per plane + a slope on each
line's own active share minus the array's (what ``b_act_line_v`` models; no macro-model in
it). About 9 CPU-minutes per run.

The driver's gate at Vref + Vread (1.1 V) has its nFET at 0.7 V of gate drive and its pFET at
1.1 V; the one at Vref - Vread (0.7 V) the reverse; with equal widths the pFET's lower
mobility leaves the positive rail's gate the weaker, so a driven row pair's G+ row sags more
than its G- row, and each line sits lower by its own share of driven conductance. Seventeenth
round, seed 28 (the fit_fine full core), slope / plane offsets / gain:

    P 1, N 1 (as built)   -36.0 mV per unit share, -34.6 .. -41.4 mV, 0.511
    P 2.5, N 1            -18.9,                   -18.2 .. -21.8,    0.615
    P 5, N 1               -5.0,                    -5.0 .. -6.1,     0.697
    P 6.25, N 2.5         -11.5,                    -8.4 .. -10.2,    0.769
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def run(p_scale: float = 1.0, n_scale: float = 1.0, seed: int = 28) -> dict:
    import pycim.netlist.core as nc
    from benchmarks.array_stage import problem_request, run_array_stage
    from pycim import assumptions
    from pycim.cim.encoding import bit_planes
    from pycim.cim.programming import program
    from pycim.specs.neuron import settled_read_times

    orig = nc.switch_cards

    def scaled(corner, w_um, l_um, body_network=True, p_w_um=None):
        return orig(corner, w_um * n_scale, l_um, body_network, p_w_um=w_um * p_scale)

    req = problem_request(128, 256, "forward", seed, 32, 1.0)
    t0 = time.perf_counter()
    nc.switch_cards = scaled
    try:
        st = run_array_stage(req)
    finally:
        nc.switch_cards = orig
    t_read = settled_read_times(st.schedule, st.spec)
    v = np.array([[np.interp(t_read[n], st.t, r) for r in st.lines]
                  for n in sorted(t_read)]) - st.spec.v_ref_v  # (planes, lines)
    prog = program(req.weights, seed)
    gp, gn = prog.g_pos_s, prog.g_neg_s
    g = gp + gn
    s = g.sum(axis=0)
    planes = bit_planes(np.asarray(req.x), req.in_bits)[0]
    vr = assumptions.value("v_read_v")
    n_pl, n_l = v.shape
    cols = []
    for k in range(n_pl):
        a = np.abs(planes[k])
        ind = np.zeros((n_l, n_pl))
        ind[:, k] = 1.0
        cols.append(np.c_[vr * (planes[k] @ (gp - gn)) / s,
                          (a @ g) / s - (a @ g.sum(axis=1)) / g.sum(), ind])
    a_mat = np.vstack(cols)
    c, *_ = np.linalg.lstsq(a_mat, v.ravel(), rcond=None)
    res = v.ravel() - a_mat @ c
    c0, *_ = np.linalg.lstsq(np.delete(a_mat, 1, axis=1), v.ravel(), rcond=None)
    res0 = v.ravel() - np.delete(a_mat, 1, axis=1) @ c0
    return {"p_scale": p_scale, "n_scale": n_scale, "seed": seed, "gain": float(c[0]),
            "share_slope_v": float(c[1]), "plane_offsets_v": [float(x) for x in c[2:]],
            "rms_v": float(np.sqrt(np.mean(res ** 2))),
            "rms_without_share_v": float(np.sqrt(np.mean(res0 ** 2))),
            "wall_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p-scale", type=float, default=1.0)
    ap.add_argument("--n-scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=28)
    a = ap.parse_args()
    if a.p_scale <= 0 or a.n_scale <= 0:
        ap.error("--p-scale and --n-scale must be > 0")
    r = run(a.p_scale, a.n_scale, a.seed)
    print(f"P x{r['p_scale']:g}, N x{r['n_scale']:g}, seed {r['seed']}: gain {r['gain']:.4f}, "
          f"share slope {r['share_slope_v'] * 1e3:+.1f} mV per unit, plane offsets "
          f"{', '.join(f'{o * 1e3:+.2f}' for o in r['plane_offsets_v'])} mV; residual "
          f"{r['rms_v'] * 1e3:.3f} mV RMS ({r['rms_without_share_v'] * 1e3:.3f} without the "
          f"share; {r['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()

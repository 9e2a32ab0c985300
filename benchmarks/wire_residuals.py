"""How much of a macro-model's line residual on full cores is the wires' IR drop resolved by
position, which the model lumps (every driven line behind one resistance, every line one node).

    PYTHONPATH=. python benchmarks/wire_residuals.py MODEL.json RESULTS_DIR [R_FWD R_BWD]

For every 128 x 256 point of an ``mvm_fit`` sweep (e.g. ``characterization/results/fit_full``)
it takes the array as the linear network it is wired as
(:func:`pycim.cim.closed_form.wire_line_operator`: the model's effective G per cell, every
line a ladder of wire segments, each driven line's source behind R_drive at its TNSA tap,
each sensed line read at its tap). Its difference from the model's lumped network
(:meth:`MacroModel.line_operator`, same G) is added to the model's settled lines, and the residual against SPICE's settled lines (mV) is printed
before and after, with the correlation of the residual and the correction. Nothing is fitted:
R_drive defaults to the model's lumped drive resistance of the line less the wire's share
(R_wire n / 6, a centre-tapped line of n cells under uniform load). For a model fitted with
the wires lumped (``wire_scale`` 0, e.g. ``git show 9599b7a:pycim/macro/default_model.json``);
a model that resolves them already is refused."""

from __future__ import annotations

import sys
import warnings

import numpy as np

from pycim import assumptions
from pycim.characterize.tables import load_results
from pycim.cim.closed_form import wire_line_operator
from pycim.fit.fits import mvm_points
from pycim.macro.model import MacroModel

R_CELL_OHM = assumptions.value("cell_pitch_x_um") * assumptions.value("wire_r_ohm_per_um")


def main() -> None:
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    warnings.simplefilter("ignore")
    m = MacroModel.from_json(open(sys.argv[1]).read())
    if m.line.get("wire_scale", 0.0):
        sys.exit(f"{sys.argv[1]}: the model resolves the wires already (wire_scale "
                 f"{m.line['wire_scale']}); this compares a lumped model with them")
    pts = [pt for pt in mvm_points(load_results(sys.argv[2])["mvm_fit"])
           if (pt.p["n_in"], pt.p["n_out"]) == (128, 256)]
    summary = {}
    for pt in pts:
        mm = pt.model(m)
        n_cells = pt.n_drive_cells
        if len(sys.argv) == 5:
            r_d = float(sys.argv[3 if pt.direction == "forward" else 4])
        else:
            r_d = float(mm.drive_resistance_ohm(n_cells)) - R_CELL_OHM * n_cells / 6
        res0 = (mm.held_line_v(pt.v_eff_planes(mm), pt.n_rows, pt.g_sum, pt.act)
                - pt.v_settled) * 1e3
        gpe, gne = mm.effective_g_s(pt.g_pos), mm.effective_g_s(pt.g_neg)
        wired = wire_line_operator(gpe, gne, pt.direction, r_drive_ohm=r_d)
        d = pt.planes @ (wired - mm.line_operator(pt.g_pos, pt.g_neg, pt.direction))
        d = d * pt.v_read * 1e3  # mV: the correction the lumped model misses
        res1 = res0 + d
        rms0, rms1 = np.sqrt(np.mean(res0 ** 2)), np.sqrt(np.mean(res1 ** 2))
        c = np.corrcoef(res0.ravel(), -d.ravel())[0, 1]
        summary.setdefault(pt.direction, []).append((rms0 ** 2, rms1 ** 2))
        print(f"{pt.direction:8s} seed {pt.p['seed']} {pt.p['in_bits']}-bit  R_drive "
              f"{r_d:5.0f} ohm  settled lines model - SPICE {rms0:.2f} -> {rms1:.2f} mV RMS "
              f"(correction {np.sqrt(np.mean(d ** 2)):.2f} mV RMS, corr(residual, -correction) "
              f"{c:+.2f})", flush=True)
    for k, v in summary.items():
        v = np.array(v)
        print(f"{k}: {np.sqrt(v[:, 0].mean()):.2f} -> {np.sqrt(v[:, 1].mean()):.2f} mV RMS over "
              f"{len(v)} cores")


if __name__ == "__main__":
    main()

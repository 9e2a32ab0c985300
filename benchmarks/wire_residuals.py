"""How much of a macro-model's line residual on full cores is the wires' IR drop resolved by
position, which the model lumps (every driven line behind one resistance, every line one node).

    PYTHONPATH=. python benchmarks/wire_residuals.py MODEL.json RESULTS_DIR [R_FWD R_BWD]

For every 128 x 256 point of an ``mvm_fit`` sweep (e.g. ``characterization/results/fit_full``)
it solves the array as the linear network it is, per plane: every cell a conductance (the
model's effective G, ``MacroModel.effective_g_s``) between its bit-line node and its
source-line node, every line a ladder of wire segments (``cell_pitch_x_um`` x
``wire_r_ohm_per_um`` per cell, :mod:`pycim.assumptions`), each driven line's source behind
R_drive at its TNSA tap (``pycim.netlist.core.tnsa_taps``: the centre of its neuron's
corelet), each sensed line read at its tap (scipy.sparse LU, 2 x 65536 nodes). Its
difference from the model's lumped network (:meth:`MacroModel.line_operator`, same G) is added
to the model's settled lines, and the residual against SPICE's settled lines (mV) is printed
before and after, with the correlation of the residual and the correction. Nothing is fitted:
R_drive defaults to the model's lumped drive resistance of the line less the wire's share
(R_wire n / 6, a centre-tapped line of n cells under uniform load)."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pycim import assumptions
from pycim.characterize.tables import load_results
from pycim.cim.mapping import physical_conductances
from pycim.fit.fits import mvm_points
from pycim.macro.model import MacroModel
from pycim.netlist.core import tnsa_taps

R_CELL_OHM = assumptions.value("cell_pitch_x_um") * assumptions.value("wire_r_ohm_per_um")


def network_planes(g: np.ndarray, direction: str, u: np.ndarray, r_drive_ohm: float,
                   r_cell_ohm: float = R_CELL_OHM) -> np.ndarray:
    """Sensed tap voltages (planes, n_sense), in units of the drive, of the physical array
    ``g`` (rows = bit-lines, columns = source-lines, S) with wires, for drive levels ``u``
    (planes, n_drive) at the driven lines' taps behind ``r_drive_ohm``."""
    n_r, n_c = g.shape
    bl_tap, sl_tap = tnsa_taps(n_r, n_c)
    nb = n_r * n_c
    idx = np.arange(nb).reshape(n_r, n_c)
    a_bl, b_bl = idx[:, :-1].ravel(), idx[:, 1:].ravel()  # bit-line wire segments
    a_sl, b_sl = idx[:-1, :].ravel() + nb, idx[1:, :].ravel() + nb  # source-line segments
    a = np.concatenate([a_bl, a_sl, idx.ravel()])
    b = np.concatenate([b_bl, b_sl, idx.ravel() + nb])
    y = np.concatenate([np.full(a_bl.size + a_sl.size, 1.0 / r_cell_ohm), g.ravel()])
    if direction == "forward":
        drive = idx[np.arange(n_r), bl_tap]
        sense = idx[sl_tap, np.arange(n_c)] + nb
    else:
        drive = idx[sl_tap, np.arange(n_c)] + nb
        sense = idx[np.arange(n_r), bl_tap]
    g_d = 1.0 / max(r_drive_ohm, 1e-3)
    rows = np.concatenate([a, b, a, b, drive])
    cols = np.concatenate([a, b, b, a, drive])
    vals = np.concatenate([y, y, -y, -y, np.full(drive.size, g_d)])
    lu = spla.splu(sp.csc_matrix((vals, (rows, cols)), shape=(2 * nb, 2 * nb)))
    out = []
    for uk in np.atleast_2d(u):
        rhs = np.zeros(2 * nb)
        rhs[drive] = g_d * uk
        out.append(lu.solve(rhs)[sense])
    return np.array(out)


def main() -> None:
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    warnings.simplefilter("ignore")
    m = MacroModel.from_json(open(sys.argv[1]).read())
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
        g = physical_conductances(mm.effective_g_s(pt.g_pos), mm.effective_g_s(pt.g_neg),
                                  "row_pair")
        lumped = mm.line_operator(pt.g_pos, pt.g_neg, pt.direction)
        d = []
        for b in range(pt.planes.shape[0]):
            pl = pt.planes[b]
            # physical drive levels: forward rows 2i / 2i+1 carry +x / -x
            u = (np.repeat(pl, 2, axis=1) * np.tile([1.0, -1.0], pl.shape[1])
                 if pt.direction == "forward" else pl)
            d.append(network_planes(g, pt.direction, u, r_d) - pl @ lumped)
        d = np.array(d) * pt.v_read * 1e3  # mV: the correction the lumped model misses
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

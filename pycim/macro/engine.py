"""``pycim mvm --engine macro``: the SPICE flow's MVM evaluated with the fitted macro-model.

Same request, same programming model (:func:`pycim.flows.mvm_inputs.program`: same seed, same
G+/G-), same closed form; the transistor-level transient is replaced by
:class:`~pycim.macro.model.MacroModel`: effective conductances, line transfer per output,
the ADC, and the energy/latency formulas. Returns exactly the keys of
:func:`pycim.flows.mvm.run_mvm` with ``engine = "macro"``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .. import __version__, assumptions
from ..flows.mvm_inputs import bit_planes, magnitude_planes, program
from ..tech.mapping import physical_conductances
from .model import MacroModel, OutOfRangeWarning, n_windows_for


def _sense_views(g_pos, g_neg, direction: str, mapping: str):
    """Per sensed neuron: (numerator matrix N, normaliser S) so that one window's ideal line
    voltage is v_read * (plane @ N) / S, and the per-neuron conductance sum. Backward row_pair
    senses every bit-line (G+ rows and G- rows separately; outputs are code differences)."""
    if direction == "forward":
        return g_pos - g_neg, (g_pos + g_neg).sum(axis=0)
    if mapping == "transposable":
        return (g_pos - g_neg).T, (g_pos + g_neg).sum(axis=1)
    # row_pair backward: neurons on BL 2i (G+ row i) and BL 2i+1 (G- row i)
    n = np.empty((g_pos.shape[1], 2 * g_pos.shape[0]))
    n[:, 0::2], n[:, 1::2] = g_pos.T, g_neg.T
    s = np.empty(2 * g_pos.shape[0])
    s[0::2], s[1::2] = g_pos.sum(axis=1), g_neg.sum(axis=1)
    return n, s


def array_activity(g_phys: np.ndarray, line_planes: np.ndarray, direction: str,
                   plane_weights: np.ndarray) -> float:
    """Mean (V_drive - V_line)^2 / v_read^2 over the cells, conductance-weighted and window-
    weighted: sum_w sum_ij G_ij (u_i - v_j)^2 / (n_windows sum_ij G_ij), with the floating
    lines at their weighted averages v_j (ideal array)."""
    g = g_phys if direction == "forward" else g_phys.T  # (drive lines, sensed lines)
    s = g.sum(axis=0)
    num = line_planes @ g  # (planes, sense)
    v = num / s
    p_plane = (line_planes ** 2) @ g - v * v * s  # sum_i G (u_i - v_j)^2 per plane and line
    tot = float(np.sum(plane_weights[:, None] * p_plane))
    return tot / (float(plane_weights.sum()) * float(g.sum()))


def run_macro_mvm(req, progress: bool = True, model: MacroModel | None = None) -> dict:
    """The macro-model version of :func:`pycim.flows.mvm.run_mvm` (``progress`` is accepted
    for the same signature; the evaluation takes milliseconds)."""
    t0 = time.perf_counter()
    m = model if model is not None else MacroModel.load()
    if req.ideal:  # --ideal: linear cells, ideal wires and sources; the neuron stays as fitted
        ideal = MacroModel.ideal()
        m = m.with_(line={**ideal.line, "b0_v": m.line["b0_v"]},
                    energy={**m.energy, **{k: 0.0 for k in ("e_drv_row_j", "e_drv_col_j",
                                                            "e_drv_0_j", "e_wl_row_j",
                                                            "e_wl_cell_j", "e_wl_0_j")}})
    w = req.weights
    prog = program(w, req.seed, noise=req.prog_tol_s > 0, tol_s=max(req.prog_tol_s, 1e-12))
    target = program(w, req.seed, noise=False)
    v_read = assumptions.value("v_read_v")
    nw = n_windows_for(req.in_bits)
    planes = bit_planes(req.x, req.in_bits)  # (batch, planes, n_drive)
    weights_pl = 2.0 ** np.arange(magnitude_planes(req.in_bits))
    lsb = m.lsb_v(req.out_bits)
    from ..flows.mvm import closed_form_planes

    ideal_planes = closed_form_planes(prog.g_pos_s, prog.g_neg_s, planes, v_read, req.direction,
                                      req.mapping)
    y_ideal = np.einsum("bpn,p->bn", ideal_planes, weights_pl) / lsb
    y_target = np.einsum("bpn,p->bn", closed_form_planes(target.g_pos_s, target.g_neg_s, planes,
                                                         v_read, req.direction, req.mapping),
                         weights_pl) / lsb
    g_phys = physical_conductances(prog.g_pos_s, prog.g_neg_s, req.mapping)
    n_drive_lines = g_phys.shape[0] if req.direction == "forward" else g_phys.shape[1]
    # the model on effective conductances, per sensed neuron
    num, s_raw = _sense_views(prog.g_pos_s, prog.g_neg_s, req.direction, req.mapping)
    gpe, gne = m.effective_g_s(prog.g_pos_s), m.effective_g_s(prog.g_neg_s)
    num_e, s_e = _sense_views(gpe, gne, req.direction, req.mapping)
    v_pl = v_read * (planes @ num_e) / s_e  # (batch, planes, n_neurons)
    g_neuron = s_raw  # conductance on each sensed line (transposable: its column, G+ and G-)
    m.check_range(n_rows=n_drive_lines, g_sum_s=g_neuron, temp_c=req.temp_c, vdd_v=req.vdd_v,
                  in_bits=req.in_bits, out_bits=req.out_bits)
    if m.ranges and req.corner not in m.fits.get("_conditions", {}).get("corners", [req.corner]):
        warnings.warn(f"corner {req.corner} lies outside the fitted corners of model "
                      f"'{m.source}'", OutOfRangeWarning, stacklevel=2)
    v_sum = np.einsum("bpn,p->bn", v_pl, weights_pl)
    v_line = m.line_transfer(v_sum, nw, n_drive_lines, g_neuron)
    codes = m.output_codes(v_line / lsb, req.out_bits)
    v_settled = m.settled_line_v(v_pl, n_drive_lines, g_neuron)
    if req.direction == "backward" and req.mapping == "row_pair":
        codes = codes[:, 0::2] - codes[:, 1::2]
        v_settled = v_settled[:, :, 0::2] - v_settled[:, :, 1::2]
    # energy: per vector, with that vector's array activity
    if req.direction == "forward" or req.mapping == "transposable":
        line_planes = np.repeat(planes, 2, axis=2)
        line_planes[:, :, 1::2] *= -1
    else:
        line_planes = planes
    n_neurons = num.shape[1]
    pw = weights_pl  # windows per plane
    e_tot: dict[str, float] = {}
    for b in range(planes.shape[0]):
        act = array_activity(g_phys, line_planes[b], req.direction, pw)
        e = m.energy_j(req.in_bits, req.out_bits, n_drive_lines, n_neurons, float(g_phys.sum()),
                       activity=act)
        for k, v in e.items():
            e_tot[k] = e_tot.get(k, 0.0) + v
    macs = int(req.x.shape[0] * w.shape[0] * w.shape[1])
    return {
        "g_pos_s": prog.g_pos_s.tolist(), "g_neg_s": prog.g_neg_s.tolist(),
        "v_read_v": v_read, "v_ref_v": m.v_ref_v, "x": req.x.tolist(),
        "v_settled_v": v_settled.tolist(),
        "code": codes.astype(int).tolist(),
        "y_ideal": y_ideal.tolist(), "y_target": y_target.tolist(), "lsb": lsb,
        "energy_j": e_tot, "macs": macs, "energy_per_mac_j": e_tot["total"] / macs,
        "latency_s": m.latency_s(req.in_bits, req.out_bits), "engine": "macro",
        "pycim_version": __version__,
        "in_bits": req.in_bits, "out_bits": req.out_bits, "direction": req.direction,
        "ideal": req.ideal, "corner": req.corner, "temp_c": req.temp_c, "seed": req.seed,
        "mapping": req.mapping,
        "y_ideal_planes_v": ideal_planes.tolist(), "wall_s": time.perf_counter() - t0,
    }


__all__ = ["array_activity", "run_macro_mvm"]

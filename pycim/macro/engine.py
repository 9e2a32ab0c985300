"""``pycim mvm --engine macro``: the SPICE flow's MVM evaluated with the fitted macro-model.

Same request, same programming model (:func:`pycim.cim.request.prepare`: same seed, same
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
from ..cim.closed_form import active_fraction, array_activity, pair_difference, sense_views
from ..cim.encoding import line_planes as signed_line_planes
from ..cim.mapping import physical_conductances
from ..cim.request import phase_keys, prepare, run_two_phase
from .model import MacroModel, OutOfRangeWarning


def run_macro_mvm(req, progress: bool = True, model: MacroModel | None = None) -> dict:
    """The macro-model version of :func:`pycim.flows.mvm.run_mvm` (``progress`` is accepted
    for the same signature; the evaluation takes milliseconds)."""
    if req.phases == 2:  # each slice a one-phase MVM of the model, shift-added (cim.phases)
        return run_two_phase(req, lambda r: run_macro_mvm(r, progress=progress, model=model))
    t0 = time.perf_counter()
    m = model if model is not None else MacroModel.load()
    m = m.with_(adc_fs_v=req.adc_full_scale_v)  # the call's ADC full scale sets the LSB
    m = m.with_read_pulse(req.read_pulse_s)  # and its read pulse the timing and settling
    m = m.for_direction(req.direction)  # the sensed line's own parameters
    if req.ideal:  # --ideal: linear cells, ideal wires and sources; the neuron stays as fitted
        ideal = MacroModel.ideal()
        m = m.with_(line={**ideal.line, "b0_v": m.line["b0_v"]}, line_backward={},
                    energy={**m.energy, **{k: 0.0 for k in ("e_drv_row_j", "e_drv_col_j",
                                                            "e_drv_0_j", "e_drv_act_j",
                                                            "e_wl_row_j",
                                                            "e_wl_cell_j", "e_wl_0_j")}})
    w = req.weights
    v_read = assumptions.value("v_read_v")
    lsb = m.lsb_v(req.out_bits)
    # the chip's scheme: each plane read once, held and re-sampled (the model's plane weights;
    # y_ideal is the SPICE flow's held-line closed form)
    pb = prepare(req, lsb, v_read)
    prog, planes = pb.prog, pb.planes
    g_phys = physical_conductances(prog.g_pos_s, prog.g_neg_s, req.mapping)
    # physical driven and sensed lines (the latter: the cells on each driven line)
    n_drive_lines, n_sense_lines = g_phys.shape if req.direction == "forward" \
        else g_phys.shape[::-1]
    # the model on effective conductances, per sensed neuron
    num, s_raw = sense_views(prog.g_pos_s, prog.g_neg_s, req.direction, req.mapping)
    v_pl = v_read * m.plane_lines(prog.g_pos_s, prog.g_neg_s, planes, req.direction,
                                  req.mapping)  # (batch, planes, n_neurons)
    g_neuron = s_raw  # conductance on each sensed line (transposable: its column, G+ and G-)
    m.check_range(n_rows=n_drive_lines, g_sum_s=g_neuron, temp_c=req.temp_c, vdd_v=req.vdd_v,
                  in_bits=req.in_bits, out_bits=req.out_bits, read_pulse_s=req.read_pulse_s)
    if m.ranges and req.corner not in m.fits.get("_conditions", {}).get("corners", [req.corner]):
        warnings.warn(f"corner {req.corner} lies outside the fitted corners of model "
                      f"'{m.source}'", OutOfRangeWarning, stacklevel=2)
    act_frac = active_fraction(prog.g_pos_s, prog.g_neg_s, planes, req.direction, req.mapping)
    w_lines = m.plane_line_weights(req.in_bits, n_drive_lines, g_neuron)
    v_sum = np.einsum("bpn,pn->bn", v_pl, w_lines)
    v_line = m.line_transfer(v_sum, req.in_bits, n_drive_lines, g_neuron,
                             np.einsum("kbpn,pn->kbn", act_frac, w_lines),
                             n_cells=n_sense_lines)  # cells on each driven line
    codes = m.output_codes(v_line / lsb, req.out_bits)
    v_settled = m.held_line_v(v_pl, n_drive_lines, g_neuron, act_frac)
    codes = pair_difference(codes, req.direction, req.mapping)
    v_settled = pair_difference(v_settled, req.direction, req.mapping)
    # energy: per vector, with that vector's array activity
    line_planes = signed_line_planes(planes, req.direction, req.mapping)
    n_neurons = num.shape[1]
    pw = np.ones(planes.shape[1])  # the cells conduct once per plane (one read pulse)
    e_tot: dict[str, float] = {}
    for b in range(planes.shape[0]):
        act = array_activity(g_phys, line_planes[b], req.direction, pw)
        e = m.energy_j(req.in_bits, req.out_bits, n_drive_lines, n_neurons, float(g_phys.sum()),
                       activity=act, n_wl=g_phys.shape[0],  # every physical row's word line
                       n_lines=n_sense_lines)  # transposable: the unsensed copies too
        for k, v in e.items():
            e_tot[k] = e_tot.get(k, 0.0) + v
    macs = int(req.x.shape[0] * w.shape[0] * w.shape[1])
    return {
        "g_pos_s": prog.g_pos_s.tolist(), "g_neg_s": prog.g_neg_s.tolist(),
        "v_read_v": v_read, "v_ref_v": m.v_ref_v, "x": req.x.tolist(),
        "v_settled_v": v_settled.tolist(),
        "code": codes.astype(int).tolist(),
        "y_ideal": pb.y_ideal.tolist(), "y_target": pb.y_target.tolist(), "lsb": lsb,
        "energy_j": e_tot, "macs": macs, "energy_per_mac_j": e_tot["total"] / macs,
        "latency_s": m.latency_s(req.in_bits, req.out_bits), "engine": "macro",
        "pycim_version": __version__,
        "in_bits": req.in_bits, "out_bits": req.out_bits, "direction": req.direction,
        "ideal": req.ideal, "corner": req.corner, "temp_c": req.temp_c, "seed": req.seed,
        "mapping": req.mapping, "partition": False,  # no transient to split
        "y_ideal_planes_v": pb.ideal_planes_v.tolist(), "wall_s": time.perf_counter() - t0,
        **phase_keys(req),
    }


__all__ = ["run_macro_mvm"]

"""Would a per-layer analog offset shift meet issue 17 item 6? An EMULATION on the model.

    PYTHONPATH=. python benchmarks/adc_offset_shift.py

The workload of ``benchmarks/adc_calibration.py`` (full random 128 x 256 core, 4-bit in /
6-bit out, seed 0; here a test and a calibration batch of 256 each) on the packaged model,
calibrated as there (:meth:`Core.calibrate_full_scale`, then :meth:`Core.calibrate`), and
the same with the model's constant line offset ``b_line_v`` moved by the calibration batch's
mean line offset per plane: what a per-layer shift of the neuron's sampling reference
would do (no such circuit knob exists; this edits the model only), and with the activity
offset terms removed as well (the bound: no offset at all), and that with the wires lumped
(``wire_scale`` 0: what the wires' IR drop by position costs); and the packaged model with
the wires' term scaled by 0.5 and 0.25 (about wires of half and a quarter the resistance per
cell: wider or thicker metal). Printed: full scale, codes used and the normalised RMS error vs
x.W of each.
"""

from __future__ import annotations

import json
import warnings

import numpy as np


def main() -> dict:
    from benchmarks.adc_calibration import nrmse, to_xw
    from pycim.macro.core import Core
    from pycim.macro.model import MacroModel, OutOfRangeWarning

    warnings.simplefilter("ignore", OutOfRangeWarning)
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (128, 256))
    x, x_cal = rng.integers(-7, 8, (256, 128)), rng.integers(-7, 8, (256, 128))
    y = x @ w
    base = MacroModel.load()
    w_sum = base.weight_sum(4)

    def run(model):
        core = Core(w, model=model, seed=0)
        core.calibrate_full_scale(x_cal, 4, 6)
        core.calibrate("forward", 4, 6, seed=1)
        r = core.forward(x, 4, 6)
        return core, {"adc_fs_v": core.adc_fs_v, "codes": [int(r.code.min()), int(r.code.max())],
                      "nrmse_vs_xw": nrmse(to_xw(core, r.value), y)}

    def offset_v(model):  # the calibration batch's mean integrated line offset
        core = Core(w, model=model, seed=0)
        r = core.forward(x_cal, 4, 6, keep_y=True)
        return float(((r.y - core.reference_y(x_cal, 4, 6)) * core.lsb_v(6)).mean())

    out = {}
    _, out["packaged"] = run(base)
    off = offset_v(base)
    out["mean_offset_per_plane_v"] = off / w_sum
    d = json.loads(base.to_json())
    d["line"]["b_line_v"] -= off / w_sum
    _, out["constant_shift"] = run(MacroModel.from_json(json.dumps(d)))
    d = json.loads(base.to_json())
    d["line"].update(b_act_v=0.0, b_load_v=0.0)
    d["line"]["b_line_v"] -= offset_v(MacroModel.from_json(json.dumps(d))) / w_sum
    _, out["no_offset_at_all"] = run(MacroModel.from_json(json.dumps(d)))
    d["line"]["wire_scale"] = 0.0  # and the wires lumped: what the wires by position cost
    d["line"]["b_line_v"] = base.line["b_line_v"]
    d["line"]["b_line_v"] -= offset_v(MacroModel.from_json(json.dumps(d))) / w_sum
    _, out["no_offset_wires_lumped"] = run(MacroModel.from_json(json.dumps(d)))
    # wider wires: the wires' term scaled (first order in the wire resistance per cell; the
    # term is the converged IR drop at the assumption's 0.9 ohm/um, so a scale s stands for
    # about s x 0.9 ohm/um, e.g. a met1 line s^-1 times the 0.14 um minimum width)
    scales = (0.5, 0.25)
    for s_w in scales:
        d = json.loads(base.to_json())
        d["line"]["wire_scale"] = s_w * float(base.line.get("wire_scale", 0.0))
        _, out[f"wires_x{s_w:g}"] = run(MacroModel.from_json(json.dumps(d)))
    print(f"mean line offset {1e3 * out['mean_offset_per_plane_v']:.1f} mV per plane")
    for k in ("packaged", "constant_shift", "no_offset_at_all", "no_offset_wires_lumped",
              *(f"wires_x{s_w:g}" for s_w in scales)):
        r = out[k]
        print(f"{k:17s} full scale {r['adc_fs_v']:.4f} V, codes {r['codes'][0]}..{r['codes'][1]}, "
              f"normalised RMS error vs x.W {r['nrmse_vs_xw']:.3f}")
    return out


if __name__ == "__main__":
    main()

"""Per-layer ADC full-scale calibration on a full random core (macro-model, numpy only).

A 128 x 256 core (W uniform in [-1, 1], seed 0) with random signed 4-bit inputs and 6-bit
outputs, on the packaged fitted macro-model. For the default ADC full scale and for the one
:meth:`pycim.macro.core.Core.calibrate_full_scale` chooses on a separate calibration batch
(99.9th percentile of |integrated value| -> full scale), the core is foreground-calibrated
(:meth:`Core.calibrate`, per-line gain and offset) and evaluated on a test batch: the
normalised RMS error of its output against x.W,

    e = rms(y_hat - x.W) / rms(x.W),
    y_hat_j = value_j * LSB * S_j / (Vread (G_max - G_min)) * (2^P - 1) / W,

dequantised with the known LSB (``Core.lsb_v``), the known column conductance sums S_j of
the target conductances and the held-line scheme's full-scale drive W (the sum of the held
plane weights, :meth:`pycim.macro.model.MacroModel.weight_sum`, against 2^P - 1 = 7 for
binary weights; as :class:`pycim.macro.chip.Chip` rescales), no best-fit scale. Also the
code range the outputs use.

    python benchmarks/adc_calibration.py [--batch N] [--cal-batch N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np


def to_xw(core, levels, in_bits: int = 4, out_bits: int = 6) -> np.ndarray:
    """Codes or calibrated values of a forward call back in units of x.W (the module's y_hat):
    levels x LSB x the target columns' conductance sums / (Vread (G_max - G_min)), times
    (2^P - 1) / W for the held line's full-scale drive."""
    from pycim import assumptions

    span = assumptions.value("g_max_s") - assumptions.value("g_min_s")
    s_col = (core.target_g_pos_s + core.target_g_neg_s).sum(axis=0)
    kappa = (2 ** (in_bits - 1) - 1) / core.model.weight_sum(in_bits)
    return levels * core.lsb_v(out_bits) * s_col / (core.v_read_v * span) * kappa


def nrmse(y_hat: np.ndarray, y: np.ndarray) -> float:
    """rms(y_hat - y) / rms(y)."""
    return float(np.sqrt(np.mean((y_hat - y) ** 2)) / np.sqrt(np.mean(y ** 2)))


def run(batch: int = 1024, cal_batch: int = 256, seed: int = 0, model: str | None = None) -> dict:
    """The workload above; ``model``: a model file (default: the packaged model)."""
    from pycim.macro.core import Core
    from pycim.macro.model import MacroModel, OutOfRangeWarning

    warnings.simplefilter("ignore", OutOfRangeWarning)  # 256 rows: beyond the fitted sizes
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1.0, 1.0, (128, 256))
    x = rng.integers(-7, 8, (batch, 128))
    x_cal = rng.integers(-7, 8, (cal_batch, 128))
    y = x @ w
    out = {"shape": [128, 256], "in_bits": 4, "out_bits": 6, "batch": batch,
           "cal_batch": cal_batch, "seed": seed}
    for name in ("default", "calibrated"):
        core = Core(w, seed=seed, model=None if model is None else MacroModel.load(model))
        if name == "calibrated":
            fsc = core.calibrate_full_scale(x_cal, 4, 6)
            out["fs_calibration"] = {"wanted_v": fsc.wanted_v, "limited": fsc.limited,
                                     "clip_fraction": fsc.clip_fraction}
        core.calibrate("forward", 4, 6, seed=seed + 1)
        r = core.forward(x, 4, 6)
        out[name] = {"adc_fs_v": core.adc_fs_v, "lsb_line_v": core.lsb_v(6),
                     "code_min": int(r.code.min()), "code_max": int(r.code.max()),
                     "clipped_fraction": float(np.mean((r.code == -32) | (r.code == 31))),
                     "nrmse_vs_xw": nrmse(to_xw(core, r.value), y),
                     "nrmse_uncalibrated_codes": nrmse(to_xw(core, r.code + 0.5), y)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--cal-batch", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None,
                    help="a model file (default: the packaged model), e.g. one fitted on rerun sweeps")
    a = ap.parse_args()
    res = run(a.batch, a.cal_batch, a.seed, a.model)
    print(json.dumps(res, indent=1))
    for k in ("default", "calibrated"):
        r = res[k]
        print(f"{k:10s}: full scale {r['adc_fs_v']:.4f} V, codes {r['code_min']}..{r['code_max']} "
              f"of -32..31, normalised RMS error vs x.W {r['nrmse_vs_xw']:.3f}")


if __name__ == "__main__":
    main()

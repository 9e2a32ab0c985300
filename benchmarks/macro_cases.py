"""Benchmark cases of the chip macro-model (registered into ``benchmarks.cases.CASES``)."""

from __future__ import annotations

import time

import numpy as np


def _best_s(f, repeats: int, min_total_s: float = 0.3) -> float:
    """Best wall time of one call over at least ``repeats`` calls and ``min_total_s``."""
    best, total, k = float("inf"), 0.0, 0
    while k < repeats or total < min_total_s:
        t0 = time.perf_counter()
        f()
        dt = time.perf_counter() - t0
        best, total, k = min(best, dt), total + dt, k + 1
    return best


def macro_throughput(batch: int, repeats: int = 20, model: str = "default") -> dict:
    """MAC/s of one :class:`pycim.macro.core.Core` forward call (128 signed rows x 256 columns
    = 256 x 256 cells; integer inputs -> codes and calibrated values, default model =
    :meth:`MacroModel.load`, the packaged fit) against a plain float32 numpy matmul of the same
    logical shape, (batch, 128) @ (128, 256), in the same process. The core is
    foreground-calibrated first (:meth:`Core.calibrate`, programming-time work), so each timed
    call includes the per-column digital correction; ``core_uncalibrated_s`` is the same call
    before calibration (codes only).

    ``ratio_time`` = t_numpy / t_core = ``ratio_macs`` (the same logical MACs on both sides).
    Both run with one BLAS thread (the core's elementwise work is single-threaded numpy, and
    threaded BLAS on a small shared machine measured 20 ms instead of 0.8 ms for the matmul).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _macro_throughput(batch, repeats, model)


def _macro_throughput(batch: int, repeats: int, model: str) -> dict:
    from pycim.macro.core import CORE_IN, CORE_OUT, Core
    from pycim.macro.model import MacroModel

    rng = np.random.default_rng(0)
    m = MacroModel.ideal() if model == "ideal" else MacroModel.load()
    core = Core(rng.uniform(-1, 1, (CORE_IN, CORE_OUT)), model=m, seed=0)
    x = rng.integers(-7, 8, (batch, CORE_IN))
    # the same logical work: batch vectors of CORE_IN signed inputs into CORE_OUT outputs
    a = rng.standard_normal((batch, CORE_IN)).astype(np.float32)
    b = rng.standard_normal((CORE_IN, CORE_OUT)).astype(np.float32)
    core.forward(x)  # builds the folded chain once (programming-time work)
    fast = core.fast_chain("forward", 4, 6) is not None
    t_raw = _best_s(lambda: core.forward(x), repeats)
    cal = core.calibrate("forward", 4, 6)  # programming-time work
    assert core.forward(x).value is not None
    t_core = _best_s(lambda: core.forward(x), repeats)
    t_np = _best_s(lambda: a @ b, repeats)
    macs_core = batch * CORE_IN * CORE_OUT
    macs_np = batch * CORE_IN * CORE_OUT
    return {"batch": batch, "model": m.source, "fast_chain": fast, "blas_threads": 1,
            "calibrated": True, "calibration_rms_lsb": [cal.rms_raw_lsb, cal.rms_lsb],
            "core_s": t_core, "core_uncalibrated_s": t_raw, "numpy_s": t_np,
            "core_macs_per_s": macs_core / t_core, "numpy_macs_per_s": macs_np / t_np,
            "ratio_time": t_np / t_core,
            "ratio_macs": (macs_core / t_core) / (macs_np / t_np)}


def digits_demo() -> dict:
    """``pycim demo digits`` end to end (training included), no files."""
    from pycim.demo_digits import run_digits

    s = run_digits(None, echo=lambda *a: None)
    return {k: s[k] for k in ("model", "accuracy_software", "accuracy_chip", "gap_points",
                              "accuracy_chip_uncalibrated", "accuracy_chip_6bit_adc",
                              "energy_per_inference_j", "latency_per_inference_s", "wall_s")}


MACRO_CASES = {"macro_throughput": macro_throughput, "digits_demo": digits_demo}

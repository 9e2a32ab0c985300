"""Benchmark cases of the chip macro-model (registered into ``benchmarks.cases.CASES``)."""

from __future__ import annotations

import time
import warnings

import numpy as np


def _interleaved_s(fs: dict, repeats: int, min_total_s: float = 0.5) -> dict:
    """Median time of one call of each function in ``fs``, the calls interleaved (one of each
    per round, the order alternating between rounds) over at least ``repeats`` rounds and
    ``min_total_s``: on a shared machine every function sees the same load, so the ratio of
    the medians is fair even when the absolute times are not. Both wall time
    (``perf_counter``) and the thread's CPU time (``thread_time``: page faults included, the
    time the process waits for a core while other work runs excluded); and the median of
    the per-round wall-time ratios to the first function (``ratio_per_round``)."""
    names = list(fs)
    wall = {k: [] for k in names}
    cpu = {k: [] for k in names}
    total, k = 0.0, 0
    while k < repeats or total < min_total_s:
        for name in (names if k % 2 == 0 else names[::-1]):
            f = fs[name]
            c0, t0 = time.thread_time(), time.perf_counter()
            f()
            dt = time.perf_counter() - t0
            cpu[name].append(time.thread_time() - c0)
            wall[name].append(dt)
            total += dt
        k += 1
    first = np.asarray(wall[names[0]])
    return {"median_s": {n: float(np.median(t)) for n, t in wall.items()},
            "median_cpu_s": {n: float(np.median(t)) for n, t in cpu.items()},
            "ratio_per_round": {n: float(np.median(first / np.asarray(t)))
                                for n, t in wall.items()},
            "rounds": k}


def macro_throughput(batch: int, repeats: int = 200, model: str = "default") -> dict:
    """Time of one :class:`pycim.macro.core.Core` forward call (128 signed rows x 256 columns
    = 256 x 256 cells, 4-bit integer inputs -> 6-bit codes and calibrated values; ``model``:
    ``ideal`` or a packaged model's name, :meth:`MacroModel.packaged`, default the packaged
    default fit) against a plain float32 numpy matmul of the
    same logical shape, (batch, 128) @ (128, 256), in the same process, the calls interleaved
    (:func:`_interleaved_s`, medians). The core is foreground-calibrated first
    (:meth:`Core.calibrate`, programming-time work), so each timed call includes the per-column
    digital correction; ``core_uncalibrated_s`` is the same call before calibration (codes
    only), interleaved with its own matmul timings (``ratio_uncalibrated``).

    ``ratio_time`` = t_numpy / t_core (wall medians; the same logical MACs on both sides),
    ``ratio_cpu`` the same on the thread's CPU time (what the target uses: on a machine
    loaded by other work a niced benchmark is descheduled for milliseconds, more often
    during the longer call, which wall time counts and CPU time does not);
    ``ratio_per_round`` the median of the per-round wall ratios. ``ratio_products_cpu``: the
    same ratio for the call's matrix products alone (:func:`_chain_products`, interleaved
    with the others), the ceiling of ``ratio_cpu`` with this model: its forward chain makes
    ``n_products`` products of the reference's shape (the drives against the operator, and
    their magnitudes against the per-line active-fraction operator, dense on random weights),
    so with two the ceiling is about 0.5 however cheap the rest (``on_chain`` False: the call
    solves the wires per vector instead, batch 1, and no products are timed). Both run with one
    BLAS thread (the core's elementwise work is single-threaded numpy, and threaded BLAS on a
    small shared machine measured 20 ms instead of 0.8 ms for the matmul).
    """
    from threadpoolctl import threadpool_limits

    import pycim.macro.core  # noqa: F401  (loads scipy's BLAS too: the limit must cover it)

    with threadpool_limits(limits=1):
        return _macro_throughput(batch, repeats, model)


def _macro_throughput(batch: int, repeats: int, model: str) -> dict:
    from threadpoolctl import threadpool_info

    from pycim.macro.core import CORE_IN, CORE_OUT, Core
    from pycim.macro.model import MacroModel

    blas_threads = sorted({d["num_threads"] for d in threadpool_info()
                           if d.get("user_api") == "blas"})
    if blas_threads != [1]:
        raise RuntimeError(f"BLAS threads {blas_threads}, expected [1]")
    rng = np.random.default_rng(0)
    m = MacroModel.ideal() if model == "ideal" else MacroModel.packaged(model)
    core = Core(rng.uniform(-1, 1, (CORE_IN, CORE_OUT)), model=m, seed=0)
    x = rng.integers(-7, 8, (batch, CORE_IN))
    # the same logical work: batch vectors of CORE_IN signed inputs into CORE_OUT outputs
    a = rng.standard_normal((batch, CORE_IN)).astype(np.float32)
    b = rng.standard_normal((CORE_IN, CORE_OUT)).astype(np.float32)
    with warnings.catch_warnings():  # a full core lies outside the fit's range: warned once
        warnings.simplefilter("ignore")
        core.forward(x)  # builds the folded chain once (programming-time work)
        fast = core.fast_chain("forward", 4, 6) is not None
        raw = _interleaved_s({"numpy": lambda: a @ b, "core": lambda: core.forward(x)},
                             repeats // 2)
        cal = core.calibrate("forward", 4, 6)  # programming-time work
        assert core.forward(x).value is not None
        chain = core.fast_chain("forward", 4, 6)
        # the call's own path: a few vectors solve the wires per vector instead of the chain
        on_chain = fast and not core._wires_per_vector("forward", x, 4)
        products = _chain_products(chain, x) if on_chain else None
        fs = {"numpy": lambda: a @ b, "core": lambda: core.forward(x)}
        if products is not None:
            fs["products"] = products
        r = _interleaved_s(fs, repeats)
    t_core, t_np = r["median_s"]["core"], r["median_s"]["numpy"]
    c_core, c_np = r["median_cpu_s"]["core"], r["median_cpu_s"]["numpy"]
    macs = batch * CORE_IN * CORE_OUT
    return {"batch": batch, "model": m.source, "fast_chain": fast, "blas_threads": 1,
            "timing": "interleaved calls, medians", "rounds": r["rounds"],
            "calibrated": True, "calibration_rms_lsb": [cal.rms_raw_lsb, cal.rms_lsb],
            "core_s": t_core, "numpy_s": t_np, "core_cpu_s": c_core, "numpy_cpu_s": c_np,
            "core_uncalibrated_s": raw["median_s"]["core"],
            "ratio_uncalibrated": raw["median_s"]["numpy"] / raw["median_s"]["core"],
            "ratio_uncalibrated_cpu": (raw["median_cpu_s"]["numpy"]
                                       / raw["median_cpu_s"]["core"]),
            "core_macs_per_s": macs / t_core, "numpy_macs_per_s": macs / t_np,
            "ratio_time": t_np / t_core, "ratio_cpu": c_np / c_core,
            "ratio_per_round": r["ratio_per_round"]["core"],
            "on_chain": on_chain, **_products_figures(chain, r, c_np)}


def _chain_products(chain, x):
    """The folded chain's matrix products alone, on its own work arrays (what a call cannot do
    without, whatever its elementwise passes cost): the drives against the operator (with the
    offset row when the chain has a ones column) and, when the model's active-fraction
    offsets form a dense operator (the per-line share term: full rank on random weights),
    the drives' magnitudes against it (a :attr:`~pycim.macro.core.FastChain.fused` chain:
    both in its one product, K = 2 n + 1); low-rank offsets cost (r + 1) / n of a product
    and are left out. Returns a function of no arguments, or None for a per-plane chain."""
    if chain.n_planes:
        return None
    op, mag = chain.inputs(x)
    op, mag = op.copy(), None if mag is None else mag.copy()
    a_main = chain.main_operator  # a fused chain's takes the magnitudes in the same product
    y = np.empty((x.shape[0], chain.a.shape[1]), np.float32)
    t = np.empty_like(y)
    dense = _dense_abs(chain) and not chain.fused

    def products():
        np.matmul(op, a_main, out=y)
        if dense:
            np.matmul(mag, chain.a_abs, out=t)
    return products


def _dense_abs(chain) -> bool:
    """Whether the chain's active-fraction offsets are a dense operator (a second product)."""
    return chain.a_abs is not None and chain.abs_factors is None


def _products_figures(chain, r: dict, c_np: float) -> dict:
    """``products_cpu_s`` (median thread CPU time of :func:`_chain_products`, interleaved with
    the same calls), ``n_products`` and ``ratio_products_cpu`` = numpy / products: the
    ratio a call would reach if all its other work were free, i.e. the ceiling of
    ``ratio_cpu`` with this model's operators."""
    if "products" not in r["median_cpu_s"]:
        return {}
    c = r["median_cpu_s"]["products"]
    n = 1 + int(_dense_abs(chain))
    return {"products_cpu_s": c, "n_products": n, "ratio_products_cpu": c_np / c}


def digits_demo() -> dict:
    """``pycim demo digits`` end to end (training included), no files."""
    from pycim.demo_digits import run_digits

    s = run_digits(None, echo=lambda *a: None)
    return {k: s[k] for k in ("model", "accuracy_software", "accuracy_chip", "gap_points",
                              "accuracy_chip_uncalibrated", "accuracy_chip_6bit_adc",
                              "energy_per_inference_j", "latency_per_inference_s", "wall_s")}


MACRO_CASES = {"macro_throughput": macro_throughput, "digits_demo": digits_demo}

"""Benchmark cases of the MVM codes against the independent reference (registered into
``benchmarks.cases.CASES``; group ``mvm_codes`` in benchmarks/groups.py).

The reference, the spread inputs, the error budget and the two-phase split are the code tests'
(tests/mvm_reference.py, written out independently of pycim's closed form and of
:mod:`pycim.cim.phases`); these cases run them on a 16 x 16 weight core (16 signed rows = 32
physical rows, 16 transistor-level neurons) at tt.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"


def _ref():
    """tests/mvm_reference.py, imported as pytest imports it (tests/ on sys.path)."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    import mvm_reference

    return mvm_reference


def _error_figures(code, q, y, inside) -> dict:
    """Code error e = code - q (LSB) over every output, and a least-squares split of e over the
    unclipped outputs into a gain and an offset: e = g y + b (y the continuous reference; the
    mean of floor is y - 1/2, so b ~ -1/2 + the offset)."""
    e = np.asarray(code, float).ravel() - np.asarray(q, float).ravel()
    y = np.asarray(y, float).ravel()
    a = np.stack([y[inside], np.ones(int(inside.sum()))], axis=1)
    (g, b), *_ = np.linalg.lstsq(a, (np.asarray(code, float).ravel() - y)[inside], rcond=None)
    return {"err_mean_lsb": float(e.mean()), "err_max_abs_lsb": float(np.abs(e).max()),
            "err_rms_lsb": float(np.sqrt(np.mean(e ** 2))),
            "share_equal": float(np.mean(e == 0)),
            "fit_gain_error": float(g), "fit_offset_lsb": float(b + 0.5)}


def mvm_codes_pair(in_bits: int, out_bits: int, n_in: int = 16, n_out: int = 16,
                   c_integ_scale: float = 1.0, ideal: bool = True, slices: bool = False,
                   n_vectors: int | None = None, read_pulse_s: float | None = None,
                   partition: bool | None = None) -> dict:
    """One forward MVM at (``in_bits``, ``out_bits``) on an ``n_in`` x ``n_out`` weight core at
    tt on the spread problem (tests/mvm_reference.py), scored against the independent
    reference. ``in_bits`` >= 5: two phases (the reference: 2^L floor(y_hi) + floor(y_lo), each
    slice's y from its own planes and the phase full scale FS / 2^L).

    ``ideal``: ideal drivers, access and wires with linear cells, exact conductances and a
    100 ns read pulse (as the code tests); else the SKY130 core (drivers, access FETs, RRAM read
    cells, wire R/C) with the default programming error and read pulse, scored against the same
    IDEAL closed form on its programmed conductances. ``c_integ_scale``: every neuron built
    with C_integ x this (the 10 % gain mutation: 1.1). ``slices`` (two phases only): also run
    the two slices as separate one-phase MVMs and shift-add their codes here.
    ``n_vectors``: the first n of the spread problem's 3 vectors. ``read_pulse_s`` (ideal
    array): None = the code tests' 100 ns for one phase, 200 ns for two (their weights are
    small, |w| <= 0.02, so every cell sits near 1 uS and the 32-cell lines settle onto the hold
    capacitor with tau ~ 17 ns: the flow asks for ~120 ns; ``settling_warnings`` counts the
    flow's warnings, 0 when the pulse settles the lines to 0.1 %). ``partition``: the
    request's (None: the flow's default; True forces the partitioned run, e.g. at (8, 10):
    ``mvm_codes_pair(8, 10, partition=True)["pm1_share"]``)."""
    from pycim.cim.request import MvmRequest
    from pycim.dispatch import run_mvm
    from pycim.errors import SettlingWarning

    ref = _ref()
    two = in_bits >= 5
    fs = ref.matched_fs_two_phase_v(in_bits) if two else ref.matched_fs_v(in_bits)
    if two:
        w, x = ref.spread_problem_two_phase(in_bits, out_bits, n_in, n_out, fs_v=fs)
    else:
        w, x = ref.spread_problem(in_bits, out_bits, n_in, n_out, fs_v=fs)
    x = x[:n_vectors]
    if read_pulse_s is None and ideal:
        read_pulse_s = 2 * ref.READ_PULSE_SMALL_S if two else ref.READ_PULSE_SMALL_S
    kw = {"ideal": True, "prog_tol_s": 0.0} if ideal else {}
    if read_pulse_s is not None:
        kw["read_pulse_s"] = read_pulse_s
    kw["adc_full_scale_v"] = fs
    kw["partition"] = partition
    neuron = {} if c_integ_scale == 1.0 else {"c_integ_f": c_integ_scale * ref.C_I_F}
    t0 = time.perf_counter()
    with ref.neuron_defaults(**neuron), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SettlingWarning)
        out = run_mvm(MvmRequest(w, x, in_bits, out_bits, phases=2 if two else 1, **kw),
                      progress=False)
        sim_s = time.perf_counter() - t0
        if slices and two:
            (b_hi, b_p), (b_lo, _) = ref.phase_bits(in_bits, out_bits)
            x_hi, x_lo = ref.slices(x, in_bits)
            fs_p = ref.phase_fs_v(fs, in_bits)
            kp = {**kw, "adc_full_scale_v": fs_p}
            one = [run_mvm(MvmRequest(w, xs, b, b_p, phases=1, **kp), progress=False)
                   for xs, b in ((x_hi, b_hi), (x_lo, b_lo))]
    code = np.array(out["code"])
    if two:
        y_hi, y_lo, q = ref.reference_two_phase(out["g_pos_s"], out["g_neg_s"], x, in_bits,
                                                out_bits, fs)
        shift = 2 ** ref.split_bits(in_bits)[1]
        y = shift * y_hi + y_lo
        score = ref.code_check_two_phase(code, y_hi, y_lo, in_bits, out_bits, fs)
        b_p = ref.phase_bits(in_bits, out_bits)[0][1]
        half_p = 2 ** (b_p - 1) - 1
        inside = ((np.abs(y_hi) < half_p) & (np.abs(y_lo) < half_p)).ravel()
    else:
        y = ref.reference_y(out, in_bits, out_bits, fs)
        q = ref.quantise(y, out_bits)
        score = ref.code_check(code, y, out_bits, ref.budget(in_bits, out_bits, fs))
        inside = np.ones(y.size, bool)
    inside &= (np.abs(y) < 2 ** (out_bits - 1) - 1).ravel()
    half = 2 ** (out_bits - 1)
    figs = {
        "ideal_array": bool(ideal), "phases": 2 if two else 1, "adc_full_scale_v": fs,
        "n_vectors": int(x.shape[0]), "n_outputs": int(code.size),
        "c_integ_scale": float(c_integ_scale), "sim_s": sim_s,
        "read_pulse_s": float(out["read_pulse_s"]),
        "settling_warnings": sum(issubclass(c.category, SettlingWarning) for c in caught),
        "lsb_over_reference_lsb": float(out["lsb"] / ref.lsb_line_v(out_bits, fs)),
        "pm1_share": score["pm1"], "budget_share": score["budget"],
        "bias_lsb": score["bias"], "bias_max_lsb": float(score["bias_max"]),
        "budget_ok": not ref.caught(score),
        "gain_vs_ideal_quantiser": score.get("gain"), "gain_max": score.get("gain_max"),
        "y_min_lsb": float(y.min()), "y_max_lsb": float(y.max()), "y_span_lsb": float(np.ptp(y)),
        "code_min": int(code.min()), "code_max": int(code.max()),
        "code_span": int(np.ptp(code)), "half_code_range": half,
        **_error_figures(code, q, y, inside),
    }
    if two:
        x_hi, x_lo = ref.slices(x, in_bits)
        figs["split_matches_reference"] = bool(
            np.array_equal(out["phase_x"][0], x_hi) and np.array_equal(out["phase_x"][1], x_lo))
        for name, c_ph, y_ph in (("hi", out["phase_codes"][0], y_hi),
                                 ("lo", out["phase_codes"][1], y_lo)):
            e = np.array(c_ph) - ref.quantise(y_ph, b_p)
            figs[f"phase_{name}_err_mean_lsb"] = float(e.mean())
            figs[f"phase_{name}_err_max_abs_lsb"] = float(np.abs(e).max())
            figs[f"phase_{name}_y_max_abs_lsb"] = float(np.abs(y_ph).max())
        if slices:
            c_sa = ref.shift_add(one[0]["code"], one[1]["code"], in_bits, out_bits)
            raw = shift * np.array(one[0]["code"]) + np.array(one[1]["code"])
            d = np.abs(code - c_sa)
            figs.update({
                "slices_max_abs_diff_lsb": float(d.max()), "slices_share_equal": float(np.mean(d == 0)),
                "slices_n_clipped": int(np.count_nonzero(raw != c_sa)),
                "slices_same_conductances": bool(one[0]["g_pos_s"] == out["g_pos_s"]
                                                 and one[1]["g_neg_s"] == out["g_neg_s"]),
                "slices_pm1_share": float(np.mean(np.abs(c_sa - q) <= 1))})
    return figs


MVM_CODES_CASES = {"mvm_codes_pair": mvm_codes_pair}

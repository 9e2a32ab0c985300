"""Benchmark cases of the fitted macro-model: macro vs SPICE on held-out MVMs (random, or
spread over the code range)."""

from __future__ import annotations

import time

import numpy as np

from pycim.characterize.kinds_fit import spread_problem


#: relative errors of the macro-model's integrator gain whose codes a ``teeth`` run of
#: :func:`macro_vs_spice` also compares with the SPICE codes
GAIN_ERRORS = (-0.1, 0.1)


def macro_vs_spice(n_in: int, n_out: int, n_vectors: int = 1, seed: int = 101,
                   in_bits: int = 4, out_bits: int = 6, direction: str = "forward",
                   partition: bool = False, wire_segment_cells: int = 1, jobs: int = 1,
                   phases: int | None = None, spread: bool = False,
                   adc_full_scale_v: float | None = None, teeth: bool = False,
                   models: tuple[str, ...] = ()) -> dict:
    """Held-out problem (seed not used by characterization/fit.toml or fit_full.toml): the
    same request through the transistor-level flow (ngspice; ``partition``: partitioned, with
    ``jobs`` neuron banks at a time) and the packaged default macro-model; code error
    (macro - SPICE) in LSB and energy ratio. ``phases``: as ``MvmRequest.phases`` (None: two
    from 5 input bits on); a two-phase run also gives each phase's code error in the phase's
    own LSB (``phase_code_rms_lsb`` / ``_max_lsb`` / ``_mean_lsb``, high phase first: one
    high-phase code is 2^L codes of the shift-added output). ``spread``: the problem of
    :func:`spread_problem` (one vector) instead of uniformly random weights and inputs;
    ``adc_full_scale_v``: as ``MvmRequest``'s. ``teeth``: also the codes of the packaged
    model with its integrator gain off by each of :data:`GAIN_ERRORS` against the same SPICE
    codes (``gain_error_code_rms_lsb`` / ``_max_lsb``): whether the comparison can see a
    model that is wrong by that much. ``models``: other packaged models
    (:meth:`MacroModel.packaged`, e.g. ``polarity``) against the same SPICE codes, their
    figures under the name as a prefix (``polarity_code_rms_lsb``, ``polarity_energy_ratio``,
    ..., with ``teeth`` their own gain-error figures too)."""
    from dataclasses import replace

    from pycim.characterize.kinds_fit import problem
    from pycim.cim.request import MvmRequest
    from pycim.dispatch import run_mvm
    from pycim.macro.engine import run_macro_mvm
    from pycim.macro.model import MacroModel

    if spread:
        if n_vectors != 1:
            raise ValueError("a spread problem is one vector (its weights follow its signs)")
        w, x = spread_problem(n_in, n_out, in_bits, direction, seed)
    else:
        w, x = problem({"n_in": n_in, "n_out": n_out, "in_bits": in_bits, "w_scale": 1.0,
                        "batch": n_vectors, "seed": seed, "direction": direction})

    def request(eng):
        return MvmRequest(w, x, in_bits, out_bits, engine=eng, seed=seed, direction=direction,
                          partition=partition, wire_segment_cells=wire_segment_cells,
                          phases=phases, adc_full_scale_v=adc_full_scale_v)

    out = {}
    for eng in ("spice", "macro"):
        t0 = time.perf_counter()
        out[eng] = run_mvm(request(eng), progress=False, jobs=jobs)
        out[eng]["wall"] = time.perf_counter() - t0
    cs = np.array(out["spice"]["code"])
    es = out["spice"]["energy_j"]["total"]

    def gain_errors(m):  # the model with its integrator gain off, on the same SPICE codes
        wrong = [np.array(run_macro_mvm(request("macro"), model=replace(
            m, integ_gain=m.integ_gain * (1 + e)))["code"]) - cs for e in GAIN_ERRORS]
        return {"gain_errors": list(GAIN_ERRORS),
                "gain_error_code_rms_lsb": [float(np.sqrt(np.mean(e ** 2))) for e in wrong],
                "gain_error_code_max_lsb": [float(np.max(np.abs(e))) for e in wrong]}

    def against_spice(mac):  # one model's codes and energy against the SPICE run's
        err = np.array(mac["code"]) - cs
        em = mac["energy_j"]["total"]
        fig = {"code_rms_lsb": float(np.sqrt(np.mean(err ** 2))),
               "code_max_lsb": float(np.max(np.abs(err))), "code_mean_lsb": float(np.mean(err)),
               "energy_macro_j": em, "energy_ratio": em / es, "codes_macro": mac["code"]}
        if out["spice"].get("phases") == 2:  # each phase's own codes, in the phase's LSB
            ep = [np.array(m) - np.array(s) for s, m in zip(out["spice"]["phase_codes"],
                                                            mac["phase_codes"])]
            fig.update({"phase_code_rms_lsb": [float(np.sqrt(np.mean(e ** 2))) for e in ep],
                        "phase_code_max_lsb": [float(np.max(np.abs(e))) for e in ep],
                        "phase_code_mean_lsb": [float(np.mean(e)) for e in ep]})
        return fig

    others = {}
    for name in models:
        m = MacroModel.packaged(name)
        fig = against_spice(run_macro_mvm(request("macro"), model=m))
        if teeth:
            fig.update(gain_errors(m))
        others.update({f"{name}_{k}": v for k, v in fig.items()})
    return {**against_spice(out["macro"]),
            "closed_form_rms_lsb": float(np.sqrt(np.mean(
                (cs - np.floor(np.array(out["spice"]["y_ideal"]))) ** 2))),
            "energy_spice_j": es,
            "spice_s": out["spice"]["wall"], "macro_s": out["macro"]["wall"],
            "same_conductances": out["spice"]["g_pos_s"] == out["macro"]["g_pos_s"],
            "codes_spice": cs.tolist(), "spice_code_range": [float(cs.min()), float(cs.max())],
            **(gain_errors(MacroModel.load()) if teeth else {}), **others}


FIT_CASES = {"macro_vs_spice": macro_vs_spice}

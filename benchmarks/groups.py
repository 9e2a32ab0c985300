"""Benchmark groups: which cases run, which figures they report, which targets they check."""

from __future__ import annotations

GB = 1 << 30


def _target(what, value, limit, met):
    return {"what": what, "value": float(value), "target": limit, "met": bool(met)}


def array_dc_op(run_case, quick=False):
    """DC op of n x n 1T1R arrays (flat BSIM4 + OSDI RRAM read model), KLU vs Sparse, against a
    passive crossbar of linear resistors with the same wires, measured in the same run."""
    figs, targets = {}, []
    sizes = (64, 128) if quick else (64, 128, 256)
    for n in sizes:
        passive = run_case("dc_op", n=n, cell="linear", access="ideal", klu=True)
        figs[f"passive_wireR_{n}_klu"] = passive
        for klu in (True, False):
            if n == 256 and not klu:
                continue  # Sparse 1.3 at 256^2 with wire R: minutes; 64/128 show the trend
            r = run_case("dc_op", n=n, cell="rram_read", access="sky130", klu=klu)
            r["ratio_to_passive"] = r["wall_s"] / passive["wall_s"]
            figs[f"1t1r_wireR_{n}_{'klu' if klu else 'sparse'}"] = r
        figs[f"1t1r_idealwires_{n}_klu"] = run_case("dc_op", n=n, cell="rram_read",
                                                     access="sky130", klu=True, wire_r=False)
    if 256 in sizes:
        r = figs["1t1r_idealwires_256_klu"]
        targets.append(_target("256x256 1T1R DC op, ideal wires [s]", r["wall_s"], "<= 10",
                               r["wall_s"] <= 10))
        targets.append(_target("256x256 1T1R DC op, ideal wires, peak RSS [GB]",
                               r["child_peak_rss_b"] / GB, "<= 1.5", r["child_peak_rss_b"] <= 1.5 * GB))
        r = figs["1t1r_wireR_256_klu"]
        targets.append(_target("256x256 1T1R DC op, per-cell wire R/C [s]", r["wall_s"], "<= 10",
                               r["wall_s"] <= 10))
        targets.append(_target("256x256 1T1R DC op, wire R/C, peak RSS [GB]",
                               r["child_peak_rss_b"] / GB, "<= 1.5", r["child_peak_rss_b"] <= 1.5 * GB))
        targets.append(_target("256x256 1T1R / passive crossbar (same wires)",
                               r["ratio_to_passive"], "<= 3", r["ratio_to_passive"] <= 3))
    return figs, targets


def netlist_generation(run_case, quick=False):
    figs = {}
    for n in ((16,) if quick else (16, 256)):
        figs[f"core_{n}"] = run_case("netlist_core", n=n)
    return figs, []


def runner_choice(run_case, quick=False):
    figs = {"subprocess": run_case("runner_op", mode="subprocess")}
    try:
        figs["pyspice_shared"] = run_case("runner_op", mode="pyspice")
    except RuntimeError as exc:  # PySpice is an optional extra: pip install -e .[pyspice]
        figs["pyspice_shared"] = {"skipped": str(exc).splitlines()[-1][:120]}
    return figs, []


def engines_side_by_side(run_case, quick=False):
    """The 256 x 256 reference core's DC op in ngspice and VACASK (same circuit)."""
    if quick:
        return {}, []
    ng = run_case("reference_core_op", engine="ngspice")
    vc = run_case("reference_core_op", engine="vacask")
    return {"ngspice": ng, "vacask": {**vc, "ratio_vacask_to_ngspice": vc["wall_s"] / ng["wall_s"],
                                      "sl_mean_diff_v": vc["sl_mean_v"] - ng["sl_mean_v"]}}, []


def characterization_throughput(run_case, quick=False):
    """Sweep points per minute with 1 and 2 worker processes (8 equal points)."""
    one = run_case("sweep_throughput", jobs=1)
    two = run_case("sweep_throughput", jobs=2)
    speedup = one["sweep_s"] / two["sweep_s"]
    figs = {"jobs_1": one, "jobs_2": {**two, "speedup_vs_1": speedup}}
    return figs, [_target("2-job sweep speed-up (8 equal points)", speedup, ">= 1.7",
                          speedup >= 1.7)]


GROUPS = {"netlist_generation": netlist_generation, "array_dc_op": array_dc_op,
          "runner_choice": runner_choice,
          "characterization_throughput": characterization_throughput,
          "engines_side_by_side": engines_side_by_side}

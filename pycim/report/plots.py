"""The report's figures, drawn from the numbers dict only, as PNG bytes (embedded in the HTML)."""

from __future__ import annotations

import io

import numpy as np

from . import data, paper

BITS = tuple(range(1, 9))
C_PAPER, C_SIM = "#222222", "#1f77b4"
SIZE_COLORS = ("#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _fig(*args, **kw):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kw)


def _by_size(nums: dict, key: str) -> dict[tuple[int, int], tuple[list, list]]:
    out: dict = {}
    for r in nums["measured"]:
        xs, ys = out.setdefault((r["n_in"], r["n_out"]), ([], []))
        xs.append(r["in_bits"])
        ys.append(r[key])
    return out


def _paper_series(nums: dict, key: str) -> list[float]:
    return [nums["paper"][key][str(b)]["value"] for b in BITS]


def plot_efficiency(nums: dict) -> bytes:
    fig, (a1, a2) = _fig(1, 2, figsize=(11, 4.2))
    for ax, key, scale, unit in ((a1, "tops_per_w", 1.0, "TOPS/W"),
                                 (a2, "energy_per_mac_j", 1e15, "fJ per MAC")):
        ax.plot(BITS, np.array(_paper_series(nums, key)) * scale, "s-", color=C_PAPER,
                label="paper (48 cores, Ext. Data Fig. 12d)")
        ax.plot(BITS, [nums[key][str(b)] * scale for b in BITS], "o-", color=C_SIM, lw=2,
                label="sim: 256x256 core / chip (fitted model)")
        for ((ni, no), (xs, ys)), c in zip(_by_size(nums, key).items(), SIZE_COLORS):
            ax.plot(xs, np.array(ys) * scale, "x--", color=c, alpha=0.8,
                    label=f"sim: transistor level {ni}x{no}")
        ax.set_yscale("log")
        ax.set_xlabel("input bits (signed); outputs = inputs + 2 (two phases from 5 bits)")
        ax.set_ylabel(unit)
        ax.grid(True, which="both", alpha=0.3)
    a1.set_title("Energy efficiency vs input bits")
    a2.set_title("Energy per MAC vs input bits (1 MAC = 2 ops)")
    h, lab = a1.get_legend_handles_labels()
    fig.legend(h, lab, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8)
    return _png(fig)


def plot_ratio(nums: dict) -> bytes:
    fig, ax = _fig(figsize=(7, 3.6))
    r = [nums["ratio_sim_over_paper"]["tops_per_w"][str(b)] for b in BITS]
    ax.bar(BITS, r, color=C_SIM)
    for b, v in zip(BITS, r):
        ax.text(b, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xlabel("input bits")
    ax.set_ylabel("TOPS/W sim / paper")
    ax.set_title("Ratio of simulated (chip level) to published TOPS/W")
    return _png(fig)


def plot_in_out_map(nums: dict, fit_energy: dict, fit_timing: dict) -> bytes:
    """TOPS/W of a core over (in_bits, out_bits) from the fitted model."""
    from ..macro.model import MacroModel

    m = MacroModel.ideal().with_(energy=fit_energy, timing=fit_timing)
    g = data.g_total_s(paper.CORE_ROWS // 2, paper.CORE_COLS)
    tw = np.zeros((8, 8))
    for i, b in enumerate(BITS):
        for j, o in enumerate(BITS):
            e = m.energy_j(b, o, paper.CORE_ROWS, paper.CORE_COLS, g)["total"]
            tw[j, i] = paper.OPS_PER_MAC * paper.CORE_MACS / e / 1e12
    fig, (a1, a2) = _fig(1, 2, figsize=(11, 4.2))
    im = a1.imshow(tw, origin="lower", extent=(0.5, 8.5, 0.5, 8.5), cmap="viridis", aspect="auto")
    for i, b in enumerate(BITS):
        for j, o in enumerate(BITS):
            a1.text(b, o, f"{tw[j, i]:.1f}", ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(im, ax=a1, label="TOPS/W")
    a1.set_xlabel("input bits")
    a1.set_ylabel("output bits")
    a1.set_title("Core TOPS/W vs input and output bits (fitted model)")
    for b, c in zip((1, 2, 4, 6, 8), SIZE_COLORS):
        a2.plot(BITS, [tw[j, b - 1] for j in range(8)], "o-", color=c, label=f"{b}-bit inputs")
    a2.set_xlabel("output bits")
    a2.set_ylabel("TOPS/W")
    a2.set_yscale("log")
    a2.grid(True, which="both", alpha=0.3)
    a2.legend(fontsize=7)
    a2.set_title("Core TOPS/W vs output bits (fitted model)")
    return _png(fig)


def plot_breakdown(nums: dict) -> bytes:
    groups = list(paper.PAPER_GROUPS)
    colors = {"wl_switching": "#d62728", "neuron": "#1f77b4", "input_pulses": "#2ca02c"}
    fig, (a1, a2) = _fig(1, 2, figsize=(12, 4.4))
    x = np.array(BITS, float)
    w = 0.38
    bot_s = np.zeros(8)
    bot_p = np.zeros(8)
    for g in groups:
        sim = np.array([nums["breakdown_by_in_bits"][str(b)][g] for b in BITS])
        pap_fj = np.array([nums["paper"]["breakdown_fj_per_op"][str(b)][g]["value"]
                           for b in BITS])
        tot_p = np.array([sum(v["value"] for v in nums["paper"]["breakdown_fj_per_op"][str(b)]
                              .values()) for b in BITS])
        pap = pap_fj / tot_p
        a1.bar(x - w / 2, sim, w, bottom=bot_s, color=colors[g], label=f"sim {g}")
        a1.bar(x + w / 2, pap, w, bottom=bot_p, color=colors[g], alpha=0.45, hatch="//",
               label=f"paper {g}")
        bot_s += sim
        bot_p += pap
        a2.plot(BITS, [c["fj"] for c in _breakdown_fj(nums, g)], "o-", color=colors[g],
                label=f"sim {g}")
        a2.plot(BITS, pap_fj, "s--", color=colors[g], alpha=0.6, label=f"paper {g}")
    a1.set_ylim(0, 1.35)
    a1.set_xlabel("input bits (left bar: sim core, right hatched bar: paper)")
    a1.set_ylabel("fraction of energy")
    a1.set_title("Energy shares by component (paper: Ext. Data Fig. 12b)")
    a1.legend(fontsize=7, ncol=3, loc="upper center")
    a2.set_yscale("log")
    a2.set_xlabel("input bits")
    a2.set_ylabel("fJ per op")
    a2.set_title("Energy per op by component: sim core vs paper")
    a2.grid(True, which="both", alpha=0.3)
    a2.legend(fontsize=7, ncol=2)
    return _png(fig)


def _breakdown_fj(nums: dict, g: str) -> list[dict]:
    out = []
    for b in BITS:
        c = nums["core"][str(b)]
        fj = sum(c["energy_j"][k] for k in paper.PAPER_GROUPS[g][1]) / c["macs"] \
            / paper.OPS_PER_MAC * 1e15
        out.append({"in_bits": b, "fj": fj})
    return out


def plot_latency(nums: dict) -> bytes:
    fig, axs = _fig(1, 3, figsize=(13, 3.8))
    lat_p = _paper_series(nums, "latency_per_mvm_s")
    tops_p = _paper_series(nums, "throughput_tops_48_cores")
    sim_lat = [nums["latency_s"][str(b)] for b in BITS]
    sim_tops = [nums["throughput_tops"][str(b)] for b in BITS]
    e_p = [nums["paper"]["energy_per_mac_j"][str(b)]["value"] * paper.CORE_MACS for b in BITS]
    edp_p = [e * t for e, t in zip(e_p, lat_p)]
    edp_s = [nums["edp_js"][str(b)] for b in BITS]
    for ax, s, p, lab, sc in ((axs[0], sim_lat, lat_p, "latency per core MVM (us)", 1e6),
                              (axs[1], sim_tops, tops_p, "throughput, 48 cores (TOPS)", 1.0),
                              (axs[2], edp_s, edp_p, "EDP per core MVM (pJ us)", 1e18)):
        ax.plot(BITS, np.array(p) * sc, "s-", color=C_PAPER,
                label="paper (derived from Fig. 12c/d)")
        ax.plot(BITS, np.array(s) * sc, "o-", color=C_SIM, label="sim")
        ax.set_yscale("log")
        ax.set_xlabel("input bits")
        ax.set_ylabel(lab)
        ax.grid(True, which="both", alpha=0.3)
    axs[0].legend(fontsize=7)
    axs[0].set_title("Latency")
    axs[1].set_title("Throughput")
    axs[2].set_title("Energy-delay product")
    return _png(fig)


def plot_sensitivity(nums: dict) -> bytes:
    rows = nums["sensitivity"]["rows"]
    step = nums["sensitivity"]["rel_step"]
    fig, ax = _fig(figsize=(8, 0.45 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    lo = [100 * r["rel_change_low"] for r in rows]
    hi = [100 * r["rel_change_high"] for r in rows]
    ax.barh(y, lo, color="#9ecae1", label=f"assumption x {1 - step:.1f}")
    ax.barh(y, hi, color="#08519c", alpha=0.8, label=f"assumption x {1 + step:.1f}")
    ax.set_yticks(y, [r["label"] for r in rows])
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("change of core energy per MAC (%)")
    ax.set_title(f"Sensitivity at {nums['sensitivity']['in_bits']}-bit inputs "
                 "(one at a time, fitted model)")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_fit(nums: dict, predicted: list[dict]) -> bytes:
    fig, ax = _fig(figsize=(6, 5))
    for g, c in zip((*data.GROUPS, "total"), SIZE_COLORS):
        meas = [r["energy_j"][g] for r in nums["measured"]]
        pred = [p[g] for p in predicted]
        ax.loglog(meas, pred, "o", color=c, label=g, alpha=0.8)
    lo = min(min(r["energy_j"][g] for g in data.GROUPS) for r in nums["measured"])
    hi = max(r["energy_j"]["total"] for r in nums["measured"])
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.set_xlabel("transistor-level energy per MVM (J)")
    ax.set_ylabel("fitted model (J)")
    ax.set_title("Energy model fit, every measured MVM")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _png(fig)


def make_plots(nums: dict) -> list[tuple[str, str, bytes]]:
    """``[(id, caption, png bytes)]`` for every figure of the report."""
    from ..macro.model import MacroModel

    fitm = MacroModel.ideal().with_(energy=nums["fit"]["coefficients"],
                                    timing=nums["fit"]["timing"])
    pred = [fitm.energy_j(r["in_bits"], r["out_bits"], 2 * r["n_in"], r["n_out"],
                          data.g_total_s(r["n_in"], r["n_out"])) for r in nums["measured"]]
    return [
        ("efficiency", "TOPS/W and energy per MAC vs input bits: paper, chip-level simulation "
         "(fitted model) and every transistor-level MVM", plot_efficiency(nums)),
        ("ratio", "Simulated / published TOPS/W per input width", plot_ratio(nums)),
        ("in_out", "TOPS/W over input and output bits (core, fitted model)",
         plot_in_out_map(nums, nums["fit"]["coefficients"], nums["fit"]["timing"])),
        ("breakdown", "Energy breakdown beside the paper's", plot_breakdown(nums)),
        ("latency", "Latency, throughput and energy-delay product", plot_latency(nums)),
        ("sensitivity", "Which assumption moves energy most", plot_sensitivity(nums)),
        ("fit", "How well the fitted energy model reproduces the transistor-level MVMs",
         plot_fit(nums, pred)),
    ]


__all__ = ["make_plots"]

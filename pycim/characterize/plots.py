"""One PNG per sweep kind (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _fig():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> Path:
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_cell_iv(df, path: Path) -> Path:
    plt = _fig()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for gap, g in df.groupby("gap_nm"):
        g = g.sort_values("v_v")
        nz = g["i_a"].abs() > 0
        ax.semilogy(g["v_v"][nz], g["i_a"].abs()[nz], "-", label=f"gap {gap:.2f} nm")
        ax.semilogy(g["v_v"][nz], g["i_ref_a"].abs()[nz], "k:", lw=0.8)
    ax.set_xlabel("V (V)")
    ax.set_ylabel("|I| (A)")
    ax.set_title("RRAM cell I-V (dotted: closed form)")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def plot_mvm_transfer(df, path: Path) -> Path:
    from .measure import ideal_staircase, transfer_fit

    plt = _fig()
    groups = list(df.groupby(["n_in", "n_out", "in_bits", "out_bits", "ideal", "corner", "temp_c"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.5), squeeze=False)
    for ax, (keys, g) in zip(axes[0], groups):
        n_in, n_out, ib, ob, ideal, corner, temp = keys
        fit = transfer_fit(g["y_ideal"], g["code"], int(ob))
        ax.scatter(g["y_ideal"], g["code"], s=12, label="simulated")
        y = np.linspace(g["y_ideal"].min() - 1, g["y_ideal"].max() + 1, 2000)
        ax.plot(y, ideal_staircase(y, int(ob)), "k-", lw=0.8, label="ideal floor staircase")
        ax.set_xlabel("y_ideal (LSB)")
        ax.set_ylabel("code")
        ax.set_title(f"{n_in}x{n_out} in{ib}/out{ob} {'ideal' if ideal else corner} {temp:g}C\n"
                     f"gain {fit['gain']:.3f}, offset {fit['offset_lsb']:+.2f} LSB, "
                     f"INL {fit['inl_lsb']:.2f} LSB", fontsize=9)
        ax.legend(fontsize=7)
    return _save(plt, fig, path)


def plot_energy(df, path: Path) -> Path:
    plt = _fig()
    comps = ["array", "drivers", "wordlines", "neuron"]
    g = df.groupby("in_bits")[[f"e_{c}_j" for c in comps] + ["macs"]].mean().sort_index()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    x = np.arange(len(g))
    bottom = np.zeros(len(g))
    for c in comps:
        v = (g[f"e_{c}_j"] / g["macs"]).to_numpy() * 1e15
        ax.bar(x, v, bottom=bottom, label=c)
        bottom += v
    ax.set_xticks(x, [str(b) for b in g.index])
    ax.set_xlabel("input bits")
    ax.set_ylabel("energy per MAC (fJ)")
    ax.set_title("Energy per MAC by component (mean over points)")
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def plot_set_reset(df, path: Path) -> Path:
    plt = _fig()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for keys, g in df.groupby(["g_init_us", "v_set_max_v", "v_reset_max_v", "n_pulses",
                               "width_s", "r_series_ohm"]):
        ax.plot(g["pulse"], g["g_read_us"], "o-", ms=3, label=f"G0 {keys[0]:g} uS")
    ax.set_yscale("log")
    ax.set_xlabel("pulse #  (SET then RESET)")
    ax.set_ylabel("read conductance (uS)")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def plot_adc_transfer(df, path: Path) -> Path:
    """Code vs integrator input with the ideal staircase, and the code error, per output width."""
    plt = _fig()
    fig, ax = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True)
    for keys, g in df.groupby(["out_bits", "corner", "temp_c"]):
        g = g.sort_values("v_int_v")
        lab = f"{keys[0]} bit, {keys[1]}, {keys[2]:g} C"
        ax[0].step(g["v_int_v"] * 1e3, g["ideal_code"], where="post", lw=0.8, color="0.6")
        ax[0].plot(g["v_int_v"] * 1e3, g["code"], "o", ms=3, label=lab)
        ax[1].plot(g["v_int_v"] * 1e3, g["code"] - g["ideal_code"], "o-", ms=3, label=lab)
    ax[0].set_ylabel("code (ideal staircase grey)")
    ax[1].set_ylabel("code - ideal [LSB]")
    ax[1].set_xlabel("integrator input - Vref [mV]")
    ax[0].legend(fontsize=7)
    return _save(plt, fig, path)


def plot_ir_drop(df, path: Path) -> Path:
    plt = _fig()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    g = df.assign(abs_err=df["err_frac_vread"].abs()).groupby(
        ["rows", "wire_r_ohm_per_um"])["abs_err"].max().reset_index()
    for wr, gg in g.groupby("wire_r_ohm_per_um"):
        ax.plot(gg["rows"], gg["abs_err"] * 100, "o-", label=f"{wr:g} ohm/um")
    ax.set_xlabel("rows")
    ax.set_ylabel("worst |V_SL - closed form| [% of Vread]")
    ax.set_title("IR drop vs array size and wire resistance")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def plot_settling(df, path: Path) -> Path:
    plt = _fig()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    g = df.groupby(["rows", "g_cell_us", "wire_r_ohm_per_um"])["t_settle_s"].max().reset_index()
    g["g_sum_us"] = g["rows"] * g["g_cell_us"]
    for (wr,), gg in g.groupby(["wire_r_ohm_per_um"]):
        gg = gg.sort_values("g_sum_us")
        ax.loglog(gg["g_sum_us"], gg["t_settle_s"] * 1e9, "o-", label=f"wire {wr:g} ohm/um")
    ax.set_xlabel("total line conductance sum G [uS]")
    ax.set_ylabel("settling time [ns]")
    ax.set_title("floating-line settling vs total conductance")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


PLOTS = {"adc_transfer": plot_adc_transfer, "ir_drop": plot_ir_drop, "settling": plot_settling,
         "cell_iv": plot_cell_iv, "mvm_transfer": plot_mvm_transfer, "energy_per_mac": plot_energy,
         "set_reset": plot_set_reset}


def plot_kind(kind: str, df, path: Path) -> Path | None:
    fn = PLOTS.get(kind)
    return fn(df, Path(path)) if fn and len(df) else None

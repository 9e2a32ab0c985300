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


_MVM_KEYS = ["n_in", "n_out", "in_bits", "out_bits", "ideal", "corner", "temp_c"]


def _nominal(df):
    """Rows at the nominal point (tt, 27 C, 1.8 V, no mismatch) when the sweep varies those."""
    sel = df
    for col, val in (("corner", "tt"), ("temp_c", 27.0), ("vdd_v", 1.8), ("mismatch", 0.0)):
        if col in sel and sel[col].nunique() > 1 and (sel[col] == val).any():
            sel = sel[sel[col] == val]
    return sel


def plot_mvm_transfer(df, path: Path) -> list[Path]:
    """Transfer curve (code vs ideal dot product, with the floor staircase) and the code error
    (INL view) per configuration at the nominal point; plus, when the sweep varies them, the
    corner spread (:func:`plot_corner_spread`) and the Monte Carlo histogram
    (:func:`plot_mc_histogram`) as separate PNGs."""
    from .measure import ideal_staircase, transfer_fit

    plt = _fig()
    nom = _nominal(df)
    groups = list(nom.groupby(_MVM_KEYS))[:4]
    fig, axes = plt.subplots(2, len(groups), figsize=(5.5 * len(groups), 7), squeeze=False,
                             sharex="col")
    for k, (keys, g) in enumerate(groups):
        n_in, n_out, ib, ob, ideal, corner, temp = keys
        ax, ax2 = axes[0, k], axes[1, k]
        fit = transfer_fit(g["y_ideal"], g["code"], int(ob))
        ax.scatter(g["y_ideal"], g["code"], s=12, label="simulated")
        y = np.linspace(g["y_ideal"].min() - 1, g["y_ideal"].max() + 1, 2000)
        ax.plot(y, ideal_staircase(y, int(ob)), "k-", lw=0.8, label="ideal floor staircase")
        ax.set_ylabel("code")
        ax.set_title(f"{n_in}x{n_out} in{ib}/out{ob} {'ideal' if ideal else corner} {temp:g}C\n"
                     f"gain {fit['gain']:.3f}, offset {fit['offset_lsb']:+.2f} LSB, "
                     f"INL {fit['inl_bin_lsb']:.2f} LSB", fontsize=9)
        ax.legend(fontsize=7)
        ax2.plot(g["y_ideal"], g["code"] - ideal_staircase(g["y_ideal"], int(ob)), "o", ms=4)
        ax2.axhline(0, color="k", lw=0.6)
        ax2.set_xlabel("y_ideal (LSB)")
        ax2.set_ylabel("code - floor(y_ideal) [LSB]")
    out = [_save(plt, fig, path)]
    varied = [c for c in ("corner", "temp_c", "vdd_v") if c in df and df[c].nunique() > 1]
    if varied:
        out.append(plot_corner_spread(df, path.with_name(path.stem + "_corners.png")))
    if "seed" in df and df["seed"].nunique() > 1:
        out.append(plot_mc_histogram(df, path.with_name(path.stem + "_mc.png")))
    return out


def plot_corner_spread(df, path: Path) -> Path:
    """Code error (code - floor(y_ideal), LSB) per corner, temperature and supply: one strip of
    points per (corner, temperature), markers per supply."""
    from .measure import ideal_staircase

    plt = _fig()
    d = df.assign(err=df["code"] - ideal_staircase(df["y_ideal"], int(df["out_bits"].max())))
    corners = list(dict.fromkeys(d["corner"]))
    temps = sorted(d["temp_c"].unique())
    vdds = sorted(d["vdd_v"].unique()) if "vdd_v" in d else [None]
    marks = ["v", "o", "^", "s", "D"]
    fig, ax = plt.subplots(figsize=(min(16, max(6, 1.1 * len(corners) * len(temps))), 4.8))
    x0, ticks, labels = 0, [], []
    for c in corners:
        for t in temps:
            g = d[(d["corner"] == c) & (d["temp_c"] == t)]
            for k, v in enumerate(vdds):
                gg = g if v is None else g[g["vdd_v"] == v]
                if not len(gg):
                    continue
                jitter = (k - (len(vdds) - 1) / 2) * 0.18
                ax.plot(np.full(len(gg), x0 + jitter), gg["err"], marks[k % len(marks)],
                        ms=4, color=f"C{temps.index(t)}", alpha=0.8,
                        label=(f"{v:g} V" if v is not None and c == corners[0] and t == temps[0]
                               else None))
            ticks.append(x0)
            labels.append(f"{c}\n{t:g} C")
            x0 += 1
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(ticks, labels, fontsize=7)
    ax.set_ylabel("code - floor(y_ideal) [LSB]")
    ax.set_title("MVM code error across corners x temperature (markers: supply)")
    if vdds != [None]:
        ax.legend(fontsize=7, title="supply")
    return _save(plt, fig, path)


def plot_mc_histogram(df, path: Path) -> Path:
    """Monte Carlo: histogram of the code error against the target weights (code -
    floor(y_target)) over seeds, one per (programming tolerance, mismatch sigma)."""
    from .measure import ideal_staircase

    plt = _fig()
    d = df.assign(err=df["code"] - ideal_staircase(df["y_target"], int(df["out_bits"].max())))
    keys = [k for k in ("prog_tol_us", "mismatch") if k in d]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    lo, hi = d["err"].min() - 0.5, d["err"].max() + 0.5
    bins = np.arange(lo, hi + 1, 1.0)
    for k, (vals, g) in enumerate(d.groupby(keys)):
        vals = vals if isinstance(vals, tuple) else (vals,)
        lab = ", ".join(f"{n} {v:g}" for n, v in zip(keys, vals))
        ax.hist(g["err"], bins=bins, histtype="step", lw=1.5,
                label=f"{lab}: sd {g['err'].std():.2f} LSB (n={len(g)}, {g['seed'].nunique()} runs)")
    ax.set_xlabel("code - floor(y_target) [LSB]")
    ax.set_ylabel("count")
    ax.set_title("Monte Carlo: MVM error against the target weights")
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
    """Settling time vs total line conductance per wire R; per corner when corners vary."""
    plt = _fig()
    by_corner = "corner" in df and df["corner"].nunique() > 1
    fig, axes = plt.subplots(1, 2 if by_corner else 1, figsize=(11 if by_corner else 6, 4.5),
                             squeeze=False)
    ax = axes[0, 0]
    g = df.groupby(["rows", "g_cell_us", "wire_r_ohm_per_um"])["t_settle_s"].max().reset_index()
    g["g_sum_us"] = g["rows"] * g["g_cell_us"]
    for (wr,), gg in g.groupby(["wire_r_ohm_per_um"]):
        gg = gg.sort_values("g_sum_us")
        ax.loglog(gg["g_sum_us"], gg["t_settle_s"] * 1e9, "o-", label=f"wire {wr:g} ohm/um")
    ax.set_xlabel("total line conductance sum G [uS]")
    ax.set_ylabel("settling time [ns]")
    ax.set_title("floating-line settling vs total conductance")
    ax.legend(fontsize=7)
    if by_corner:
        ax = axes[0, 1]
        c = df.groupby(["corner", "rows", "g_cell_us"])["t_settle_s"].max().reset_index()
        corners = list(dict.fromkeys(df["corner"]))
        confs = list(c.groupby(["rows", "g_cell_us"]).groups)
        w = 0.8 / len(confs)
        for k, (rows, gc) in enumerate(confs):
            v = [c[(c.corner == cn) & (c.rows == rows) & (c.g_cell_us == gc)]["t_settle_s"].max()
                 for cn in corners]
            ax.bar(np.arange(len(corners)) + k * w, np.array(v) * 1e9, w,
                   label=f"{rows} rows x {gc:g} uS")
        ax.set_xticks(np.arange(len(corners)) + 0.4 - w / 2, corners)
        ax.set_ylabel("settling time [ns]")
        ax.set_title("settling per corner (access FET Ron)")
        ax.legend(fontsize=7)
    return _save(plt, fig, path)


def plot_write_verify(df, path: Path) -> Path:
    """Left: read conductance after each pulse for a few targets per scheme variant (band
    +-tol shaded). Right: pulses to each target, one bar series per (WL, temperature,
    refinement), hatched where the run did not converge."""
    import pandas as pd

    plt = _fig()
    fig, ax = plt.subplots(1, 2, figsize=(13, 5))
    if "refine_factor" not in df:
        df = df.assign(refine_factor=0.5)
    var_keys = ["v_wl_set_v", "temp_c", "refine_factor", "g_init_us", "tol_us", "corner"]
    variants = sorted(df.groupby(var_keys).groups)
    # trajectories: up to three targets (low, mid, high) of each variant
    k = 0
    for var in variants:
        d = df[(df[var_keys] == pd.Series(var, index=var_keys)).all(axis=1)]
        tg = sorted(d["target_us"].unique())
        for tgt in sorted({tg[0], tg[len(tg) // 2], tg[-1]}):
            g = d[d["target_us"] == tgt].sort_values("pulse")
            wl, temp, rf, g0, tol, corner = var
            col = f"C{k % 10}"
            k += 1
            what = f"WL {wl:g} V, {temp:g} C" + ("" if rf == 0.5 else ", verbatim")
            ax[0].plot(g["pulse"], g["g_read_us"], "-", lw=0.9, color=col,
                       label=f"{tgt:g} uS ({what})")
            ax[0].plot(g["pulse"].iloc[-1:], g["g_read_us"].iloc[-1:], "o", color=col, ms=4)
            ax[0].axhspan(tgt - tol, tgt + tol, color=col, alpha=0.10)
    ax[0].set_yscale("log")
    ax[0].set_xlabel("pulse # (dot: last)")
    ax[0].set_ylabel("verify read conductance [uS]")
    ax[0].set_title("write-verify trajectories (band: target +- tol)")
    ax[0].legend(fontsize=6, ncol=2)
    width = 0.8 / max(len(variants), 1)
    all_t = np.array(sorted(df["target_us"].unique()))
    for j, var in enumerate(variants):
        d = df[(df[var_keys] == pd.Series(var, index=var_keys)).all(axis=1)]
        last = d.sort_values("pulse").groupby("target_us").tail(1).sort_values("target_us")
        tol = var[4]
        ok = (last["g_read_us"] - last["target_us"]).abs() <= tol + 1e-12
        wl, temp, rf = var[:3]
        x = np.searchsorted(all_t, last["target_us"].to_numpy())
        ax[1].bar(x + (j - (len(variants) - 1) / 2) * width, last["pulse"], width,
                  color=f"C{j}", edgecolor=["k" if not o else f"C{j}" for o in ok], lw=1.5,
                  label=f"WL {wl:g} V, {temp:g} C" + ("" if rf == 0.5 else ", verbatim")
                  + f" ({int(ok.sum())}/{len(ok)} converged)")
    ax[1].set_xticks(np.arange(len(all_t)), [f"{t:g}" for t in all_t], fontsize=7)
    ax[1].set_xlabel("target [uS]")
    ax[1].set_ylabel("pulses (black edge: not converged)")
    ax[1].set_title("pulses to target")
    ax[1].legend(fontsize=7)
    return _save(plt, fig, path)


PLOTS = {"adc_transfer": plot_adc_transfer, "ir_drop": plot_ir_drop, "settling": plot_settling,
         "cell_iv": plot_cell_iv, "mvm_transfer": plot_mvm_transfer, "energy_per_mac": plot_energy,
         "set_reset": plot_set_reset, "write_verify": plot_write_verify}


def plot_kind(kind: str, df, path: Path) -> list[Path]:
    """The PNGs of one kind's table (``path`` and, for some kinds, ``<stem>_<view>.png``)."""
    fn = PLOTS.get(kind)
    if not fn or not len(df):
        return []
    out = fn(df, Path(path))
    return list(out) if isinstance(out, (list, tuple)) else [out]

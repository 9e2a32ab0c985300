"""``pycim demo``: the main job on a small default.

A cell I-V family at several programmed conductances (checked against the model equation) and
SET / RESET pulse families with write-verify-style stepped amplitudes (gradual under a series
compliance), simulated in ngspice with SkyWater's RRAM parameter set; then a 16 x 16 signed MVM at transistor level beside the closed form
(:mod:`pycim.demo_mvm`); plots to PNG.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .measure.cell import pulse_response
from .netlist import testbench as tb
from .sim import PRECISE_OPTIONS, Dc, NgspiceEngine, Tran
from .tech import rram


def run_demo(out_dir: str | Path, echo=print, mvm: bool = True) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    eng = NgspiceEngine()

    # -- I-V family at programmed read conductances (1..40 uS at the read voltage) ------------
    targets_s = np.array([1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 40e-6])
    gaps = rram.gap_for_conductance_m(targets_s)
    precise = NgspiceEngine(options=PRECISE_OPTIONS)
    runs = [precise.run(tb.cell_iv(float(g)), Dc("V1", -1.0, 1.0, 0.01)) for g in gaps]
    v = runs[0]["sweep"]
    currents = np.array([-r["i(v1)"] for r in runs])  # current into V1's + node is -I_cell
    ref = rram.current_a(v[None, :], gaps[:, None])
    sig = np.abs(ref) > 1e-12  # relative error is meaningless at the V = 0 crossing
    iv_err = float(np.max(np.abs(currents - ref)[sig] / np.abs(ref)[sig]))
    echo("cell I-V (ngspice vs model equation in numpy)")
    echo("  target G [uS]  gap [nm]  I(+0.1 V) [uA]  I(+1 V) [uA]")
    i01 = np.argmin(np.abs(v - 0.1))
    for k, g in enumerate(gaps):
        echo(f"  {targets_s[k] * 1e6:13.1f}  {g * 1e9:8.4f}  {currents[k, i01] * 1e6:14.4f}"
             f"  {currents[k, -1] * 1e6:12.2f}")
    echo(f"  max relative deviation from the equation: {iv_err:.2e}")

    # -- SET then RESET pulse families, 1 us pulses stepped like the chip's write-verify ------
    # SET through 20 kOhm (the compliance: the cell's SET is a thermal runaway that only the
    # series element limits), RESET through 1 kOhm (the chip RESETs with the access FET as a
    # low-impedance source follower); each pulse is followed by a 0.1 V read.
    echo(f"\nRRAM parameter set: {rram.PARAMETER_SET}")
    set_train = tb.PulseTrain(tuple(float(x) for x in np.round(np.arange(1.8, 3.21, 0.2), 3)),
                              r_series_ohm=20e3)
    reset_train = tb.PulseTrain(tuple(float(x) for x in -np.round(np.arange(1.1, 1.51, 0.05), 3)),
                                r_series_ohm=1e3)
    gap0 = float(rram.gap_for_conductance_m(1e-6))
    fams = []
    for name, train in (("SET", set_train), ("RESET", reset_train)):
        g_start = gap0 if not fams else float(fams[-1][3].gap_m[-1])
        tr = eng.run(tb.pulse_train(train, g_start), Tran(5e-9, train.stop_s, 5e-9))
        resp = pulse_response(tr, train, g_start)
        fams.append((name, train, tr, resp, g_start))
        echo(f"{name}: {len(train.amplitudes_v)} pulses of {train.width_s * 1e6:g} us through "
             f"{train.r_series_ohm / 1e3:g} kOhm, read at {train.v_read_v} V")
        echo("  pulse [V]  gap [nm]  G_read [uS]")
        for a, g, gs in zip(resp.amplitudes_v, resp.gap_m, resp.g_read_s):
            echo(f"  {a:9.2f}  {g * 1e9:8.4f}  {gs * 1e6:11.3f}")
    levels = {name: _distinct_levels(resp.g_read_s) for name, _, _, resp, _ in fams}
    echo("  distinct levels in 1-40 uS (> 1 uS apart): "
         + ", ".join(f"{k} {v}" for k, v in levels.items()))

    png = _plot(out / "cell_demo.png", v, currents, targets_s, fams)
    g_read = np.concatenate([f[3].g_read_s for f in fams])
    summary = {
        "rram_parameter_set": rram.PARAMETER_SET,
        "iv_targets_s": targets_s.tolist(), "iv_gaps_m": gaps.tolist(),
        "iv_max_rel_error": iv_err,
        "pulse_amplitudes_v": np.concatenate([f[3].amplitudes_v for f in fams]).tolist(),
        "pulse_gap_m": np.concatenate([f[3].gap_m for f in fams]).tolist(),
        "pulse_g_read_s": g_read.tolist(),
        "set_levels_1_40us": levels["SET"], "reset_levels_1_40us": levels["RESET"],
        "plot": str(png),
    }
    (out / "cell_demo.json").write_text(json.dumps(summary, indent=1) + "\n")
    echo(f"\nwrote {png} and {out / 'cell_demo.json'}")
    if mvm:
        from .demo_mvm import run_mvm_demo

        summary["mvm"] = run_mvm_demo(out, echo)
        summary["sweep"] = _sweep_demo(out, echo)
    return summary


def _sweep_demo(out: Path, echo) -> str:
    """The smoke characterization sweep: every kind on tiny sizes, among them one small MVM
    transfer sweep (transfer curve + code-error PNG) and one energy-per-MAC sweep (stacked
    bars by component), with tables and plots (measured: 21 points, 22 s on 2 cores)."""
    from . import toolchain
    from .characterize.runner import sweep_into

    spec_path = toolchain.ROOT / "characterization" / "smoke.toml"
    echo(f"\ncharacterization sweep {spec_path.name} (cached points are reused on a rerun)")
    rep = sweep_into(spec_path, out / "sweep", progress=True)
    echo(f"  {rep.count('computed')} computed, {rep.count('cached')} cached, "
         f"{rep.count('failed')} failed -> {out / 'sweep'} (Parquet tables, summary.csv, PNGs)")
    return str(out / "sweep")


def _distinct_levels(g_s) -> int:
    """Read conductances in 1-40 uS that differ from every other counted level by > 1 uS."""
    lv: list[float] = []
    for g in sorted(float(x) for x in g_s if 1e-6 <= x <= 40e-6):
        if not lv or g - lv[-1] > 1e-6:
            lv.append(g)
    return len(lv)


def _plot(path: Path, v, currents, targets_s, fams) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    for k, g in enumerate(targets_s):
        ax[0, 0].semilogy(v, np.abs(currents[k]) + 1e-15, label=f"{g * 1e6:g} uS")
    ax[0, 0].set(xlabel="cell voltage [V]", ylabel="|I| [A]", title="I-V at programmed states")
    ax[0, 0].legend(fontsize=8)
    t_off, idx0 = 0.0, 1
    for k, (name, train, tr, resp, g_start) in enumerate(fams):
        t_us = (tr["time"] + t_off) * 1e6
        ax[0, 1].plot(t_us, tr["in"], lw=0.8, color=f"C{2 * k}", label=f"{name} applied [V]")
        ax[0, 1].plot(t_us, tr["te"], lw=0.8, color=f"C{2 * k + 1}", label=f"{name} cell [V]")
        ax[1, 0].plot(t_us, np.clip(g_start + 1e-9 * tr["n1.gx"], 0, None) * 1e9,
                      color=f"C{2 * k}", label=name)
        idx = np.arange(idx0, idx0 + len(resp.amplitudes_v))
        ax[1, 1].plot(idx, resp.g_read_s * 1e6, "o-", color=f"C{2 * k}",
                      label=f"{name} ({train.r_series_ohm / 1e3:g} kOhm)")
        for i, a, gr in zip(idx, resp.amplitudes_v, resp.g_read_s):
            ax[1, 1].annotate(f"{a:+.2f}", (i, gr * 1e6), fontsize=6,
                              textcoords="offset points", xytext=(0, 5), ha="center")
        t_off += float(tr["time"][-1])
        idx0 += len(resp.amplitudes_v)
    ax[0, 1].set(xlabel="time [us]", ylabel="V", title="pulse trains")
    ax[0, 1].legend(fontsize=7)
    ax[1, 0].set(xlabel="time [us]", ylabel="gap [nm]", title="filament gap (state node)")
    ax[1, 0].legend(fontsize=8)
    ax[1, 1].set(xlabel="pulse #", ylabel="G_read [uS]",
                 title="read conductance after each pulse (SET, then RESET)")
    ax[1, 1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

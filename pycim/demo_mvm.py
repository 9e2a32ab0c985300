"""The MVM part of ``pycim demo``: a 16 x 16 signed MVM at transistor level beside the closed form,
with a plot of one neuron's waveforms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .cim.request import MvmRequest
from .dispatch import run_mvm
from .netlist.neuron import input_windows


def run_mvm_demo(out: Path, echo=print, n: int = 16, in_bits: int = 4, out_bits: int = 6,
                 seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1, 1, (n, n))
    x = rng.integers(-(2 ** (in_bits - 1) - 1), 2 ** (in_bits - 1), (1, n))
    echo(f"\n{n} x {n} signed MVM, {in_bits}-bit inputs, {out_bits}-bit outputs: SKY130 drivers, "
         f"1T1R cells with wire R/C, transistor-level neurons (ngspice)")
    wave: dict = {}
    res = run_mvm(MvmRequest(w, x, in_bits, out_bits, seed=seed), progress=True, waveforms=wave)
    ideal = run_mvm(MvmRequest(w, x, in_bits, out_bits, seed=seed, ideal=True), progress=False)
    y = np.array(res["y_ideal"][0])
    code = np.array(res["code"][0])
    code_ideal = np.array(ideal["code"][0])
    echo("  output  closed form  ideal-circuit code  transistor-level code")
    for j in range(n):
        echo(f"  {j:6d}  {y[j]:11.2f}  {code_ideal[j]:18d}  {code[j]:21d}")
    err = code - np.floor(y)
    echo(f"  transistor-level vs floor(closed form): mean {err.mean():+.2f} LSB, "
         f"max |err| {np.abs(err).max():.0f} LSB; ideal circuit max |err| "
         f"{np.abs(code_ideal - np.floor(y)).max():.0f} LSB")
    e = res["energy_j"]
    echo("  energy: " + ", ".join(f"{k} {v * 1e12:.2f} pJ" for k, v in e.items())
         + f"; {res['energy_per_mac_j'] * 1e15:.0f} fJ/MAC; latency {res['latency_s'] * 1e6:.2f} us")
    png = _plot(out / "mvm_neuron.png", wave, j=int(np.argmax(np.abs(y))))
    (out / "mvm_demo.json").write_text(json.dumps(res, indent=1) + "\n")
    echo(f"  wrote {png} and {out / 'mvm_demo.json'}")
    return res


def _plot(path: Path, wave: dict, j: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r, nd, sched, spec = wave["result"], wave["nodes"][j], wave["schedule"], wave["spec"]
    t = r["time"] * 1e6
    fig, ax = plt.subplots(4, 1, figsize=(11, 9), sharex=True)
    for _, _, t0, t1 in input_windows(sched):
        for a in ax:
            a.axvspan(t0 * 1e6, t1 * 1e6, color="0.92", lw=0)
    ax[0].plot(t, r[nd.line] - spec.v_ref_v, lw=0.8)
    ax[0].set_ylabel("line - Vref [V]")
    ax[0].set_title(f"neuron on {nd.line}: input windows shaded")
    ax[1].plot(t, r[nd.out] - spec.v_ref_v, lw=0.8, color="C1")
    ax[1].set_ylabel("integrator - Vref [V]")
    ax[2].plot(t, r[nd.q], lw=0.8, color="C2", label="decision latch q")
    ax[2].set_ylabel("comparator [V]")
    ax[2].legend(fontsize=8, loc="upper left")
    ax[3].plot(t, r[spec.net("vdacp")] - spec.v_ref_v, lw=0.8, label="DAC +")
    ax[3].plot(t, r[spec.net("vdacn")] - spec.v_ref_v, lw=0.8, label="DAC -")
    ax[3].set_ylabel("packet ref - Vref [V]")
    ax[3].set_xlabel("time [us]")
    ax[3].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

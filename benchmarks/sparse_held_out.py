"""A macro-model against a held-out transistor-level MVM with sparse non-negative inputs.

    PYTHONPATH=. python benchmarks/sparse_held_out.py run [N_IN N_OUT DENSITY] [--out DIR]
    PYTHONPATH=. python benchmarks/sparse_held_out.py eval MODEL.json [MODEL.json ...] [--out DIR]

What a ReLU layer feeds a core: trained-like weights (normal, sigma 0.35, clipped to +-1) and
4-bit inputs 0..7 of which a share ``DENSITY`` is nonzero (seed 77, in no fit sweep), 2 vectors,
6-bit outputs, the paper's 10 ns read pulse, partitioned transient (default 64 x 64, 0.4;
~2 CPU-minutes). The active-fraction offsets (the share of the array driven away from Vref)
matter here: dense random inputs keep that share near 1/2. ``eval`` prints, per model, the
codes' error (macro - SPICE) and the settled lines' error per plane.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

SEED = 77


def _problem(n_in: int, n_out: int, density: float):
    rng = np.random.default_rng(SEED)
    w = np.clip(rng.normal(0, 0.35, (n_in, n_out)), -1, 1)
    x = rng.integers(0, 8, (2, n_in)) * (rng.random((2, n_in)) < density)
    return w, x


def run(n_in: int, n_out: int, density: float, out: Path) -> Path:
    from pycim.cim.request import MvmRequest
    from pycim.dispatch import run_mvm

    w, x = _problem(n_in, n_out, density)
    s = run_mvm(MvmRequest(w, x, 4, 6, seed=SEED, read_pulse_s=10e-9, partition=True,
                           wire_segment_cells=1 if n_in < 128 else 32), progress=False)
    out.mkdir(parents=True, exist_ok=True)
    p = out / f"sparse_{n_in}x{n_out}_{density:g}.json"
    p.write_text(json.dumps({"spice": s, "n_in": n_in, "n_out": n_out, "density": density}))
    print(f"{p}: SPICE codes {s['code']}")
    return p


def evaluate(models: list[str], out: Path) -> None:
    from pycim.cim.request import MvmRequest
    from pycim.macro.engine import run_macro_mvm
    from pycim.macro.model import MacroModel

    files = sorted(out.glob("sparse_*.json"))
    if not files:
        raise SystemExit(f"no runs in {out}: run `... run` first")
    for f in files:
        d = json.loads(f.read_text())
        s = d["spice"]
        w, x = _problem(d["n_in"], d["n_out"], d["density"])
        for mp in models:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mac = run_macro_mvm(MvmRequest(w, x, 4, 6, seed=SEED, engine="macro",
                                               read_pulse_s=10e-9), model=MacroModel.load(mp))
            assert mac["g_pos_s"] == s["g_pos_s"]
            e = np.array(mac["code"]) - np.array(s["code"])
            dv = (np.array(mac["v_settled_v"]) - np.array(s["v_settled_v"])) * 1e3
            print(f"{f.name} {mp}: codes RMS {np.sqrt(np.mean(e ** 2)):.3f} mean {e.mean():+.3f} "
                  f"max {np.abs(e).max():.0f} LSB; lines mean {dv.mean():+.2f} mV, RMS "
                  f"{np.sqrt(np.mean(dv ** 2)):.2f} mV; SPICE codes "
                  f"{np.min(s['code'])}..{np.max(s['code'])}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("n_in", type=int, nargs="?", default=64)
    r.add_argument("n_out", type=int, nargs="?", default=64)
    r.add_argument("density", type=float, nargs="?", default=0.4)
    e = sub.add_parser("eval")
    e.add_argument("models", nargs="+")
    for p in (r, e):
        p.add_argument("--out", type=Path, default=Path("out/sparse_held_out"))
    a = ap.parse_args()
    if a.cmd == "run":
        run(a.n_in, a.n_out, a.density, a.out)
    else:
        evaluate(a.models, a.out)


if __name__ == "__main__":
    main()

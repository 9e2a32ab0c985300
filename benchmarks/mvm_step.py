"""Time-step settings of the 16 x 16 4-bit MVM transient (benchmarks.cases.mvm_core(n=16), the
``make bench`` group mvm_transient) against a converged run: ngspice points and Newton
iterations, codes, energy, and each neuron's integrator voltage before the conversion (in LSB).

Each setting runs in a child process with the flow's ``MAX_STEP_S`` replaced and its options
(:func:`pycim.flows.mvm.mvm_options`, with or without bypass) amended;
the reference is the first setting (default: 2 ns cap, reltol 1e-4). The ngspice counts come
from ``rusage all`` appended to the deck.

    nice -n 10 .venv/bin/python benchmarks/mvm_step.py                  # reference, 5, 10, 20 ns
    nice -n 10 .venv/bin/python benchmarks/mvm_step.py '{"max_step": 1e-9, "opts": {"reltol": 1e-5}}' '{}'

A setting is JSON: ``max_step`` (s), ``opts`` (ngspice options added to the flow's; a value
``"DEL"`` removes one), ``"ramp_end_breaks": false`` (the deck rewritten so that ngspice does
not restart at the end of each PWL ramp: :mod:`benchmarks.deck_edit`), ``{}`` is the flow as
it is.

Measured (fourteenth round, idle machine, alternating runs): ``"ramp_end_breaks": false``
takes 1425 points (134 rejected) and 5983 iterations instead of 1843 (39) and 6619, codes
equal, integrator voltages within 0.026 LSB, energy -0.02 %, but only 4-8 % less CPU
(15.8 / 17.0 s against 16.9 / 17.1 s). Built into the generator (a 0 V source in series with a
B source per PWL source, ramp starts kept as breakpoints) it failed tests/test_mvm.py and
tests/test_energy_independent.py: stepping over a ramp end leaves the trapezoidal rule's
ringing on the ideal sources' currents and on the floating lines, so the word lines' energy
read 5.00 pJ against 6.14 and the sensed lines "moved" 1.7 mV/ns where they are read (the
drift check's SettlingWarning), also with time points forced at the readings. Not adopted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ['{"max_step": 2e-9, "opts": {"reltol": 1e-4}}', '{"max_step": 5e-9}',
           '{"max_step": 1e-8}', '{"max_step": 2e-8}']

CHILD = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {root!r})
cfg = json.loads({cfg!r})
import pycim.flows.mvm as fm
mvm_options = fm.mvm_options
def patched_options(spec, sched):  # the flow's options of this MVM (bypass or not), then cfg's
    opts = {{**mvm_options(spec, sched), **cfg.get("opts", {{}})}}
    return {{k: v for k, v in opts.items() if v != "DEL"}}
fm.mvm_options = patched_options
if "max_step" in cfg:
    fm.MAX_STEP_S = cfg["max_step"]
vint = []
read_neuron = fm.read_neuron
def read(res, sched, nd, spec):
    r = read_neuron(res, sched, nd, spec)
    vint.append(float(r.residues[0]) / spec.lsb_v(6))
    return r
fm.read_neuron = read
edit = None
if cfg.get("ramp_end_breaks", True) is False:
    from benchmarks.deck_edit import without_ramp_end_breakpoints as edit
from benchmarks.cases import CASES
from benchmarks.ngspice_stats import ngspice_rusage
with ngspice_rusage(edit=edit) as runs:
    out = CASES["mvm_core"](n=16)
c = runs[-1]
stats = {{k: int(c[k]) for k in ("Total iterations", "Transient iterations",
                                  "Transient timepoints", "Rejected timepoints")}}
stats.update({{k: c["Transient " + k + " time"] for k in ("load", "factor", "solve", "trunc")}})
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("RESULT " + json.dumps({{"sim_cpu_s": ru.ru_utime + ru.ru_stime, **stats, "vint_lsb": vint,
                              "codes": out["codes"], "energy_j": out["energy_j"]}}))
"""


def run(cfg: str) -> dict:
    p = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), cfg=cfg)],
                       capture_output=True, text=True, check=False)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"setting {cfg} failed:\n{p.stderr[-2000:]}")
    return json.loads(lines[0][7:])


def main(argv: list[str]) -> None:
    cfgs = argv or DEFAULT
    ref = None
    for cfg in cfgs:
        json.loads(cfg)  # refuse bad JSON before simulating
    for cfg in cfgs:
        r = run(cfg)
        if ref is None:
            ref = r
        dc = np.array(r["codes"]) - np.array(ref["codes"])
        dv = np.array(r["vint_lsb"]) - np.array(ref["vint_lsb"])
        print(f"{cfg:48s} cpu {r['sim_cpu_s']:6.2f} s  points {r['Transient timepoints']:5d} "
              f"(rejected {r['Rejected timepoints']:3d})  iterations {r['Total iterations']:6d}  "
              f"energy {r['energy_j']:.4e} J ({r['energy_j'] / ref['energy_j'] - 1:+.2%})  "
              f"codes off {np.count_nonzero(dc):2d} (sum {dc.sum():+d})  "
              f"v_int off max {np.abs(dv).max():.3f} LSB mean {dv.mean():+.3f}", flush=True)
        print(f"    ngspice transient load / factor / solve / truncation-error time [s]: "
              f"{r['load']:.2f} / {r['factor']:.2f} / {r['solve']:.2f} / {r['trunc']:.2f}")
        print("    codes", r["codes"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

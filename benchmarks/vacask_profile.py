"""Where VACASK's MVM transient time goes (issue 18 item 5): one 16 x 16, 4-bit-in / 6-bit-out
MVM deck (the ``mvm_core`` benchmark case's weights and inputs) in ngspice and in VACASK, with
the engines' own statistics: accepted / rejected time points, Newton iterations, time in device
evaluation + load, factorization and solve, and the CPU seconds of the simulator process
(``getrusage`` of the child, so a loaded machine does not inflate it as it does wall time).

    nice -n 10 .venv/bin/python benchmarks/vacask_profile.py            # every run below
    nice -n 10 .venv/bin/python benchmarks/vacask_profile.py --runs ngspice vacask vacask_old

Runs (``--runs``):

``ngspice``          pycim's MVM settings (KLU, ``bypass=1``; ``rusage all`` for the stats)
``ngspice_nobypass`` the same without ``bypass`` (every FET evaluated at every iteration, as
                     OSDI devices are)
``ngspice_osdi``     the same deck with every BSIM4 card evaluated by VACASK's own OSDI
                     ``sp_bsim4v8`` (``pre_osdi``; N instances): separates "OSDI BSIM4 model
                     evaluation" from "VACASK's engine"
``vacask_old``       VACASK as pycim ran it before: no options
``vacask_lte7``      ``tran_lteratio=7`` only (ngspice's trtol)
``vacask_sig``       ``relref="sigglobal"`` only (global LTE and Newton-update references)
``vacask_nrbypass``  pycim's settings and ``nr_bypass=1`` (VACASK's bypass; reported when it
                     aborts)
``vacask``           pycim's settings now (:data:`pycim.sim.vacask.TRAN_OPTIONS`)

A run may be named more than once (``--runs ngspice vacask ngspice vacask``): CPU time on a
shared machine drifts with its load, so a ratio is taken against the nearest ``--ref`` run
(default ``ngspice``) before it.

Measured 2026-11-29 (2 shared, loaded cores; ``--runs ngspice vacask vacask_old ngspice_nobypass
ngspice_osdi vacask_sig vacask_lte7 ngspice vacask``), 4413 unknowns, 3.85 us transient:

=================  =====  ========  ========  ======  =========  ============  =====  =====
run                CPU s  accepted  rejected  Newton  Newton/pt  CPU ms/Newt.  dcode  dv mV
=================  =====  ========  ========  ======  =========  ============  =====  =====
ngspice            16.1   1974      28        6846    3.42       2.35          0      0
vacask (now)       34.8   2167      20        7688    3.52       4.53          1      0.58
vacask_old         62.7   5298      314       15383   2.74       4.08          1      0.64
ngspice_nobypass   15.2   1980      31        6719    3.34       2.27          1      0.56
ngspice_osdi       31.0   1985      31        7198    3.57       4.31          2      0.60
vacask_sig         25.4   2404      42        6935    2.84       3.66          1      0.54
vacask_lte7        51.8   4324      245       12588   2.76       4.11          1      0.57
ngspice            15.5   1974      28        6846    3.42       2.26          0      0
vacask (now)       32.1   2167      20        7688    3.52       4.18          1      0.58
=================  =====  ========  ========  ======  =========  ============  =====  =====

VACASK/ngspice CPU: 3.89 before, 2.16 and 2.08 now. The time points were the cause: VACASK's
LTE runs over every unknown, each against its own largest value so far (default
``relref="alllocal"``, floors 1 uV / 1 pA), so unknowns that sat near zero before an edge cut the
step to femtoseconds when they move. ``--runs vacask_old vacask``: 259 accepted points in the
busiest 1 ns (200-201 ns, the first input edges), led by the driver control sources' branch
currents (vcbl13_z ...: error/tolerance ~2e3) and FET internal drains (mn*_f7:d_int ~1.2e3);
with pycim's settings the busiest 1 ns holds 23 points. Per Newton iteration VACASK costs what ngspice costs with the same OSDI BSIM4
(``ngspice_osdi``: 4.3 ms against 2.3 ms with ngspice's built-in BSIM4), so the remaining ~2x
is the OSDI evaluation of the BSIM4 cards (89-91 % of either engine's time is device evaluation
and load), not VACASK's engine. VACASK's codes now equal ngspice's without ``bypass``
(``ngspice_nobypass``) on all 16 neurons; ngspice with ``bypass`` differs from both by 1 in 8.
Against ngspice without bypass (``--runs ngspice_nobypass vacask vacask_old --ref
ngspice_nobypass``): settled lines within 0.134 mV now, 0.309 mV before (codes 0 and 1 apart);
CPU 18.4 s, VACASK 32.6 s (1.77x), VACASK before 58.5 s (3.18x). ``vacask_nrbypass`` aborts
(no convergence).

The engines' own timers are wall-clock (both): on a loaded machine their absolute values are
inflated, their shares are not. Codes are read from each run's waveforms as the MVM flow reads
them; ``dcode`` is the largest difference from the ``--ref`` run's codes, ``dv_mV`` the largest
difference of the sensed lines' settled voltages (every input plane) from its.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from pycim import toolchain
from pycim.cim.request import MvmRequest
from pycim.errors import SimulationError
from pycim.flows.mvm import MAX_STEP_S, MVM_OPTIONS
from pycim.measure.neuron import read_neuron
from pycim.netlist.mvm_deck import mvm_deck, mvm_setup, saved_vectors
from pycim.netlist.neuron import settled_read_times
from pycim.sim import NgspiceEngine, Tran
from pycim.sim._proc import classify_failure, run_simulator
from pycim.sim.rawfile import read_raw
from pycim.sim.result import SimResult
from pycim.sim.vacask import TRAN_OPTIONS, VacaskEngine

#: (label in the engine's statistics, our key)
NG_STATS = (("Accepted timepoints", "accepted"), ("Rejected timepoints", "rejected"),
            ("Transient iterations", "newton"), ("Transient load time", "load_s"),
            ("Transient factor time", "factor_s"), ("Transient solve time", "solve_s"),
            ("Circuit Equations", "unknowns"))
VC_STATS = (("Accepted timepoints", "accepted"), ("Rejected timepoints", "rejected"),
            ("NR solver iterations", "newton"), ("Eval and load time", "load_s"),
            ("Real refactorization time", "factor_s"), ("Real solve time", "solve_s"),
            ("Number of unknowns", "unknowns"), ("Bypassed evaluations", "bypassed"),
            ("Bypassable instance evaluations", "bypassable"))


def _stats(log: str, table) -> dict:
    out = {}
    for label, key in table:
        m = re.search(rf"^\s*{re.escape(label)}\s*[:=]\s*([-+0-9.eE]+)\s*$", log, re.MULTILINE)
        if m is None:
            raise RuntimeError(f"no '{label}' in the simulator's statistics")
        out[key] = float(m.group(1))
    return out


def deck_16(n: int = 16):
    """The ``mvm_core`` case's request (seed 0): W (n/2, n), one input vector of n/2."""
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (n // 2, n))
    x = rng.integers(-7, 8, (1, n // 2))
    req = MvmRequest(w, x, 4, 6)
    setup = mvm_setup(req)
    return setup, mvm_deck(req, setup, 0)


def osdi_bsim4(deck: str) -> str:
    """ngspice deck text with every level-54 card run by VACASK's ``sp_bsim4v8`` OSDI module:
    ``.model X nmos level=54 ...`` -> ``.model X sp_bsim4v8 type=1 ...`` (``version`` dropped, as
    pycim's VACASK writer does), ``M...`` instances -> ``NM...``."""
    lib = toolchain.vacask_module_dir() / "spice" / "bsim4v8.osdi"
    out, n_models, n_fets = [], 0, 0
    for ln in deck.split("\n"):
        m = re.match(r"^\.model (\S+) (nmos|pmos) level=54 (.*)$", ln)
        if m:
            params = re.sub(r"\bversion=\S+ ?", "", m.group(3))
            ln = f".model {m.group(1)} sp_bsim4v8 type={1 if m.group(2) == 'nmos' else -1} {params}"
            n_models += 1
        elif ln.startswith("M"):
            ln, n_fets = "NM" + ln[1:], n_fets + 1
        elif ln.startswith("pre_osdi ") and n_models:
            out.append(f"pre_osdi {lib}")
            n_models = -n_models  # written once
        out.append(ln)
    if n_models >= 0 or n_fets == 0:
        raise RuntimeError("deck has no BSIM4 cards or no pre_osdi line to extend")
    return "\n".join(out)


def busiest_window(vec: dict, reltol: float = 1e-3, top: int = 3) -> str:
    """Which unknowns bend most where a VACASK run took the most points: in the 1 ns window with
    the most accepted points, each unknown's largest deviation from the straight-line
    extrapolation of its previous two points, over VACASK's default LTE tolerance for it
    (reltol x its own largest value so far, at least vntol 1 uV or abstol 1 pA). A proxy of
    the truncation error that cuts the step, computed from the waveforms, not by VACASK."""
    t = np.real(vec["time"])
    counts, edges = np.histogram(t, bins=np.arange(0.0, t[-1] + 1e-9, 1e-9))
    k = int(np.argmax(counts))
    idx = np.flatnonzero((t >= edges[k]) & (t < edges[k + 1]))
    idx = np.r_[max(idx[0] - 2, 0):idx[0], idx]
    worst = []
    for name, v in vec.items():
        if name == "time":
            continue
        v = np.real(v)
        ref = np.maximum.accumulate(np.abs(v))[idx[2:]]
        x, tt = v[idx], t[idx]
        pred = x[1:-1] + (x[1:-1] - x[:-2]) * (tt[2:] - tt[1:-1]) / (tt[1:-1] - tt[:-2])
        floor = 1e-12 if name.endswith(":flow(br)") else 1e-6
        worst.append((float(np.max(np.abs(x[2:] - pred) / np.maximum(reltol * ref, floor))), name))
    worst.sort(reverse=True)
    cur = ", ".join(f"{n} {r:.2g}" for r, n in [w for w in worst if "(br)" in w[1]][:top])
    volt = ", ".join(f"{n} {r:.2g}" for r, n in [w for w in worst if "(br)" not in w[1]][:top])
    return (f"{counts[k]} points in [{edges[k] * 1e9:.0f}, {edges[k + 1] * 1e9:.0f}] ns; "
            f"largest error/tolerance: currents {cur}; voltages {volt}")


def _run(label: str, engine: str, text: str, workdir: Path) -> tuple[dict, dict]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    if engine == "ngspice":
        (workdir / "deck.cir").write_text(text)
        cmd, env, raw, table = ([toolchain.ngspice_path(), "-b", "deck.cir"],
                                {**os.environ, "HOME": str(workdir)}, "out.raw", NG_STATS)
    else:
        (workdir / "deck.sim").write_text(text)
        cmd, env, raw, table = ([toolchain.vacask_path(), "-qp", "deck.sim"],
                                toolchain.vacask_env(), "an.raw", VC_STATS)
    t0 = time.perf_counter()
    log, _ = run_simulator(cmd, workdir, 7200, label, env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rawp = workdir / raw
    classify_failure(log, label, True, rawp.is_file() and rawp.stat().st_size > 0)
    row = {"cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
           "wall_s": wall, **_stats(log, table)}
    vec = read_raw(rawp)[-1][1]
    rawp.unlink()
    return row, vec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    choices = ["ngspice", "ngspice_nobypass", "ngspice_osdi", "vacask_old", "vacask_lte7",
               "vacask_sig", "vacask_nrbypass", "vacask"]
    ap.add_argument("--runs", nargs="+", choices=choices, default=choices)
    ap.add_argument("--n", type=int, default=16, help="core size (default 16)")
    ap.add_argument("--ref", choices=choices, default="ngspice",
                    help="the run codes, line voltages and CPU time are compared with")
    args = ap.parse_args()
    setup, core = deck_16(args.n)
    an = Tran(1e-9, setup.schedule.t_stop, MAX_STEP_S)
    ng_deck = NgspiceEngine(options=MVM_OPTIONS).deck(core.circuit, an, save=saved_vectors(core),
                                                      extra=["rusage all"])
    no_bypass = NgspiceEngine().deck(core.circuit, an, save=saved_vectors(core),
                                     extra=["rusage all"])
    decks = {"ngspice": ("ngspice", ng_deck), "ngspice_nobypass": ("ngspice", no_bypass),
             "ngspice_osdi": ("ngspice", osdi_bsim4(ng_deck))}
    # the engine adds TRAN_OPTIONS unless the options name the same keys: name them all
    old = {"relref": "alllocal", "relrefsol": "relref", "tran_lteratio": 3.5}  # VACASK's defaults
    for label, opts in (("vacask_old", old), ("vacask_lte7", {**old, "tran_lteratio": 7}),
                        ("vacask_sig", {**old, "relref": "sigglobal"}),
                        ("vacask_nrbypass", {**TRAN_OPTIONS, "nr_bypass": 1}),
                        ("vacask", TRAN_OPTIONS)):
        text = VacaskEngine(options=opts).deck(core.circuit, an)
        decks[label] = ("vacask", text.replace("\nendc\n", "\n  print stats\nendc\n"))
    t_read = settled_read_times(setup.schedule, setup.neuron)
    rows, ref = [], None
    for label in args.runs:
        engine, text = decks[label]
        with tempfile.TemporaryDirectory(prefix="pycim-prof-") as tmp:
            try:
                row, vec = _run(label, engine, text, Path(tmp))
            except SimulationError as exc:
                print(f"{label}: aborted: {str(exc).splitlines()[0]}", flush=True)
                continue
        if engine == "vacask":
            print(f"{label}: {busiest_window(vec)}", flush=True)
        res = SimResult.from_raw("tran", engine, vec)
        codes = np.array([read_neuron(res, setup.schedule, nd, setup.neuron).code
                          for nd in core.neurons])
        # the sensed lines' settled voltages per input plane, where the MVM flow reads them
        v = np.array([[np.interp(t_read[k], res["time"], res[nd.line]) for nd in core.neurons]
                      for k in sorted(t_read)])
        if label == args.ref:
            ref, ng_cpu, v_ref = codes, row["cpu_s"], v
        row["codes"] = codes.tolist()
        row["dcode"] = int(np.max(np.abs(codes - ref))) if ref is not None else None
        row["dv_mv"] = 1e3 * float(np.max(np.abs(v - v_ref))) if ref is not None else None
        row["cpu_ratio"] = row["cpu_s"] / ng_cpu if ref is not None else None
        rows.append((label, row))
        print(f"{label}: {row}", flush=True)
    head = ("run", "cpu_s", f"cpu/{args.ref}", "accepted", "rejected", "newton", "newton/pt",
            "cpu_ms/newton", "load%", "factor%", "solve%", "dcode", "dv_mV")
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for label, r in rows:
        ratio = "-" if r["cpu_ratio"] is None else f"{r['cpu_ratio']:.2f}"
        dv = "-" if r["dv_mv"] is None else f"{r['dv_mv']:.3f}"
        tot = r["load_s"] + r["factor_s"] + r["solve_s"]
        print(f"| {label} | {r['cpu_s']:.1f} | {ratio} | {r['accepted']:.0f} | {r['rejected']:.0f} | "
              f"{r['newton']:.0f} | {r['newton'] / (r['accepted'] + r['rejected']):.2f} | "
              f"{1e3 * r['cpu_s'] / r['newton']:.2f} | {100 * r['load_s'] / tot:.0f} | "
              f"{100 * r['factor_s'] / tot:.0f} | {100 * r['solve_s'] / tot:.0f} | {r['dcode']} | {dv} |")


if __name__ == "__main__":
    main()

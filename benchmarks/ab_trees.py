"""Interleaved A/B of benchmarks.cases.mvm_core(n=16) (the 16 x 16 4-bit MVM transient of `make
bench` group mvm_transient) between two checkouts: a child process per run, the simulator's CPU
(RUSAGE_CHILDREN), the Python process's own CPU (imports, deck generation, read-back; the bench's
cpu_s is their sum) and wall, alternating A, B, A, B so both see the same load.

    git worktree add --detach /tmp/old 1ee9fe5   # the tree that measured 10.2 s
    .venv/bin/python benchmarks/ab_trees.py /tmp/old . [REPS] [--profile]

``--profile``: also ngspice's own counters of each run (``rusage all`` appended to the deck):
time points, Newton iterations, matrix load / factor time, equations, and the MOSFETs and
options of the deck. The whole deck either way (``mvm_core``'s default).
"""
import json, subprocess, sys
from pathlib import Path
STATS = str(Path(__file__).resolve().parent / "ngspice_stats.py")
CHILD = r"""
import contextlib, importlib.util, json, resource, sys, time
sys.path.insert(0, {root!r})
prof, block = {{}}, contextlib.nullcontext([])
if {profile!r}:  # this tree's helper, by path (the other tree may not have it)
    spec = importlib.util.spec_from_file_location("ngspice_stats", {stats!r})
    stats = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stats)
    block = stats.ngspice_rusage(keep_deck=True)
from benchmarks.cases import CASES
t0 = time.perf_counter()
with block as runs:
    out = CASES['mvm_core'](n=16)
for r in runs:
    prof = {{k: r.get(k) for k in ("Transient timepoints", "Transient iterations",
                                   "Transient load time", "Transient factor time",
                                   "Circuit Equations")}}
    prof["mosfets"] = sum(1 for ln in r["deck"].splitlines() if ln[:1] in "Mm")
    prof["options"] = [ln for ln in r["deck"].splitlines() if ln.startswith(".options")]
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
me = resource.getrusage(resource.RUSAGE_SELF)
print('RESULT ' + json.dumps({{'wall_s': time.perf_counter() - t0, 'sim_cpu_s': ru.ru_utime + ru.ru_stime, 'py_cpu_s': me.ru_utime + me.ru_stime, 'codes': out['codes'], 'mean_err': out['mean_code_err_lsb'], 'max_err': out['max_code_err_lsb'], **prof}}))
"""
profile = "--profile" in sys.argv
args = [a for a in sys.argv[1:] if a != "--profile"]
trees = args[:2]; reps = int(args[2]) if len(args) > 2 else 2
for r in range(reps):
    for t in trees:
        p = subprocess.run([sys.executable, "-c", CHILD.format(root=t, profile=profile, stats=STATS)], capture_output=True, text=True, env={"PYTHONPATH": t, "PATH": "/usr/bin:/bin:/usr/local/bin"})
        line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
        print(t, json.loads(line[0][7:]) if line else p.stderr[-800:], flush=True)

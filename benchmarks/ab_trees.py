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
CHILD = r"""
import json, re, resource, sys, time
sys.path.insert(0, {root!r})
prof = {{}}
if {profile!r}:
    import pycim.sim.ngspice as ng
    run_simulator = ng.run_simulator
    def run(cmd, cwd, *a, **k):
        deck = (cwd / "deck.cir").read_text()
        (cwd / "deck.cir").write_text(deck.replace("write out.raw", "write out.raw\nrusage all"))
        log, el = run_simulator(cmd, cwd, *a, **k)
        for key in ("Transient timepoints", "Transient iterations", "Transient load time",
                    "Transient factor time", "Circuit Equations"):
            m = re.search(key + r"\s*=\s*([-+\d.eE]+)", str(log))
            prof[key] = float(m.group(1)) if m else None
        prof["mosfets"] = sum(1 for ln in deck.splitlines() if ln[:1] in "Mm")
        prof["options"] = [ln for ln in deck.splitlines() if ln.startswith(".options")]
        return log, el
    ng.run_simulator = run
from benchmarks.cases import CASES
t0 = time.perf_counter()
out = CASES['mvm_core'](n=16)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
me = resource.getrusage(resource.RUSAGE_SELF)
print('RESULT ' + json.dumps({{'wall_s': time.perf_counter() - t0, 'sim_cpu_s': ru.ru_utime + ru.ru_stime, 'py_cpu_s': me.ru_utime + me.ru_stime, 'codes': out['codes'], 'mean_err': out['mean_code_err_lsb'], 'max_err': out['max_code_err_lsb'], **prof}}))
"""
profile = "--profile" in sys.argv
args = [a for a in sys.argv[1:] if a != "--profile"]
trees = args[:2]; reps = int(args[2]) if len(args) > 2 else 2
for r in range(reps):
    for t in trees:
        p = subprocess.run([sys.executable, "-c", CHILD.format(root=t, profile=profile)], capture_output=True, text=True, env={"PYTHONPATH": t, "PATH": "/usr/bin:/bin:/usr/local/bin"})
        line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
        print(t, json.loads(line[0][7:]) if line else p.stderr[-800:], flush=True)

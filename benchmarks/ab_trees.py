"""Interleaved A/B of benchmarks.cases.mvm_core(n=16) (the 16 x 16 4-bit MVM transient of `make
bench` group mvm_transient) between two checkouts: a child process per run, the simulator's CPU
(RUSAGE_CHILDREN), the Python process's own CPU (imports, deck generation, read-back; the bench's
cpu_s is their sum) and wall, alternating A, B, A, B so both see the same load.

    git worktree add --detach /tmp/old 1ee9fe5   # the tree that measured 10.2 s
    .venv/bin/python benchmarks/ab_trees.py /tmp/old . [REPS]
"""
import json, subprocess, sys
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from benchmarks.cases import CASES
t0 = time.perf_counter()
out = CASES['mvm_core'](n=16)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
me = resource.getrusage(resource.RUSAGE_SELF)
print('RESULT ' + json.dumps({{'wall_s': time.perf_counter() - t0, 'sim_cpu_s': ru.ru_utime + ru.ru_stime, 'py_cpu_s': me.ru_utime + me.ru_stime, 'codes': out['codes'], 'mean_err': out['mean_code_err_lsb'], 'max_err': out['max_code_err_lsb']}}))
"""
trees = sys.argv[1:3]; reps = int(sys.argv[3]) if len(sys.argv) > 3 else 2
for r in range(reps):
    for t in trees:
        p = subprocess.run([sys.executable, "-c", CHILD.format(root=t)], capture_output=True, text=True, env={"PYTHONPATH": t, "PATH": "/usr/bin:/bin:/usr/local/bin"})
        line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
        print(t, json.loads(line[0][7:]) if line else p.stderr[-800:], flush=True)

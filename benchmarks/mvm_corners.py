"""The PWL corners (ngspice breakpoints) of the 16 x 16 4-bit MVM transient (benchmarks.cases.
mvm_core(n=16), the ``make bench`` group mvm_transient), per schedule phase.

ngspice lands a time point on every PWL corner and restarts after it with a step of 0.1 x
min(the step it wanted, the gap to the next breakpoint), then at most doubles it per point
(dctran.c, ckttrunc.c; not an option: ``.options minbreak`` is parsed but never reaches the
transient in ngspice 46, cktntask.c copies every default but it). So each distinct corner time
costs points, whichever source it comes from. For each phase: its start (ns), length, the
corners inside it (offset from the phase start in ns, how many sources share the corner, the
first few source names) and the logic nets that fall / rise at its start.

    .venv/bin/python benchmarks/mvm_corners.py          # from the repository root
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pycim.cim.request import MvmRequest
from pycim.netlist.circuit import VSource
from pycim.netlist.mvm_deck import mvm_deck, mvm_setup
from pycim.specs.schedule import LOGIC


def main() -> None:
    rng = np.random.default_rng(0)  # the inputs of benchmarks.cases.mvm_core(n=16)
    n = 16
    w = rng.uniform(-1, 1, (n // 2, n))
    x = rng.integers(-7, 8, (1, n // 2))
    req = MvmRequest(w, x, 4, 6)
    setup = mvm_setup(req)
    sched = setup.schedule
    core = mvm_deck(req, setup, 0)
    corners: dict[int, set[str]] = {}
    n_pwl = n_dc = 0
    for e in core.circuit.iter_elements():
        if not isinstance(e, VSource):
            continue
        if not e.pwl:
            n_dc += 1
            continue
        n_pwl += 1
        for t, _ in e.pwl[1:-1]:
            corners.setdefault(round(t * 1e15), set()).add(e.name)  # fs grid: exact match
    ts = sorted(corners)
    print(f"{n_pwl} PWL and {n_dc} DC sources; {len(ts)} distinct corner times inside "
          f"(0, {sched.t_stop * 1e9:.1f} ns); {len(sched.phases)} phases, "
          f"{sum(p.tag == 'guard' for p in sched.phases)} of them guards")
    logic = [k for k, v in sched.nets.items() if v.kind == LOGIC]
    prev = None
    for p in sched.phases:
        t0, t1 = sched.phase_times()[p.name]
        mine = [t for t in ts if t0 * 1e15 - 0.5 <= t < t1 * 1e15 - 0.5]
        fall = sorted(k for k in logic if prev and prev.level(k) == 1 and p.level(k) == 0)
        rise = sorted(k for k in logic if prev and prev.level(k) == 0 and p.level(k) == 1)
        desc = "  ".join(f"+{t / 1e6 - t0 * 1e9:.1f}:{len(corners[t])}"
                         f"({','.join(sorted(corners[t])[:2])}..)" for t in mine)
        print(f"{p.name:>10s} {t0 * 1e9:8.1f} ns {p.duration_s * 1e9:6.1f} ns  "
              f"fall {','.join(fall) or '-'}  rise {','.join(rise) or '-'}  | {desc}")
        prev = p


if __name__ == "__main__":
    main()

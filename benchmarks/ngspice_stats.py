"""ngspice's own counters (``rusage all``) of the runs pycim makes inside a block."""

from __future__ import annotations

import re
from contextlib import contextmanager

_COUNTER = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*=\s*([-+\d.eE]+)\s*$", re.M)


@contextmanager
def ngspice_rusage(keep_deck: bool = False, edit=None):
    """Within the block every ngspice run of :class:`pycim.sim.NgspiceEngine` appends
    ``rusage all`` to its deck; yields a list that receives, per run, ngspice's counters
    (``{"Total iterations": 226.0, "Matrix factor time": 0.2, ...}``) and its ``"log"``
    (``keep_deck``: also the deck's text as ``"deck"``). ``edit``: a function of the deck's
    text returning the text ngspice runs (experiments on a generated deck; ``"deck"`` keeps
    the generated one)."""
    import pycim.sim.ngspice as ng

    runs: list[dict] = []
    run_simulator = ng.run_simulator

    def run(cmd, cwd, *a, **k):
        deck = (cwd / "deck.cir").read_text()
        run_deck = deck if edit is None else edit(deck)
        (cwd / "deck.cir").write_text(run_deck.replace("write out.raw",
                                                       "write out.raw\nrusage all"))
        log, elapsed = run_simulator(cmd, cwd, *a, **k)
        runs.append({**{m.group(1): float(m.group(2)) for m in _COUNTER.finditer(str(log))},
                     "log": str(log), **({"deck": deck} if keep_deck else {})})
        return log, elapsed

    ng.run_simulator = run
    try:
        yield runs
    finally:
        ng.run_simulator = run_simulator

"""Where VACASK's MVM transient time goes (issue 18 item 5): the same 8 x 8, 4-bit-in /
6-bit-out MVM deck in ngspice (pycim's options) and in VACASK with a few option sets; wall time,
accepted time points and the codes.

    .venv/bin/python benchmarks/vacask_steps.py
"""

from __future__ import annotations

import time

import numpy as np

from pycim.cim.request import MvmRequest
from pycim.flows.mvm import MAX_STEP_S, MVM_OPTIONS
from pycim.measure.neuron import read_neuron
from pycim.netlist.mvm_deck import mvm_deck, mvm_setup
from pycim.sim import NgspiceEngine, Tran
from pycim.sim.vacask import VacaskEngine


def main() -> None:
    rng = np.random.default_rng(0)
    w, x = rng.uniform(-1, 1, (8, 8)), rng.integers(-7, 8, (1, 8))
    req = MvmRequest(w, x, 4, 6)
    setup = mvm_setup(req)
    core = mvm_deck(req, setup, 0)
    t_stop = setup.schedule.t_stop
    runs = [("ngspice (pycim options)", NgspiceEngine(options=MVM_OPTIONS), 1e-9),
            ("vacask defaults", VacaskEngine(timeout_s=900), 1e-9),
            ("vacask step=5n", VacaskEngine(timeout_s=900), 5e-9),
            ("vacask tran_lteratio=7 (ngspice's trtol)",
             VacaskEngine(options={"tran_lteratio": 7.0}, timeout_s=900), 1e-9)]
    for label, eng, step in runs:
        t0 = time.perf_counter()
        res = eng.run(core.circuit, Tran(step, t_stop, MAX_STEP_S))
        dt = time.perf_counter() - t0
        codes = [read_neuron(res, setup.schedule, nd, setup.neuron).code for nd in core.neurons]
        print(f"{label}: {dt:.1f} s, {len(res['time'])} time points, codes {codes}")


if __name__ == "__main__":
    main()

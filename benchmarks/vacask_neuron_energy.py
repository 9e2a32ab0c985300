"""Where VACASK's extra neuron energy goes (issue 17): the same MVM deck in both engines.

    PYTHONPATH=. python benchmarks/vacask_neuron_energy.py [--seed S]

One 16 x 16 MVM (8 signed rows x 16 columns, 4-bit in / 6-bit out, random weights and inputs
of ``--seed``; the default flow's deck, :func:`pycim.netlist.mvm_deck.mvm_deck`) runs in ngspice
and in VACASK. Printed: each energy group of both engines, the neuron supply's mean current
per schedule phase (the reset, a sample, an integration), the first neuron's latch nodes at
the first time point after 0, and the codes. About 35 s.
"""

from __future__ import annotations

import argparse

import numpy as np

PHASES = ("reset", "reset_f", "in1_0", "int1_0")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    from pycim.cim.request import MvmRequest
    from pycim.flows.mvm import MVM_TIMEOUT_S, max_step_s, mvm_options, neuron_readout
    from pycim.measure.energy import energy_by_group
    from pycim.netlist.mvm_deck import mvm_deck, mvm_setup, saved_vectors
    from pycim.sim import NgspiceEngine, Tran, get_engine

    rng = np.random.default_rng(a.seed)
    req = MvmRequest(rng.uniform(-1, 1, (8, 16)), rng.integers(-7, 8, (1, 8)), 4, 6)
    setup = mvm_setup(req)
    spec, sched = setup.neuron, setup.schedule
    core = mvm_deck(req, setup, 0)
    nd = core.neurons[0]
    tran = Tran(1e-9, sched.t_stop, max_step_s(spec, sched))
    engines = {"ngspice": NgspiceEngine(timeout_s=MVM_TIMEOUT_S, options=mvm_options(spec, sched)),
               "vacask": get_engine("vacask", timeout_s=MVM_TIMEOUT_S)}
    energy = {}
    for name, eng in engines.items():
        res = eng.run(core.circuit, tran, save=saved_vectors(core))
        t = np.asarray(res["time"], dtype=float)
        i_vdd = -np.asarray(res["i(vdd)"], dtype=float)
        energy[name] = energy_by_group(res, core.circuit, core.groups, core.logic)
        per = []
        for ph in PHASES:
            lo, hi = sched.start(ph), sched.end(ph)
            m = (t > lo + 0.2 * (hi - lo)) & (t < hi - 0.1 * (hi - lo))
            per.append(f"{ph} {np.mean(i_vdd[m]) * 1e6:.1f}")
        _, code = neuron_readout(res, core.neurons, sched, spec)
        print(f"{name}: neuron supply mean current per phase [uA] {', '.join(per)}; latch "
              f"{nd.q} = {np.asarray(res[nd.q])[1]:.3f} V, {nd.qb} = "
              f"{np.asarray(res[nd.qb])[1]:.3f} V at t = {t[1] * 1e9:.2f} ns; codes "
              f"{np.asarray(code).astype(int).tolist()}")
    for g in energy["ngspice"]:
        e0, e1 = energy["ngspice"][g], energy["vacask"][g]
        print(f"  {g:10s} ngspice {e0 * 1e12:9.3f} pJ  vacask {e1 * 1e12:9.3f} pJ  ratio "
              f"{e1 / e0 if e0 else float('nan'):.3f}")


if __name__ == "__main__":
    main()

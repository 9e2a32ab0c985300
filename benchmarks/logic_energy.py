"""Energy of the ideal PWL control sources (line-driver gates, word-line inverter inputs, neuron
clocks) of one 16 x 16 4-bit MVM: the integral of V i (an ideal ramp source returns on the
falling edge what it gave on the rising one: the count before issue 17) against a CMOS driver
from a rail at the logic-high level (V_high x the charge it delivers), which is how
pycim.measure.energy.energy_by_group counts them since. Issue 17 finding; run from the root:

    PYTHONPATH=. .venv/bin/python benchmarks/logic_energy.py
"""

import numpy as np
from pycim.cim.request import MvmRequest
from pycim.flows.mvm import run_mvm
from pycim.netlist.mvm_deck import mvm_setup, mvm_deck
from pycim.netlist.circuit import VSource
rng = np.random.default_rng(0)
w = rng.uniform(-1, 1, (16, 16)); x = rng.integers(-7, 8, (1, 16))
req = MvmRequest(w, x, 4, 6)
wf = {}
out = run_mvm(req, progress=False, waveforms=wf)
res = wf["result"]
core = mvm_deck(req, mvm_setup(req), 0)
t = res["time"]
acc = {}
for e in core.circuit.iter_elements():
    if not isinstance(e, VSource) or e.pwl is None:
        continue
    name = e.name.lower(); g = core.groups.get(name, "neuron")
    levels = {round(v, 6) for _, v in e.pwl}
    if len(levels) > 2 or 0.0 not in levels:
        continue  # analog (DAC) or rail-like
    vhi = max(levels)
    i_out = -np.asarray(res[f"i({name})"])
    now = float(np.trapezoid(-np.asarray(res[e.np_]) * res[f"i({name})"], t))
    rail = vhi * float(np.trapezoid(np.maximum(i_out, 0), t))
    a = acc.setdefault(g, [0.0, 0.0, 0]); a[0] += now; a[1] += rail; a[2] += 1
print("group: counted now / from a rail at the logic high (CMOS driver) / sources, per MVM (pJ); ops", 2 * out["macs"])
for g, (n, r, k) in acc.items():
    print(f"{g}: {n*1e12:.2f} / {r*1e12:.2f} pJ ({k} sources); per op {n/(2*out['macs'])*1e15:.1f} / {r/(2*out['macs'])*1e15:.1f} fJ")
print("groups now", {k: round(v*1e12, 2) for k, v in out["energy_j"].items()})

"""The held-out 8 x 8 macro-vs-SPICE comparison of tests/test_held_out.py on more outputs: the
same weights and seed (200) with a batch of 4 vectors (32 outputs instead of 8), 4-bit in /
6-bit out, 200 ns read pulse. Prints the macro-vs-SPICE code RMS and max, each engine's RMS
against floor(closed form), and the energy ratio.

    PYTHONPATH=. .venv/bin/python benchmarks/held_out_8x8.py tt|ss
"""
import sys, warnings, numpy as np
warnings.simplefilter("ignore")
from pycim.characterize.kinds_fit import problem
from pycim.cim.request import MvmRequest
from pycim.dispatch import run_mvm
corner = sys.argv[1]
w, x = problem({"n_in": 8, "n_out": 8, "in_bits": 4, "w_scale": 1.0, "batch": 4, "seed": 200})
s = run_mvm(MvmRequest(w, x, 4, 6, seed=200, corner=corner, read_pulse_s=200e-9), progress=False)
m = run_mvm(MvmRequest(w, x, 4, 6, seed=200, corner=corner, read_pulse_s=200e-9, engine="macro"), progress=False)
cs, cm = np.array(s["code"]), np.array(m["code"]); y = np.floor(np.array(s["y_ideal"]))
print(corner, "macro-spice rms %.3f max %d" % (np.sqrt(np.mean((cm-cs)**2)), np.abs(cm-cs).max()),
      "spice-floor rms %.3f" % np.sqrt(np.mean((cs-y)**2)), "macro-floor rms %.3f" % np.sqrt(np.mean((cm-y)**2)),
      "energy ratio %.4f" % (m["energy_j"]["total"]/s["energy_j"]["total"]))
print(cs.tolist()); print(cm.tolist())

"""How much of the control sources' energy in the 16 x 16 4-bit MVM transient (benchmarks.cases.
mvm_core(n=16)) is trapezoidal ringing of their currents.

:func:`pycim.measure.energy.energy_by_group` counted a control (logic) source as a CMOS driver
from V_high x the integral of its positive delivered current until issue 17's sixth round; it now
counts the net charge per level (:func:`pycim.measure.energy.driver_charge`), this script's
second column. With the trapezoidal rule the current
of an ideal source driving a capacitive gate rings (+-i, undamped: e.g. +-0.33 uA on a WL
inverter input for tens of ns after the drivers switch) until the next breakpoint restarts the
integration with a backward-Euler step; the rectified integral counts half of that ringing.
This script prints, per group, that rectified figure beside the net charge delivered between
consecutive level changes of each source (ringing cancels in a net integral), counted when
positive, times V_high. The two agree where no ringing survives; their difference depends on
where the schedule puts breakpoints, not on the circuit.

    .venv/bin/python benchmarks/logic_ringing.py [MAX_STEP_S RELTOL]   # from the root
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pycim.flows.mvm as fm
from pycim import dispatch
from pycim.cim.request import MvmRequest
from pycim.measure.energy import driver_charge
from pycim.netlist.circuit import VSource


def main(argv: list[str]) -> None:
    warnings.simplefilter("ignore")
    if argv:
        fm.MAX_STEP_S = float(argv[0])
        options = fm.mvm_options
        fm.mvm_options = lambda spec, sched: {**options(spec, sched), "reltol": float(argv[1])}
    captured = {}
    energy_by_group = fm.energy_by_group

    def grab(res, circuit, groups, logic):
        captured.update(res=res, circuit=circuit, groups=groups, logic=logic)
        return energy_by_group(res, circuit, groups, logic)

    fm.energy_by_group = grab
    rng = np.random.default_rng(0)  # the inputs of benchmarks.cases.mvm_core(n=16)
    w = rng.uniform(-1, 1, (8, 16))
    x = rng.integers(-7, 8, (1, 8))
    out = dispatch.run_mvm(MvmRequest(w, x, 4, 6), progress=False)
    res, groups, logic = captured["res"], captured["groups"], captured["logic"]
    t = np.asarray(res["time"], dtype=float)
    rect: dict[str, float] = {}
    net: dict[str, float] = {}
    for e in captured["circuit"].iter_elements():
        name = e.name.lower() if isinstance(e, VSource) else ""
        if name not in logic:
            continue
        g = groups.get(name, "neuron")
        v_high = max(v for _, v in e.pwl) if e.pwl else e.dc_v
        i = -np.asarray(res[f"i({name})"], dtype=float)
        rect[g] = rect.get(g, 0.0) + v_high * np.trapezoid(np.maximum(i, 0.0), t)
        net[g] = net.get(g, 0.0) + v_high * driver_charge(t, i, e.pwl)
    print(f"points {t.size}, codes {out['code'][0]}")
    print(f"{'group':>10s} {'rectified pJ':>13s} {'net per level pJ':>17s}")
    for g in sorted(rect):
        print(f"{g:>10s} {rect[g] * 1e12:13.3f} {net[g] * 1e12:17.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])

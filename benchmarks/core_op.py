"""Operating point of an N x N core netlist (``pycim netlist core --rows N --cols N``: SKY130
drivers and access FETs, stateful RRAM, per-cell wire R/C, N transistor-level neurons) in
ngspice and VACASK, each with its default operating-point strategy and with the direct Newton
solve skipped (ngspice ``.options noopiter``: straight to gmin stepping, pycim's
``OP_OPTIONS``; VACASK ``op_skipinitial=1``: straight to its homotopy). Prints wall time,
ngspice's iterations / load / factor time (``rusage all``) and the largest sensed-line
difference against ngspice's default.

    PYTHONPATH=. python benchmarks/core_op.py 32 [--engines ngspice vacask] [--disable-ota]

``--disable-ota`` holds every neuron's amplifier off (``nc_en`` low): the diagnosis of why the
direct solve fails (ngspice then converges directly).
"""

from __future__ import annotations

import argparse
import time


def _ngspice(circuit, options: dict) -> tuple[float, dict, object]:
    from benchmarks.ngspice_stats import ngspice_rusage
    from pycim.sim import NgspiceEngine, Op

    with ngspice_rusage() as runs:
        t0 = time.perf_counter()
        res = NgspiceEngine(timeout_s=3600, retry=False, options=options).run(circuit, Op())
        wall = time.perf_counter() - t0
    r = runs[-1]
    stats = {"iterations": r.get("Total iterations"), "load_s": r.get("Matrix load time"),
             "factor_s": r.get("Matrix factor time"), "gmin_stepping": "gmin stepping" in r["log"]}
    return wall, stats, res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="rows = columns, a multiple of 16")
    ap.add_argument("--engines", nargs="+", default=["ngspice", "vacask"],
                    choices=["ngspice", "vacask"])
    ap.add_argument("--disable-ota", action="store_true")
    args = ap.parse_args(argv)
    import numpy as np

    from pycim.flows.mvm import OP_OPTIONS, VACASK_OP_OPTIONS
    from pycim.netlist.circuit import VSource
    from pycim.netlist.reference import NetlistRequest
    from pycim.sim import Op, VacaskEngine

    c = NetlistRequest("core", args.n, args.n).circuit()
    if args.disable_ota:
        flip = ("vnc_en", "vnc_en_b")  # the enable and its complement, swapped between rails
        c.map_elements(lambda e: VSource(e.name, e.np_, e.nn, 1.8 - e.dc_v)
                       if isinstance(e, VSource) and e.name.lower() in flip else e)
    lines = [f"sl{j}" for j in range(args.n)]
    ref = None
    for engine in args.engines:
        skip = OP_OPTIONS if engine == "ngspice" else VACASK_OP_OPTIONS
        for label, opts in (("default", {}), ("direct solve skipped", skip)):
            if engine == "ngspice":
                wall, stats, res = _ngspice(c, opts)
            else:
                t0 = time.perf_counter()
                res = VacaskEngine(timeout_s=3600, options=opts).run(c, Op())
                wall, stats = time.perf_counter() - t0, {}
            v = np.array([res.value(s) for s in lines])
            ref = v if ref is None else ref
            print(f"{args.n}x{args.n} {engine:7s} {label:21s} {wall:8.2f} s  {stats}  "
                  f"max |sl - ngspice default| {np.abs(v - ref).max() * 1e6:.3g} uV", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

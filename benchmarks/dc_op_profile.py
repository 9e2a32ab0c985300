"""ngspice's own profile (``rusage all``) of the ``array_dc_op`` benchmark's decks: the n x n
1T1R array (read-model cells, SKY130 access FETs, per-cell wire R/C) and the crossbar of
native resistors with the same wires, driven alike (``benchmarks.cases.dc_op``).

    PYTHONPATH=. python benchmarks/dc_op_profile.py [N] [--no-body-network]

Prints per deck: lines, equations, Newton iterations, netlist loading / expansion / parsing,
KLU's analysis with the first factorization ("reorder"), the refactorizations ("factor"), the
matrix loads and ngspice's elapsed time. ``--no-body-network``: the access FET's card without
BSIM4's body resistance network (``AccessSpec(body_network=False)``, three nodes fewer per
cell).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEYS = ("Number of lines in the deck", "Circuit Equations", "Total iterations",
        "Netlist loading time", "Subckt and Param expansion time", "Netlist parsing time",
        "Matrix reorder time", "Matrix factor time", "Matrix load time", "Matrix solve time")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=256)
    ap.add_argument("--no-body-network", action="store_true")
    args = ap.parse_args(argv)
    if not 2 <= args.n <= 512 or args.n % 2:
        ap.error("N must be an even integer in 2..512")
    import numpy as np

    from benchmarks.cases import _array_spec
    from benchmarks.ngspice_stats import ngspice_rusage
    from pycim.netlist.array import dc_drive_circuit, row_voltages
    from pycim.sim import NgspiceEngine, Op

    rows = row_voltages(np.random.default_rng(1).choice([-1.0, 1.0], args.n // 2), 0.9, 0.1)
    for name, cell, access in (("native-resistor crossbar", "resistor", "ideal"),
                               ("1T1R array", "rram_read", "sky130")):
        spec = _array_spec(args.n, cell, access)
        if access == "sky130" and args.no_body_network:
            from dataclasses import replace
            spec = replace(spec, access=replace(spec.access, body_network=False))
        with ngspice_rusage() as runs:
            res = NgspiceEngine(klu=True, timeout_s=1800).run(dc_drive_circuit(spec, rows), Op())
        r = runs[0]
        print(f"{name} {args.n}x{args.n}: ngspice elapsed {res.elapsed_s:.2f} s; "
              + "; ".join(f"{k} {r.get(k, float('nan')):g}" for k in KEYS), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

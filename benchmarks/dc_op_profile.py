"""ngspice's own profile (``rusage all``) of the ``array_dc_op`` benchmark's decks: the n x n
1T1R array (read-model cells, SKY130 access FETs, per-cell wire R/C) and the crossbar of
native resistors with the same wires, driven alike (``benchmarks.cases.dc_op``).

    PYTHONPATH=. python benchmarks/dc_op_profile.py [N] [--no-body-network] [--variant V ...]
        [--repeat K] [--ports-only]

Prints per deck: lines, equations, Newton iterations, netlist loading / expansion / parsing
(ngspice's expansion time contains its parsing time), KLU's analysis with the first
factorization ("reorder"), the refactorizations ("factor"), the matrix loads and ngspice's
elapsed time, and the operating system's accounting of the ngspice process: CPU time in user
mode and in the kernel, minor page faults. ``--no-body-network``: the access FET's card without
BSIM4's body resistance network (``AccessSpec(body_network=False)``, three nodes fewer per
cell). ``--variant``: the 1T1R deck also run with an edit (:func:`edit_deck`), with the largest
difference of its node voltages from the generated deck's. ``--ports-only``: both decks save
only the SL ports, as the group's runs do (``benchmarks.cases.sensed_ports``); without it,
every node, which the variants' comparison of node voltages uses. ``--repeat K``: every deck K
times, interleaved (the order reversed every other round), then each deck's medians of the
elapsed, front-end and CPU times (a shared host's load moves single runs by 20 %; on a virtual
machine the kernel's time for the 1T1R deck's page faults moves by more, its user-mode time
much less).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEYS = ("Number of lines in the deck", "Circuit Equations", "Total iterations",
        "Netlist loading time", "Subckt and Param expansion time", "Netlist parsing time",
        "Matrix reorder time", "Matrix factor time", "Matrix load time", "Matrix solve time")


#: deck edits of the 1T1R deck (``--variant``), applied to the generated text
VARIANTS = ("wl-one-node", "no-series-r", "nf1", "no-op-guess")


def edit_deck(deck: str, variant: str) -> str:
    """The generated 1T1R deck with one change. ``wl-one-node``: every access FET's gate on one
    node driven by the first word-line source, the word-line ladders and their capacitors
    removed -- the same DC solution when every row's word line is at one voltage, as here,
    since the gates draw no DC current (the card has igcmod = igbmod = 0); ``no-series-r``:
    nrd = nrs = 0, dropping BSIM4's drain and source prime nodes and the diffusions' series
    resistance (rsh x 0.035 squares, about 16 ohm: a different device); ``nf1``: ``nf=1``
    written on every access FET, as the generator did before it left BSIM4's defaults out
    (:data:`pycim.netlist.sky130_cards.BSIM4_INSTANCE_DEFAULTS`: the same device);
    ``no-op-guess``: the access FETs' Newton starting points (``ic=``,
    :func:`pycim.netlist.array.dc_drive_circuit`) removed, BSIM4's own guess instead."""
    if variant == "wl-one-node":
        if len(set(re.findall(r"^VW\d+ \S+ 0 dc (\S+)$", deck, re.M))) != 1:
            raise SystemExit("wl-one-node needs every word line at one voltage")
        deck = re.sub(r"^(?:RW|CW)\S* .*\n", "", deck, flags=re.M)
        deck = re.sub(r"^VW(?!0 )\d+ .*\n", "", deck, flags=re.M)
        deck = re.sub(r"^VW0 \S+ ", "VW0 wl_all ", deck, flags=re.M)
        return re.sub(r"^(M\S+ \S+) \S+ ", r"\1 wl_all ", deck, flags=re.M)
    if variant == "no-series-r":
        return re.sub(r" nrd=\S+ nrs=\S+", " nrd=0 nrs=0", deck)
    if variant == "nf1":
        if re.search(r"^M.* nf=", deck, re.M):
            raise SystemExit("nf1: the deck writes nf already")
        return re.sub(r"^(M\S+ .* l=\S+) ", r"\1 nf=1 ", deck, flags=re.M)
    if variant == "no-op-guess":
        if not re.search(r"^M.* ic=", deck, re.M):
            raise SystemExit("no-op-guess: the deck has no starting points")
        return re.sub(r"^(M.*) ic=\S+", r"\1", deck, flags=re.M)
    raise ValueError(variant)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=256)
    ap.add_argument("--no-body-network", action="store_true")
    ap.add_argument("--variant", action="append", choices=VARIANTS, default=[],
                    help="also run the 1T1R deck with this edit (repeatable; edit_deck)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run every deck this many times, interleaved, and print medians")
    ap.add_argument("--ports-only", action="store_true",
                    help="save only the SL ports on both decks, as array_dc_op does")
    args = ap.parse_args(argv)
    if not 1 <= args.repeat <= 20:
        ap.error("--repeat must be in 1..20")
    if not 2 <= args.n <= 512 or args.n % 2:
        ap.error("N must be an even integer in 2..512")
    import numpy as np

    from benchmarks.cases import DC_OP_COUNTERS, _array_spec, ngspice_accounting, sensed_ports
    from benchmarks.ngspice_stats import ngspice_rusage
    from pycim.netlist.array import dc_drive_circuit, row_voltages
    from pycim.sim import NgspiceEngine, Op

    rows = row_voltages(np.random.default_rng(1).choice([-1.0, 1.0], args.n // 2), 0.9, 0.1)
    runs_to_do = [("native-resistor crossbar", "resistor", "ideal", None),
                  ("1T1R array", "rram_read", "sky130", None)]
    runs_to_do += [(f"1T1R array, {v}", "rram_read", "sky130", v) for v in args.variant]
    base = None
    # per run: elapsed, front end, CPU user, kernel
    times: dict[str, list[tuple[float, ...]]] = {name: [] for name, *_ in runs_to_do}
    for k in range(args.repeat):
        for name, cell, access, variant in (runs_to_do if k % 2 == 0 else runs_to_do[::-1]):
            spec = _array_spec(args.n, cell, access)
            if access == "sky130" and args.no_body_network:
                from dataclasses import replace
                spec = replace(spec, access=replace(spec.access, body_network=False))
            edit = None if variant is None else (lambda d, v=variant: edit_deck(d, v))
            circuit = dc_drive_circuit(spec, rows)
            with ngspice_accounting() as os_acc, ngspice_rusage(edit=edit) as runs:
                res = NgspiceEngine(klu=True, timeout_s=1800).run(
                    circuit, Op(), save=sensed_ports(args.n) if args.ports_only else None)
            r = runs[0]
            times[name].append((res.elapsed_s, sum(r.get(key, 0.0)
                                                   for key in DC_OP_COUNTERS["front_end_s"]),
                                os_acc["user_s"], os_acc["sys_s"]))
            same = ""
            if access == "sky130":
                # the array's own nodes (cell middles, bit- and source-line taps) in both runs
                volts = {key: float(res[key][0]) for key in res.names
                         if re.fullmatch(r"(m|b|s|bl|sl)\d+(_\d+)?", key.lower())}
                if base is None:
                    base = volts
                else:
                    common = sorted(set(base) & set(volts))
                    dv = max(abs(volts[key] - base[key]) for key in common)
                    same = f"; node voltages vs the generated deck: max |dV| {dv:.2e} V " \
                           f"over {len(common)} nodes"
            print(f"{name} {args.n}x{args.n}: ngspice elapsed {res.elapsed_s:.2f} s "
                  f"(CPU user {os_acc['user_s']:.2f} s, kernel {os_acc['sys_s']:.2f} s, "
                  f"{os_acc['minor_faults']} minor page faults); "
                  + "; ".join(f"{key} {r.get(key, float('nan')):g}" for key in KEYS) + same,
                  flush=True)
    if args.repeat > 1:
        for name, t in times.items():
            el, fe, us, sy = np.median(np.asarray(t), axis=0)
            print(f"{name}: median of {args.repeat} interleaved runs: ngspice elapsed "
                  f"{el:.2f} s, front end (loading, expansion with parsing) {fe:.2f} s, "
                  f"CPU user {us:.2f} s, kernel {sy:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

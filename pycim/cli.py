"""``pycim`` command line. Thin: parses arguments and calls the stages; no physics here."""

from __future__ import annotations

import argparse
import re
import signal
import sys

from . import __version__
from .errors import InputError, PycimError


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (``pycim CMD: error: ...``, exit 2), no usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: a decimal integer as written on a command line: ASCII digits, an optional sign (int()
#: alone also takes "4_0", " 40 " and other scripts' digits)
_DECIMAL_INT = re.compile(r"[+-]?[0-9]+")
#: a decimal number (int() / float() syntax without underscores, spaces or non-ASCII digits);
#: nan and inf pass to the option's own range check, which names them
_DECIMAL_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                            r"|[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def _int_in(lo: int, hi: int | None = None):
    """argparse type: an integer in lo..hi (or >= lo); the message names the range."""
    def conv(text: str) -> int:
        v = int(text) if _DECIMAL_INT.fullmatch(text) else None
        if v is None or v < lo or (hi is not None and v > hi):
            rng = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"must be an integer {rng}, got {text!r}")
        return v
    return conv


def _float(text: str) -> float:
    """argparse type: a decimal number (no underscores, spaces or non-ASCII digits)."""
    if not _DECIMAL_FLOAT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be a decimal number, got {text!r}")
    return float(text)


#: ``pycim netlist``'s defaults; its options default to None in the parser so that the command
#: can tell an option given (and refuse it where it does not apply) from one left out
NETLIST_DEFAULTS = {"rows": 16, "cols": 16, "corner": "tt", "temp_c": 27.0, "cell": "rram",
                    "access": "sky130", "driver": "sky130", "direction": "forward", "seed": 0,
                    "in_bits": 4, "out_bits": 6, "mapping": "row_pair", "ideal": False,
                    "wire_segment_cells": 1, "standalone": False}


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pycim", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"pycim {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("doctor", help="check the toolchain: versions and capability probes")

    d = sub.add_parser("demo", help="run the main job on a small default, with plots")
    d.add_argument("which", nargs="?", choices=("mvm", "digits"), default="mvm",
                   help="mvm: cell + transistor-level MVM (default); digits: a small network "
                        "on the 48-core chip macro-model")
    d.add_argument("--out", default="out/demo", help="output directory (default: out/demo)")

    n = sub.add_parser("netlist", help="generate cell / array / core netlists",
                       description="Generate a netlist, or regenerate/check the reference set.")
    n.add_argument("kind", nargs="?", choices=("cell", "array", "core"))
    n.add_argument("--rows", type=_int_in(1, 256), default=None, help="physical rows (even; default 16)")
    n.add_argument("--cols", type=_int_in(1, 256), default=None, help="columns (default 16)")
    n.add_argument("--corner", default=None, help="tt, ff, ss, sf or fs (default tt)")
    n.add_argument("--temp-c", type=_float, default=None, help="temperature in C (default 27)")
    n.add_argument("--name", default=None, help="identifier written into the netlist title")
    n.add_argument("--wire-r-ohm-per-um", type=_float, default=None,
                   help="wire resistance per um (default: pycim.assumptions; 0 = ideal wires)")
    n.add_argument("--cell", choices=("rram", "rram_read", "linear"), default=None,
                   help="rram (stateful), rram_read (state frozen: reads) or linear")
    n.add_argument("--access", choices=("sky130", "ideal"), default=None,
                   help="sky130 (1T1R) or ideal switches (default sky130)")
    n.add_argument("--driver", choices=("sky130", "ideal"), default=None,
                   help="core: sky130 or ideal line drivers (default sky130)")
    n.add_argument("--direction", choices=("forward", "backward"), default=None,
                   help="core: forward or backward (default forward)")
    n.add_argument("--seed", type=_int_in(0), default=None, help="seed of the random weights/inputs")
    n.add_argument("--weights", default=None,
                   help="core: W.npy; the deck is the core `pycim mvm` simulates for W "
                        "(programmed with --seed)")
    n.add_argument("--x", default=None,
                   help="with --weights: X.npy, one input vector; the deck is the MVM transient")
    n.add_argument("--in-bits", type=_int_in(1, 8), default=None, help="with --x (default 4)")
    n.add_argument("--out-bits", type=_int_in(1, 10), default=None, help="with --x (default 6)")
    n.add_argument("--phases", type=_int_in(1, 2), default=None,
                   help="with --x: 1 (a deck is one transient; needed from --in-bits 5, where "
                        "pycim mvm runs two phases unless given --phases 1)")
    n.add_argument("--mapping", default=None, help="with --weights: row_pair or transposable")
    n.add_argument("--ideal", action="store_true", default=None,
                   help="with --weights: linear cells, ideal wires and drivers")
    n.add_argument("--wire-segment-cells", type=_int_in(1, 256), default=None,
                   help="with --weights: cells per wire R/C segment (default 1)")
    n.add_argument("--standalone", action="store_true", default=None,
                   help="write a deck stock ngspice runs (cd DIR && ngspice -b NAME.cir): OSDI "
                        "models, their Verilog-A sources and a rebuild script beside it")
    n.add_argument("-o", "--output", help="output file (with --standalone: DIR/NAME.cir)")
    n.add_argument("--all", action="store_true", help="regenerate the reference netlists in netlists/")
    n.add_argument("--check", action="store_true",
                   help="exit 1 naming each committed reference netlist that differs from a fresh one")
    m = sub.add_parser("mvm", help="one core MVM at transistor level (or closed-form reference)",
                       description="Program W into a core, apply X, return codes, settled line "
                                   "voltages and energy as JSON.")
    m.add_argument("--weights", required=True, help="W.npy: float (n_in, n_out) in [-1, 1]")
    m.add_argument("--x", required=True, help="X.npy: integers (n_in,) or (batch, n_in)")
    m.add_argument("--in-bits", type=_int_in(1, 8), default=4, help="signed input bits 1..8 (default 4)")
    m.add_argument("--out-bits", type=_int_in(1, 10), default=6,
                   help="signed output bits 1..10 (default 6; the paper's in + 2)")
    m.add_argument("--phases", type=_int_in(1, 2), default=None,
                   help="1: one phase; 2: high and low input slices shift-added (needs "
                        "--in-bits >= 3; default: 2 for --in-bits >= 5, else 1)")
    m.add_argument("--adc-full-scale-v", type=_float, default=None,
                   help="ADC full scale in V, 0.05..0.8 (LSB = 2 FS / 2^out_bits; default: the "
                        "neuron's, pycim.assumptions neuron_adc_fs_v)")
    m.add_argument("--read-pulse-s", type=_float, default=None,
                   help="input / word-line read pulse per magnitude plane in s, 4e-9..1e-6 "
                        "(default 20 ns, the shortest that settles a full core at ss / 125 C; the "
                        "paper's is 10 ns; a warning says when a sensed line still moves)")
    m.add_argument("--direction", choices=("forward", "backward"), default="forward")
    m.add_argument("--engine", choices=("spice", "vacask", "macro"), default="spice")
    m.add_argument("--macro-model", default=None, metavar="NAME|MODEL.json",
                   help="--engine macro: a packaged model by name (default, polarity: "
                        "MacroModel.packaged) or a model JSON of pycim fit (default: the "
                        "packaged default)")
    m.add_argument("--ideal", action="store_true",
                   help="linear cells, zero wire R/C, ideal switches (closed-form reference)")
    m.add_argument("--corner", default="tt", help="tt, ff, ss, sf or fs (default tt)")
    m.add_argument("--temp-c", type=_float, default=27.0)
    m.add_argument("--seed", type=_int_in(0), default=0, help="programming-noise seed (default 0)")
    m.add_argument("--wire-segment-cells", type=_int_in(1, 256), default=None,
                   help="cells per wire R/C segment (1 = per cell, default; 16 = per corelet, "
                        "for fast 256x256 transients)")
    m.add_argument("--mapping", default="row_pair",
                   help="row_pair (G+/G- on adjacent rows, default) or transposable (2x2 block "
                        "per weight: backward on W equals forward on W^T in the closed form, "
                        "the codes within one step)")
    part = m.add_mutually_exclusive_group()
    part.add_argument("--partition", action="store_true", default=None,
                      help="run each vector partitioned: the array with the neurons' "
                           "track/hold front ends, then the neurons in banks on the recorded "
                           "lines (the default in ngspice where the conversion's LSB allows "
                           "its coupling error, e.g. not at 10-bit outputs; a 256 x 256 core in "
                           "minutes; error against the full deck: "
                           "benchmarks/partition_error.py)")
    part.add_argument("--full-deck", dest="partition", action="store_false",
                      help="run each vector as one deck of the whole core (the default in "
                           "VACASK)")
    m.add_argument("--jobs", type=_int_in(1, 256), default=None,
                   help="neuron banks of a partitioned run at a time (worker processes; "
                        "default 1)")
    m.add_argument("--json", required=True, help="output JSON file")
    sw = sub.add_parser("sweep", help="run a declarative characterization sweep (TOML spec)",
                        description="Run every point of a sweep spec (cached, resumable); write "
                                    "Parquet tables, summary.csv and plots.")
    sw.add_argument("spec", metavar="SPEC", help="sweep spec (.toml), e.g. characterization/smoke.toml")
    sw.add_argument("--jobs", type=_int_in(1), default=None, help="parallel points (default: all cores)")
    sw.add_argument("--out", default=None, help="output directory (default: out/sweep/<spec name>)")
    sw.add_argument("--executor", choices=("local", "dask"), default="local",
                    help="local process pool (default) or a Dask cluster")
    sw.add_argument("--scheduler", default=None,
                    help="with --executor dask: scheduler address tcp://host:port "
                         "(default: a local cluster of --jobs workers)")
    ft = sub.add_parser("fit", help="fit the macro-model to sweep results (scipy.optimize)",
                        description="Fit line transfer, ADC, offsets and energy to a sweep's "
                                    "results (e.g. of characterization/fit.toml); write the model "
                                    "JSON and print each fit's residuals.")
    ft.add_argument("results", metavar="RESULTS_DIR", nargs="+",
                    help="sweep output directory (several: their tables are joined, e.g. "
                         "characterization/results/fit and characterization/results/fit_full)")
    ft.add_argument("-o", "--output", required=True, help="model JSON to write")
    ft.add_argument("--verilog-a", default=None, metavar="OUT.va",
                    help="also emit a behavioural Verilog-A core (needs --weights)")
    ft.add_argument("--weights", default=None, help="W.npy of the core for --verilog-a")
    ft.add_argument("--seed", type=_int_in(0), default=0, help="programming seed for --verilog-a")
    ft.add_argument("--drop-term", action="append", default=None, metavar="TERM",
                    help="hold this line term at 0 in the fit (repeatable), e.g. b_act_line_v: "
                         "a simpler model to compare against the full one")
    ft.add_argument("--line-size-weight", type=_float, default=0.0, metavar="E",
                    help="weigh each point's settled lines by (median size / size)^E in the line "
                         "fit, 0..1 (default 0: every line alike; 0.5: every point about alike)")
    ft.add_argument("--polarity-terms", action="store_true",
                    help="also fit each driven line's drive and series resistance per drive "
                         "polarity (dr_*_ohm; the model's lines are then evaluated per plane, "
                         "and a Core runs the model's own chain instead of its folded fast path)")
    rp = sub.add_parser("report", help="paper comparison report: HTML + report.json",
                        description="Energy per MAC, TOPS/W, breakdown, latency and EDP vs the "
                                    "NeuRRAM paper, from the cached report sweep.")
    rp.add_argument("--out", default="out/report", help="output directory (default: out/report)")
    rp.add_argument("--results", default=None,
                    help="report sweep results (default: characterization/results/report)")
    rp.add_argument("--resimulate", action="store_true",
                    help="rerun characterization/report.toml into OUT/sweep and use that")
    rp.add_argument("--jobs", type=_int_in(1), default=None, help="with --resimulate: parallel points")
    return p


# ---------------------------------------------------------------------------------------------
# One argument phase for every command: ``_prepare_<command>(args, outs)`` validates ALL the
# arguments and reserves ALL the outputs (``outs.file``: path checked, temp file created) before
# any work or any write, and returns the work; :func:`_run_phases` runs the work and commits
# the outputs together, or discards them all on any error, Ctrl-C or SIGTERM.


def _run_phases(args, prepare) -> int:
    from .files import Outputs

    with Outputs() as outs:
        work = prepare(args, outs)  # argument phase: nothing computed, nothing written
        rc = work()  # writes only into the reserved temp files
        if rc == 0:
            outs.commit()
    return rc


def _prepare_mvm(args, outs):
    import json

    from .cim.request import MvmRequest, partitioned
    from .files import load_npy
    from .resources import check_mvm

    from .macro.model import PACKAGED

    named = args.macro_model in PACKAGED  # a packaged model's name, else a model file
    outs.inputs += [("--weights", args.weights), ("--x", args.x)]
    if args.macro_model is not None and not named:
        outs.inputs.append(("--macro-model", args.macro_model))
    if args.engine == "macro":  # options of a transistor-level transient the model has not
        given = [f for f, on in (("--partition", args.partition is True),
                                 ("--full-deck", args.partition is False),
                                 ("--wire-segment-cells", args.wire_segment_cells is not None),
                                 ("--jobs", args.jobs is not None)) if on]
        if given:
            raise InputError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} "
                             f"to a transistor-level transient (--engine spice or vacask); "
                             f"the macro engine evaluates a fitted model, none: drop "
                             f"{'it' if len(given) == 1 else 'them'}")
    wsc = 1 if args.wire_segment_cells is None else args.wire_segment_cells
    jobs = 1 if args.jobs is None else args.jobs
    js = outs.file(args.json, "--json")  # reserved first; discarded if a later check fails
    req = MvmRequest(load_npy(args.weights, "--weights"), load_npy(args.x, "--x"),
                     in_bits=args.in_bits, out_bits=args.out_bits, direction=args.direction,
                     engine=args.engine, ideal=args.ideal, corner=args.corner,
                     temp_c=args.temp_c, seed=args.seed, mapping=args.mapping,
                     wire_segment_cells=wsc, phases=args.phases,
                     adc_full_scale_v=args.adc_full_scale_v, read_pulse_s=args.read_pulse_s,
                     partition=args.partition)
    model = None
    if args.macro_model is not None:
        from .macro.model import MacroModel

        if args.engine != "macro":
            raise InputError("--macro-model is the macro engine's model: add --engine macro")
        from pathlib import Path

        if not named and not Path(args.macro_model).is_file():
            raise InputError(f"--macro-model: {args.macro_model!r} is neither a packaged model "
                             f"({', '.join(PACKAGED)}) nor a model file")
        model = MacroModel.packaged(args.macro_model) if named \
            else MacroModel.load(args.macro_model)
    if jobs > 1 and not partitioned(req):  # the macro engine was refused above
        why = ("--full-deck runs one deck of the whole core: drop --full-deck or --jobs"
               if args.partition is False else
               f"--engine {args.engine} runs one deck of the whole core by default: add "
               f"--partition or drop --jobs")
        raise InputError(f"--jobs runs the neuron banks of a partitioned run; {why}")
    check_mvm(req)  # refuse up front what would not fit in memory

    def work() -> int:
        from .dispatch import run_mvm

        out = run_mvm(req, jobs=jobs, model=model)
        js.write_text(json.dumps(out, indent=1) + "\n")
        codes = out["code"][0]
        print(f"codes (first vector): {codes}")
        print(f"ideal:                {[round(v, 2) for v in out['y_ideal'][0]]}")
        if out["phases"] == 2:
            print(f"two phases: slices of {out['phase_split_bits']} magnitude bits, shift "
                  f"{out['phase_shift']}; {out['n_clipped']} outputs clipped to --out-bits")
        print(f"energy {out['energy_j']['total'] * 1e12:.2f} pJ, "
              f"{out['energy_per_mac_j'] * 1e15:.1f} fJ/MAC, latency "
              f"{out['latency_s'] * 1e6:.2f} us per vector -> {args.json}")
        return 0
    return work


#: files a sweep writes into its --out directory (a spec there must not be one of them)
_SWEEP_WRITES = (".parquet", ".png", ".json", ".csv")


def _prepare_sweep(args, outs):
    from pathlib import Path

    from .characterize import load_spec, sweep_into
    from .characterize.runner import EXECUTORS, check_sweep_out, parse_scheduler
    from .errors import InputError
    from .files import check_output_dir
    from .resources import sweep_plan

    out = args.out or str(Path("out") / "sweep" / Path(args.spec).stem)
    spec = load_spec(args.spec)  # validated before anything is written
    check_output_dir(out, "--out")
    sp = Path(args.spec)
    if (Path(out).is_dir() and sp.absolute().parent.samefile(out)
            and sp.suffix in _SWEEP_WRITES):
        raise InputError(f"--out: {out} would overwrite the spec {sp} (give another --out)")
    check_sweep_out(spec, out, "--out", args.spec)  # another spec's results, unrelated files
    if args.executor not in EXECUTORS:  # pragma: no cover (argparse choices)
        raise InputError(f"--executor must be one of {', '.join(EXECUTORS)}")
    if args.scheduler is not None:
        if args.executor != "dask":
            raise InputError("--scheduler needs --executor dask")
        parse_scheduler(args.scheduler)
    sweep_plan(spec, args.jobs or 1)  # total points and memory, before any work

    def work() -> int:
        rep = sweep_into(args.spec, out, jobs=args.jobs, executor=args.executor,
                         scheduler=args.scheduler, progress=True)
        print(f"{len(rep.results)} points: {rep.count('cached')} cached, "
              f"{rep.count('computed')} computed, {rep.count('failed')} failed in "
              f"{rep.wall_s:.1f} s -> {out}")
        for r in rep.failures:
            print(f"FAILED {r.kind} {r.point}: {r.message}", file=sys.stderr)
        return 1 if rep.failures else 0
    return work


#: ``pycim netlist``'s options as the command line spells them (attribute -> flag)
_NETLIST_FLAGS = {"rows": "--rows", "cols": "--cols", "corner": "--corner",
                  "temp_c": "--temp-c", "name": "--name",
                  "wire_r_ohm_per_um": "--wire-r-ohm-per-um", "cell": "--cell",
                  "access": "--access", "driver": "--driver", "direction": "--direction",
                  "seed": "--seed", "weights": "--weights", "x": "--x", "in_bits": "--in-bits",
                  "out_bits": "--out-bits", "phases": "--phases", "mapping": "--mapping",
                  "ideal": "--ideal", "wire_segment_cells": "--wire-segment-cells",
                  "standalone": "--standalone"}


def _netlist_options(args) -> list[str]:
    """The ``pycim netlist`` options given on the command line (attribute names, in order)."""
    return [k for k in _NETLIST_FLAGS if getattr(args, k) is not None]


def _refuse(given: list[str], keys, where: str, alternative: str = "") -> None:
    """InputError naming the given options among ``keys``: they do not apply ``where``."""
    bad = [_NETLIST_FLAGS[k] for k in given if k in keys]
    if bad:
        one = len(bad) == 1
        raise InputError(f"{', '.join(bad)} {'does' if one else 'do'} not apply {where}: drop "
                         f"{'it' if one else 'them'}{alternative}")


def _check_netlist_options(args) -> None:
    """Refuse every ``pycim netlist`` option the chosen mode or KIND does not use (InputError)."""
    given = _netlist_options(args)
    if args.all or args.check:
        mode = "--check" if args.check else "--all"
        if args.all and args.check:
            raise InputError("--all regenerates and --check compares the reference netlists: "
                             "give one of them")
        if args.kind or args.output:
            raise InputError(f"{mode} takes no KIND or -o (it covers every reference netlist "
                             f"in netlists/)")
        _refuse(given, _NETLIST_FLAGS, f"to {mode} (the reference netlists are fixed: "
                                       f"pycim.netlist.reference.REFERENCE)",
                ", or write one netlist with KIND -o FILE")
        return
    if not args.kind or not args.output:
        raise InputError("pycim netlist needs KIND and -o FILE (or --all / --check)")
    mvm = ("x", "in_bits", "out_bits", "phases", "mapping", "ideal", "wire_segment_cells")
    if args.weights is None:
        bad = [_NETLIST_FLAGS[k] for k in given if k in mvm]
        if bad:
            raise InputError(f"{', '.join(bad)} {'needs' if len(bad) == 1 else 'need'} "
                             f"--weights (the MVM core deck: pycim netlist core --weights W.npy)")
        article = "a cell" if args.kind == "cell" else "an array"
        if args.kind in ("cell", "array"):
            _refuse(given, ("driver", "direction"), f"to {article} netlist (a core's line "
                                                    f"drivers and direction)",
                    ", or use `pycim netlist core`")
        if args.kind == "cell":
            _refuse(given, ("rows", "cols"), "to a cell netlist (one cell)",
                    ", or use `pycim netlist array`")
        if args.kind in ("cell", "array") and args.access == "ideal":
            _refuse(given, ("corner",), f"to {article} netlist with --access ideal (no "
                                        f"transistor in it then)")
        return
    # with --weights the core is the one `pycim mvm` simulates for W
    _refuse(given, ("rows", "cols", "cell", "access", "driver", "name", "wire_r_ohm_per_um"),
            "with --weights (the core is the one `pycim mvm` simulates for W: its size is "
            "W's shape; --ideal for the closed-form reference)")
    if args.x is None:
        _refuse(given, ("in_bits", "out_bits", "phases"),
                "without --x (without an input vector the deck is the core's DC operating "
                "point, not the MVM transient)", ", or add --x X.npy")
        return
    from .cim.phases import TWO_PHASE_FROM_IN_BITS, default_phases

    in_bits = NETLIST_DEFAULTS["in_bits"] if args.in_bits is None else args.in_bits
    if args.phases == 2:
        raise InputError("--phases 2: a two-phase MVM is two transients whose codes pycim "
                         "shift-adds; a deck holds one: run it with `pycim mvm`, or write "
                         "the one-phase deck (--phases 1)")
    if args.phases is None and default_phases(in_bits) == 2:
        raise InputError(f"--in-bits {in_bits}: `pycim mvm` runs two phases from --in-bits "
                         f"{TWO_PHASE_FROM_IN_BITS} (two transients, shift-added), and a deck is "
                         f"one transient: add --phases 1 for the one-phase MVM deck (what "
                         f"`pycim mvm --phases 1` simulates)")


def _prepare_netlist(args, outs, parser):
    import shlex

    from . import assumptions
    from .netlist import reference
    from .resources import check_disk, netlist_file_b

    _check_netlist_options(args)
    if args.all or args.check:
        if args.check:
            return lambda: 1 if reference.check_all() else 0
        return lambda: (reference.regenerate_all(), 0)[1]
    for k, v in NETLIST_DEFAULTS.items():  # what was not given
        if getattr(args, k) is None:
            setattr(args, k, v)
    from .files import load_npy

    outs.inputs += [(k, v) for k, v in (("--weights", args.weights), ("--x", args.x)) if v]
    weights = None if args.weights is None else load_npy(args.weights, "--weights")
    x = None if args.x is None else load_npy(args.x, "--x")
    req = reference.NetlistRequest(
        args.kind, rows=args.rows, cols=args.cols, corner=args.corner, temp_c=args.temp_c,
        name=args.name,
        wire_r_ohm_per_um=(assumptions.value("wire_r_ohm_per_um") if args.wire_r_ohm_per_um is None
                           else args.wire_r_ohm_per_um),
        cell=args.cell, access=args.access, driver=args.driver, direction=args.direction,
        seed=args.seed, weights=weights, x=x, in_bits=args.in_bits, out_bits=args.out_bits,
        mapping=args.mapping, ideal=args.ideal, wire_segment_cells=args.wire_segment_cells)
    if args.standalone:  # DIR/NAME.cir and the files beside it, every one reserved now
        from .flows.decks import deck_circuit
        from .sim.standalone import deck_name, reserve_standalone

        deck_name(args.output)
        prepared = deck_circuit(req)
        reserved = reserve_standalone(prepared[0], args.output, outs)
        o = None
    else:
        o = outs.file(args.output, "-o")
    rows, cols = req.rows, req.cols
    if weights is not None:  # the core's size is W's (row pairs; 2 x 2 cells if transposable)
        rows, cols = 2 * weights.shape[0], weights.shape[1] * (
            2 if args.mapping == "transposable" else 1)
    check_disk(args.output, netlist_file_b(req.kind, rows, cols), "-o")

    def work() -> int:
        if o is None:
            from .flows.decks import write_deck

            paths = write_deck(req, args.output, standalone=True, reserved=reserved,
                               prepared=prepared)
            for p in paths:
                print(f"wrote {p}")
            print(f"run: cd {shlex.quote(str(paths[-1].parent))} && ngspice -b "
                  f"{shlex.quote(paths[-1].name)}")
            return 0
        from .netlist.writer import netlist_lines

        with o.open("w", encoding="ascii") as f:
            for line in netlist_lines(req.circuit(), req.temp_c):
                f.write(line)
                f.write("\n")
        print(f"wrote {args.output}")
        return 0
    return work


def _prepare_fit(args, outs):
    from .fit import prepare_fit

    return prepare_fit(args.results, args.output, args.verilog_a, args.weights, args.seed, outs,
                       tuple(args.drop_term or ()), args.line_size_weight, args.polarity_terms)


def _prepare_report(args, outs):
    from .report.cli import prepare_report

    return prepare_report(args.out, args.results, args.resimulate, args.jobs, outs)


def _prepare_demo(args, outs):
    from .files import check_output_dir

    check_output_dir(args.out, "--out")

    def work() -> int:
        if args.which == "digits":
            from .demo_digits import run_digits

            run_digits(args.out)
            return 0
        from .demo import run_demo

        run_demo(args.out)
        return 0
    return work


def _prepare_doctor(args, outs):
    from .doctor import doctor

    return doctor


def _on_sigterm(signum, frame):
    from .errors import Terminated

    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    prepare = {"doctor": _prepare_doctor, "demo": _prepare_demo, "mvm": _prepare_mvm,
               "sweep": _prepare_sweep, "fit": _prepare_fit, "report": _prepare_report,
               "netlist": lambda a, o: _prepare_netlist(a, o, parser)}[args.command]
    try:  # SIGTERM is Ctrl-C: stop, clean up (temp files, simulators, pool workers)
        old_term = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        old_term = None
    import warnings

    def one_line(message, category, filename, lineno, file=None, line=None):
        print(f"pycim {args.command}: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line  # a warning is one line, like an error
            return _run_phases(args, prepare)
    except PycimError as exc:
        if args.debug:
            raise
        msg = str(exc)
        print(f"pycim {args.command}: error: {msg}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except OSError as exc:  # the environment failed us (disk full, permissions): one line
        if args.debug:
            raise
        print(f"pycim {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        from .errors import Terminated

        term = isinstance(exc, Terminated)
        print(f"pycim {args.command}: interrupted{' (SIGTERM)' if term else ''}; nothing "
              f"written (a sweep resumes from its cache)", file=sys.stderr)
        return 143 if term else 130
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

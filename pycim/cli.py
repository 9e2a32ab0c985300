"""``pycim`` command line. Thin: parses arguments and calls the stages; no physics here."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import InputError, PycimError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pycim", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"pycim {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("doctor", help="check the toolchain: versions and capability probes")

    d = sub.add_parser("demo", help="run the main job on a small default, with plots")
    d.add_argument("--out", default="out/demo", help="output directory (default: out/demo)")

    n = sub.add_parser("netlist", help="generate cell / array / core netlists",
                       description="Generate a netlist, or regenerate/check the reference set.")
    n.add_argument("kind", nargs="?", choices=("cell", "array", "core"))
    n.add_argument("--rows", type=int, default=16, help="physical rows (even; default 16)")
    n.add_argument("--cols", type=int, default=16, help="columns (default 16)")
    n.add_argument("--corner", default="tt", help="tt, ff, ss, sf or fs (default tt)")
    n.add_argument("--temp-c", type=float, default=27.0, help="temperature in C (default 27)")
    n.add_argument("--name", default=None, help="identifier written into the netlist title")
    n.add_argument("--wire-r-ohm-per-um", type=float, default=None,
                   help="wire resistance per um (default: pycim.assumptions; 0 = ideal wires)")
    n.add_argument("--cell", choices=("rram", "rram_read", "linear"), default="rram",
                   help="rram (stateful), rram_read (state frozen: reads) or linear")
    n.add_argument("--access", choices=("sky130", "ideal"), default="sky130")
    n.add_argument("--driver", choices=("sky130", "ideal"), default="sky130")
    n.add_argument("--direction", choices=("forward", "backward"), default="forward")
    n.add_argument("--seed", type=int, default=0, help="seed of the random weights/inputs")
    n.add_argument("-o", "--output", help="output file")
    n.add_argument("--all", action="store_true", help="regenerate the reference netlists in netlists/")
    n.add_argument("--check", action="store_true",
                   help="exit 1 naming each committed reference netlist that differs from a fresh one")
    return p


def _netlist(args, parser) -> int:
    from .netlist import reference

    if args.all or args.check:
        if args.kind or args.output:
            parser.error("--all/--check take no KIND or -o")
        if args.check:
            bad = reference.check_all()
            return 1 if bad else 0
        reference.regenerate_all()
        return 0
    if not args.kind or not args.output:
        parser.error("netlist needs KIND and -o FILE (or --all / --check)")
    from . import assumptions

    req = reference.NetlistRequest(
        args.kind, rows=args.rows, cols=args.cols, corner=args.corner, temp_c=args.temp_c,
        name=args.name,
        wire_r_ohm_per_um=(assumptions.value("wire_r_ohm_per_um") if args.wire_r_ohm_per_um is None
                           else args.wire_r_ohm_per_um),
        cell=args.cell, access=args.access, driver=args.driver, direction=args.direction,
        seed=args.seed)
    path = req.write(args.output)
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "doctor":
            from .doctor import doctor

            return doctor()
        if args.command == "demo":
            from .demo import run_demo

            run_demo(args.out)
            return 0
        if args.command == "netlist":
            return _netlist(args, parser)
        parser.error(f"unknown command {args.command}")
    except PycimError as exc:
        if args.debug:
            raise
        msg = str(exc)
        print(f"pycim {args.command}: error: {msg}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except KeyboardInterrupt:
        print("pycim: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

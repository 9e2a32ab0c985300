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
    return p


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

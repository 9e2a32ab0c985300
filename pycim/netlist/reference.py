"""Netlists built from command-line style parameters, and the committed reference set."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import assumptions, toolchain
from ..errors import InputError
from ..cim.mapping import interleave_rows, weights_to_conductances
from .array import IDEAL_ACCESS, IDEAL_WIRES, AccessSpec, ArraySpec, WireSpec, dc_drive_circuit
from .circuit import Circuit
from .core import CoreSpec, assemble_core
from .neuron import NeuronSpec, mvm_schedule
from .stimulus import add_dc_stimulus
from ..validate import ident, integer, number
from .writer import netlist_digest, write_netlist
from ..tech.corners import CORNERS

KINDS = ("cell", "array", "core")
NETLISTS_DIR = toolchain.ROOT / "netlists"


@dataclass(frozen=True)
class NetlistRequest:
    """What ``pycim netlist KIND ...`` asks for (validated)."""

    kind: str
    rows: int = 16
    cols: int = 16
    corner: str = "tt"
    temp_c: float = 27.0
    name: str | None = None
    wire_r_ohm_per_um: float = assumptions.value("wire_r_ohm_per_um")
    cell: str = "rram"
    access: str = "sky130"
    driver: str = "sky130"
    direction: str = "forward"
    seed: int = 0
    #: with ``weights`` (core only) the deck is the core ``pycim mvm`` simulates for these
    #: weights (programmed with ``seed``): a DC deck, or with ``x`` (one input vector) the MVM
    #: transient deck of that vector
    weights: np.ndarray | None = field(default=None, compare=False, repr=False)
    x: np.ndarray | None = field(default=None, compare=False, repr=False)
    in_bits: int = 4
    out_bits: int = 6
    mapping: str = "row_pair"
    ideal: bool = False
    wire_segment_cells: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"netlist kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.corner not in CORNERS:
            raise InputError(f"--corner must be one of {', '.join(CORNERS)}, got {self.corner!r}")
        number(self.temp_c, "--temp-c", lo=-55.0, hi=150.0)
        number(self.wire_r_ohm_per_um, "--wire-r-ohm-per-um", lo=0.0, hi=1e4)
        for k in ("rows", "cols"):
            integer(getattr(self, k), f"--{k}", 1, 256)
        if self.kind != "cell" and self.rows % 2:
            raise InputError(f"--rows must be even (signed weights use G+/G- row pairs), got {self.rows}")
        if self.kind == "core" and (self.rows % 16 or self.cols % 16):
            raise InputError(f"core --rows/--cols must be multiples of 16 (corelets), "
                             f"got {self.rows} x {self.cols}")
        if self.name is not None:
            ident(self.name, "--name")
        if self.seed < 0:
            raise InputError(f"--seed must be >= 0, got {self.seed}")
        if self.weights is None:
            if self.x is not None:
                raise InputError("--x needs --weights")
            return
        if self.kind != "core":
            raise InputError("--weights builds a core deck: use `pycim netlist core`")
        if self.x is not None:
            x = np.asarray(self.x)
            if x.ndim == 2 and x.shape[0] != 1:
                raise InputError(f"--x: a deck simulates one input vector, got a batch of "
                                 f"{x.shape[0]} (write one deck per vector)")
        self.mvm_request()  # validates weights, x, bits, mapping, corner

    def mvm_request(self):
        """The ``pycim mvm`` request this deck reproduces (``weights`` given)."""
        from ..cim.request import MvmRequest

        w = np.asarray(self.weights)
        n_drive = w.shape[0] if self.direction == "forward" else (
            w.shape[1] if w.ndim == 2 else 0)
        x = np.zeros(max(n_drive, 1), dtype=np.int64) if self.x is None else np.asarray(self.x)
        return MvmRequest(w, x, in_bits=self.in_bits, out_bits=self.out_bits,
                          direction=self.direction, engine="spice", ideal=self.ideal,
                          corner=self.corner, temp_c=self.temp_c, seed=self.seed,
                          mapping=self.mapping, wire_segment_cells=self.wire_segment_cells,
                          phases=1)  # a deck is one transient: one phase

    def mvm_core(self):
        """(CoreCircuit, MvmSetup) of the MVM deck (``weights`` given)."""
        from .mvm_deck import mvm_dc_deck, mvm_deck, mvm_setup

        req = self.mvm_request()
        setup = mvm_setup(req)
        core = mvm_dc_deck(req, setup) if self.x is None else mvm_deck(req, setup, 0)
        return core, setup

    def circuit(self) -> Circuit:
        if self.weights is not None:
            return self.mvm_core()[0].circuit
        rows, cols = (1, 1) if self.kind == "cell" else (self.rows, self.cols)
        rng = np.random.default_rng(self.seed)
        if self.kind == "cell":
            g = np.array([[20e-6]])
        else:
            gp, gn = weights_to_conductances(rng.uniform(-1, 1, (rows // 2, cols)))
            g = interleave_rows(gp, gn)
        access = IDEAL_ACCESS if self.access == "ideal" else AccessSpec(corner=self.corner)
        wire = (IDEAL_WIRES if self.wire_r_ohm_per_um == 0
                else WireSpec(r_ohm_per_um=self.wire_r_ohm_per_um))
        spec = ArraySpec(g, cell=self.cell, access=access, wire=wire,
                         name=self.name or self.kind)
        v_ref, v_read = assumptions.value("v_ref_v"), spec.v_read_v
        if self.kind in ("cell", "array"):
            signs = np.where(rng.uniform(size=rows) < 0.5, -1.0, 1.0)
            c = dc_drive_circuit(spec, v_ref + signs * v_read)
            if self.kind == "cell":  # a cell alone: hold its SL at Vref so the read current flows
                from .circuit import VSource

                c.add(VSource("VSL", "sl0", "0", dc_v=v_ref))
            return c
        nspec = NeuronSpec(corner=self.corner)
        core = CoreSpec(spec, driver=self.driver, direction=self.direction, corner=self.corner,
                        neuron=nspec)
        states = {ln: ("p" if rng.uniform() < 0.5 else "n") for ln in core.drive_lines}
        cc = assemble_core(core)
        add_dc_stimulus(cc, states, sched=mvm_schedule(nspec, 4, 6))
        return cc.circuit

    def write(self, path: str | Path) -> Path:
        return write_netlist(self.circuit(), path, temp_c=self.temp_c)


#: The committed reference netlists under netlists/ (regenerated by `pycim netlist --all`).
REFERENCE = {
    "cell.cir": NetlistRequest("cell"),
    "array_16x16.cir": NetlistRequest("array", 16, 16),
    "core_16x16.cir": NetlistRequest("core", 16, 16),
    "core_256x256.cir": NetlistRequest("core", 256, 256),
}


def regenerate_all(directory: Path = NETLISTS_DIR, echo=print) -> list[Path]:
    out = []
    for fname, req in REFERENCE.items():
        out.append(req.write(directory / fname))
        echo(f"wrote {directory / fname}")
    return out


def check_all(directory: Path = NETLISTS_DIR, echo=print, names=None) -> list[str]:
    """Names of committed reference netlists that differ from a fresh generation (or are missing).

    ``names``: only these reference netlists (default: all of :data:`REFERENCE`)."""
    import hashlib

    if names is not None:
        unknown = sorted(set(names) - set(REFERENCE))
        if unknown:
            raise InputError(f"not reference netlists: {unknown}; known: {sorted(REFERENCE)}")
    bad = []
    for fname, req in REFERENCE.items():
        if names is not None and fname not in names:
            continue
        path = directory / fname
        if not path.is_file():
            bad.append(fname)
            echo(f"MISSING {path}")
            continue
        fresh = netlist_digest(req.circuit(), temp_c=req.temp_c)
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != fresh:
            bad.append(fname)
            echo(f"DIFFERS {path}: regenerate with `pycim netlist --all`")
        else:
            echo(f"ok {path}")
    return bad

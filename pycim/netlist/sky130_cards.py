"""SPICE output for SKY130 FETs: flat cards as netlist objects, and the PDK's own subcircuits.

:class:`pycim.tech.sky130.FetCard` is a pure data object (name, parameters, device, corner,
geometry); this module writes it: :func:`card_model` (the ``.model`` card), :func:`card_mosfet`
(an instance), :func:`card_instance_line` (an instance line for a deck with ``.option scale``),
:func:`card_lines` (the ``.model`` line as written). For validation against the PDK itself,
:func:`library_lines` loads a corner of the library and :func:`subckt_instance_text`
instantiates the original subcircuit. Every name, node and path written is validated; a path
that cannot be quoted safely is refused.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..tech import sky130_pdk as pdk
from ..tech.sky130 import FetCard
from ..validate import fmt, ident, node, number
from .circuit import Circuit, Model, Mosfet, ngspice_lines


@functools.lru_cache(maxsize=1024)
def card_model(card: FetCard) -> Model:
    """The card as a :class:`~pycim.netlist.circuit.Model` (kind ``nmos``/``pmos``).

    Cached: the neuron generator asks for it once per transistor (measured: 614 calls, 4.6 s of
    a 16 x 16 MVM's 10 s netlist build, before caching)."""
    return Model.of(card.model_name, card.polarity, dict(card.model_params))


#: instance parameters at BSIM4's own default, not written (the same device: a 32 x 32 1T1R
#: DC op gives every node voltage and branch current bit for bit with and without ``nf=1``).
#: Each written parameter costs ngspice's front end: on a 256 x 256 1T1R deck ``nf=1`` alone
#: took about 2 s of its 12 s (``benchmarks/dc_op_profile.py``). Zero ``ad``/``as``/``pd``/``ps``
#: are NOT defaults ("not given" makes BSIM4 estimate them), so they stay.
BSIM4_INSTANCE_DEFAULTS = {"nf": 1.0}


def card_mosfet(card: FetCard, name: str, d: str, g: str, s: str, b: str,
                op_guess_v: tuple[float, float, float] | None = None) -> Mosfet:
    """An instance of ``card`` (``name`` must start with ``M``; nodes drain, gate, source,
    bulk), with the card's SI geometry and instance parameters, less those at BSIM4's own
    default (:data:`BSIM4_INSTANCE_DEFAULTS`), and ``op_guess_v`` (``Mosfet.op_guess_v``)."""
    params = tuple((k, v) for k, v in card.instance_params
                   if BSIM4_INSTANCE_DEFAULTS.get(k) != v)
    return Mosfet(name, d, g, s, b, card.model_name, card.w_m, card.l_m, params, op_guess_v)


def card_instance_line(card: FetCard, name: str, d: str, g: str, s: str, b: str, *,
                       scale: float = 1.0) -> str:
    """The ngspice instance line for a deck in which ``.option scale=<scale>`` is active.

    ngspice multiplies an instance's ``w``/``l``/``pd``/``ps`` by the scale and ``ad``/``as``
    by its square (BSIM4 ``b4par.c``), so a flat card placed in a deck that also loads the PDK
    library (which sets ``scale=1.0u``) must be written in those units. With ``scale=1`` this
    is the line :func:`~pycim.netlist.circuit.ngspice_lines` writes.
    """
    sc = number(scale, "scale", lo=0.0, lo_open=True)
    m = card_mosfet(card, name, d, g, s, b)  # validates the names
    parts = [m.name, m.d, m.g, m.s, m.b, m.model, f"w={fmt(m.w_m / sc)}",
             f"l={fmt(m.l_m / sc)}"]
    for k, v in m.params:
        parts.append(f"{k}={fmt(v / sc ** pdk.SCALE_POWER.get(k, 0))}")
    return " ".join(parts)


def card_lines(card: FetCard) -> Iterator[str]:
    """The ngspice ``.model`` line of a card, as :func:`~pycim.netlist.circuit.ngspice_lines`
    writes it (for inspection and determinism checks)."""
    c = Circuit("card")
    c.add_model(card_model(card))
    yield from (ln for ln in ngspice_lines(c) if ln.startswith(".model"))


def _safe_path(p: Path) -> str:
    s = str(p)
    if any(ch in s for ch in ('"', "'", "\n", "\r", "\\")) or "\x00" in s:
        raise InputError(f"path {s!r} cannot be written into a netlist")
    return s


def library_lines(corner: str = "tt", *, expand: bool = False) -> list[str]:
    """Deck lines that load the corner: ``.lib "<path>" <corner>``.

    With ``expand=True``, the body of that ``.lib`` section instead: its ``.param`` lines and its
    ``.include`` lines with absolute paths. ngspice 46 loads the expanded form in ~0.15 s
    but takes ~20 s over the ``.lib`` statement (it reads every section of the library).
    """
    corner = pdk.check_corner(corner)
    if not expand:
        return [f'.lib "{_safe_path(pdk.library_path())}" {corner}']
    out = []
    for kind, val in pdk.section_statements(corner):
        if kind == "include":
            out.append(f'.include "{_safe_path(val)}"')
        else:
            if any(ch in val for ch in ('"', "\n", "\r")) or ".control" in val.lower():
                raise InputError(f"unexpected text in library line {val[:60]!r}")
            out.append(val)
    return out


def subckt_instance_text(device: str, w_m: float, l_m: float, corner: str = "tt", *,
                         name: str = "X1", nodes: tuple[str, str, str, str] = ("d", "g", "s", "b"),
                         nf: int = 1, expand_lib: bool = False, include_lib: bool = True) -> str:
    """Lines instantiating the ORIGINAL PDK subcircuit in ngspice (for validation).

    The ``.lib`` line (see :func:`library_lines`; ``include_lib=False`` leaves it out, for a
    second instance in the same deck) and ``X<name> d g s b sky130_fd_pr__<device> w=.. l=..``
    with ``w``/``l`` in microns, because the library sets ``.option scale=1.0u``. For ``nf > 1``
    the lines add ``.options wnflag=1`` so that ngspice bins on the width per finger, as
    :func:`pycim.tech.sky130.flat_card` does (the PDK's intent; its spinit sets
    ``ngbehavior=hsa``).
    """
    device, corner = pdk.check_device(device), pdk.check_corner(corner)
    w, l_, nf = pdk.norm_geometry(w_m, l_m, nf)
    ident(name, "instance name")
    if name[0].upper() != "X":
        raise InputError(f"subcircuit instance name {name!r} must start with 'X'")
    if len(nodes) != 4:
        raise InputError("nodes must be (d, g, s, b)")
    for n in nodes:
        node(n)
    lines = library_lines(corner, expand=expand_lib) if include_lib else []
    if nf != 1:
        lines.append(".options wnflag=1")
    inst = (f"{name} {' '.join(nodes)} {pdk.PREFIX}{device} w={fmt(round(w * 1e6, 9))} "
            f"l={fmt(round(l_ * 1e6, 9))}")
    if nf != 1:
        inst += f" nf={nf}"
    lines.append(inst)
    return "\n".join(lines)


def clear_caches() -> None:
    """Forget parsed PDK files, cards and their netlist models."""
    from ..tech import sky130

    sky130.clear_caches()
    card_model.cache_clear()


__all__ = ["card_instance_line", "card_lines", "card_model", "card_mosfet", "clear_caches",
           "library_lines", "subckt_instance_text"]

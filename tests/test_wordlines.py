"""Word-line levels of the MVM core (issue 17): the WL inverters run between two rails of their
own, at the paper's 0.9 / 2.2 V by default (pycim.assumptions), and the core spec validates
them. The WL energy from both rails is checked in tests/test_energy_independent.py."""

from __future__ import annotations

import numpy as np
import pytest

from pycim import assumptions
from pycim.cim.request import MvmRequest
from pycim.errors import InputError
from pycim.netlist.array import ArraySpec
from pycim.netlist.circuit import ngspice_lines
from pycim.netlist.core import CoreSpec
from pycim.netlist.mvm_deck import mvm_deck, mvm_setup


def _deck_lines() -> list[str]:
    rng = np.random.default_rng(3)
    req = MvmRequest(rng.uniform(-1, 1, (2, 3)), np.array([[1, -1]]), 2, 4)
    core = mvm_deck(req, mvm_setup(req), 0)
    return [ln for ln in ngspice_lines(core.circuit) if ln and not ln.startswith("*")]


def test_mvm_deck_wl_rails_are_the_papers_levels():
    """The generated MVM deck holds a 2.2 V and a 0.9 V WL rail (the paper's 0.9 <-> 2.2 V,
    written here, not read from the code), each WL inverter's pMOS source on the high rail and
    nMOS source on the low rail, and no WL inverter to ground."""
    assert assumptions.value("v_wl_read_v") == 2.2
    assert assumptions.value("v_wl_low_v") == 0.9
    lines = _deck_lines()
    src = {ln.split()[0].upper(): ln.split() for ln in lines if ln.upper().startswith("VWL")}
    assert set(src) == {"VWLH", "VWLL"}
    for name, net, level in (("VWLH", "vwlh", 2.2), ("VWLL", "vwll", 0.9)):
        tok = src[name]
        assert tok[1] == net and tok[2] == "0", tok
        assert [t.lower() for t in tok[3:4]] == ["dc"] and len(tok) == 5, tok  # a DC rail
        assert float(tok[4]) == pytest.approx(level, abs=1e-12), tok
    # Mosfet lines: name drain gate source bulk model ...
    inv = [ln.split() for ln in lines if ln.upper().startswith(("MWP", "MWN"))]
    rows = 4  # 2 signed inputs -> 4 physical rows (row pairs)
    assert len(inv) == 2 * rows
    for tok in inv:
        r = tok[0][3:]
        assert tok[1] == f"wl{r}" and tok[2] == f"wc{r}", tok
        if tok[0].upper().startswith("MWP"):
            assert tok[3] == "vwlh" and tok[4] == "vwlh", tok
        else:
            assert tok[3] == "vwll" and tok[4] == "0", tok


def test_core_spec_validates_wl_levels():
    """Levels are fields of the core spec: low below high, both within the 5 V device's range;
    a user value reaches the deck's rails."""
    arr = ArraySpec(np.full((2, 2), 10e-6))
    with pytest.raises(InputError, match="v_wl_low_v"):
        CoreSpec(arr, v_wl_v=1.0, v_wl_low_v=1.2)
    with pytest.raises(InputError, match="v_wl_low_v"):
        CoreSpec(arr, v_wl_v=1.0, v_wl_low_v=1.0)
    with pytest.raises(InputError, match="v_wl_v"):
        CoreSpec(arr, v_wl_v=5.6)
    with pytest.raises(InputError, match="v_wl_low_v"):
        CoreSpec(arr, v_wl_low_v=-0.1)
    with pytest.raises(InputError, match="wl_nfet_w_um"):
        CoreSpec(arr, wl_nfet_w_um=0.0)
    from pycim.netlist.core import assemble_core

    core = assemble_core(CoreSpec(arr, v_wl_v=3.0, v_wl_low_v=0.5))
    text = "\n".join(ngspice_lines(core.circuit))
    assert "VWLH vwlh 0" in text and "VWLL vwll 0" in text
    assert core.groups["vwlh"] == core.groups["vwll"] == "wordlines"


def test_driver_pfet_width_reaches_the_deck():
    """The line drivers' TG widths: the pFET card follows ``switch_p_w_um`` and the nFET's
    ``switch_w_um`` independently (the pFET carries the Vref + Vread rail's current); the
    digest tells the two apart; a bad width is refused."""
    from pycim.netlist.core import assemble_core, core_digest

    arr = ArraySpec(np.full((2, 2), 10e-6))

    def models(spec):
        return {ln.split()[1] for ln in ngspice_lines(assemble_core(spec).circuit)
                if ln.startswith(".model") and "01v8" in ln.split()[1]}

    assert models(CoreSpec(arr, switch_w_um=20, switch_p_w_um=100)) == {
        "nfet_01v8__tt__w20__l0p15", "pfet_01v8__tt__w100__l0p15"}
    assert models(CoreSpec(arr, switch_w_um=10, switch_p_w_um=10)) == {
        "nfet_01v8__tt__w10__l0p15", "pfet_01v8__tt__w10__l0p15"}
    assert (core_digest(CoreSpec(arr, switch_p_w_um=100))
            != core_digest(CoreSpec(arr, switch_p_w_um=50)))
    with pytest.raises(InputError, match="switch_p_w_um"):
        CoreSpec(arr, switch_p_w_um=0.0)

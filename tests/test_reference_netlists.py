"""Committed reference netlists: up to date, and they simulate in both engines."""

import shutil

import numpy as np
import pytest

from pycim.netlist import reference
from pycim.sim import Op

SMALL = [k for k in reference.REFERENCE if "256" not in k]


def test_committed_netlists_are_current():
    """`pycim netlist --check`: CI fails when a generator change was not regenerated."""
    assert reference.check_all(echo=lambda s: None) == []


def test_check_names_a_stale_file(tmp_path):
    for f in reference.REFERENCE:
        shutil.copy(reference.NETLISTS_DIR / f, tmp_path / f)
    p = tmp_path / "array_16x16.cir"
    p.write_text(p.read_text().replace("VB0 bl0 0 dc", "VB0 bl0 0 dc 0.1 *", 1))
    (tmp_path / "cell.cir").unlink()
    msgs = []
    assert sorted(reference.check_all(tmp_path, echo=msgs.append)) == ["array_16x16.cir", "cell.cir"]
    assert any("DIFFERS" in m and "array_16x16.cir" in m for m in msgs)


@pytest.mark.parametrize("fname", SMALL)
def test_reference_netlist_runs_in_ngspice_and_vacask(fname, ngspice, vacask):
    text = (reference.NETLISTS_DIR / fname).read_text()
    ng = ngspice.run(text, Op())  # the file itself, as committed
    vc = vacask.run(reference.REFERENCE[fname].circuit(), Op())
    nodes = [n for n in ng.names if n.startswith(("sl", "bl")) and n[2:].isdigit()]
    assert nodes
    a = np.array([ng.value(n) for n in nodes])
    b = np.array([vc.value(n) for n in nodes])
    # two simulators, two BSIM4 versions (ngspice runs the PDK's 4.5, VACASK 4.8)
    np.testing.assert_allclose(a, b, atol=2e-4)
    assert np.all((a > 0.75) & (a < 1.05))  # sensed lines sit between the rails

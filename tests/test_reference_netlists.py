"""Committed reference netlists: up to date, and they simulate in both engines."""

import shutil

import numpy as np
import pytest

from pycim import assumptions
from pycim.errors import InputError
from pycim.netlist import reference
from pycim.sim import Op

SMALL = [k for k in reference.REFERENCE if "256" not in k]


def test_committed_netlists_are_current():
    """`pycim netlist --check`: CI fails when a generator change was not regenerated."""
    assert reference.check_all(echo=lambda s: None) == []


def test_check_names_a_stale_file(tmp_path):
    """An edited file, a missing one and an untouched one (three of the references: the check
    of all of them is the test above)."""
    names = ["array_16x16.cir", "cell.cir", "core_16x16.cir"]
    assert set(names) <= set(reference.REFERENCE)
    for f in names:
        shutil.copy(reference.NETLISTS_DIR / f, tmp_path / f)
    p = tmp_path / "array_16x16.cir"
    p.write_text(p.read_text().replace("VB0 bl0 0 dc", "VB0 bl0 0 dc 0.1 *", 1))
    (tmp_path / "cell.cir").unlink()
    msgs = []
    assert sorted(reference.check_all(tmp_path, echo=msgs.append, names=names)) == [
        "array_16x16.cir", "cell.cir"]
    assert any("DIFFERS" in m and "array_16x16.cir" in m for m in msgs)
    assert any(m.startswith("ok ") and "core_16x16.cir" in m for m in msgs)
    with pytest.raises(InputError, match="not reference netlists"):
        reference.check_all(tmp_path, names=["nope.cir"])


@pytest.mark.parametrize("fname", SMALL)
def test_reference_netlist_runs_in_ngspice_and_vacask(fname, ngspice, vacask):
    text = (reference.NETLISTS_DIR / fname).read_text()
    ng = ngspice.run(text, Op())  # the file itself, as committed
    vc = vacask.run(reference.REFERENCE[fname].circuit(), Op())
    nodes = [n for n in ng.names if n.startswith(("sl", "bl")) and n[2:].isdigit()]
    assert nodes
    a = np.array([ng.value(n) for n in nodes])
    b = np.array([vc.value(n) for n in nodes])
    # two simulators, two BSIM4 versions (ngspice runs the PDK's 4.5, VACASK 4.8): 0.2 mV
    # + 1e-3 v_read, as tests/test_held_out.py
    v_ref, v_read = assumptions.value("v_ref_v"), assumptions.value("v_read_v")
    np.testing.assert_allclose(a, b, atol=0.2e-3 + 1e-3 * v_read)
    # driven lines on the rails Vref +- v_read, sensed lines between them
    assert np.all((a > v_ref - v_read - 1e-6) & (a < v_ref + v_read + 1e-6))
    assert np.any(np.abs(a - v_ref) > 0.9 * v_read)  # the rails are there

"""The programming error program() applies comes from the simulated write-verify results."""

import json

import numpy as np
import pandas as pd
import pytest

from pycim.characterize.write_verify import fit_programming_error
from pycim.cim.programming import program, programming_error
from pycim.toolchain import ROOT

WV_DIR = ROOT / "characterization" / "results" / "write_verify"
PACKAGED = ROOT / "pycim" / "data" / "programming_error.json"


def _same_tree(a, b, rel=1e-9):
    """Equal nested JSON values, floats to ``rel`` (the last digits of a least-squares fit
    follow the machine's BLAS; a refit with other data moves them by far more)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same_tree(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(
            _same_tree(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=rel, abs=1e-300)
    return a == b


def test_packaged_error_is_the_fit_of_the_committed_write_verify_results():
    fitted = fit_programming_error(WV_DIR)
    packaged = json.loads(PACKAGED.read_text())
    assert _same_tree(fitted, packaged), (fitted, packaged)
    # the comparison can fail: a 1e-6 relative change in one fitted value is caught
    moved = json.loads(PACKAGED.read_text())
    moved["fit"]["mean_slope"] *= 1 + 1e-6
    assert not _same_tree(fitted, moved)


def test_program_draws_the_simulated_final_g_errors():
    """program() errors at the simulated targets have the write-verify runs' mean and spread
    (the raw final errors from summary.csv, not the fit), stay within +-1 uS, and are seeded."""
    s = pd.read_csv(WV_DIR / "summary.csv")
    s = s[(s.refine_factor == 0.5) & s.converged]
    err = s["err_us"].to_numpy() * 1e-6
    assert len(err) >= 40 and np.all(np.abs(err) <= 1e-6)
    # weights whose targets are the simulated targets: w in [0, 1] -> G+ from 1 to 40 uS
    pe = programming_error()
    targets = s["target_us"].to_numpy() * 1e-6
    rng = np.random.default_rng(0)
    u = rng.random((400, targets.size))
    e = pe.sample_s(np.broadcast_to(targets, u.shape), u, 1e-6)
    assert np.all(np.abs(e) <= 1e-6)
    assert e.mean() == pytest.approx(err.mean(), abs=0.05e-6)
    assert e.std() == pytest.approx(err.std(), rel=0.05)
    w = np.random.default_rng(1).uniform(-1, 1, (16, 8))
    a, b = program(w, 7), program(w, 7)
    np.testing.assert_array_equal(a.g_pos_s, b.g_pos_s)
    t = program(w, 7, noise=False)
    d = np.concatenate([(a.g_pos_s - t.g_pos_s).ravel(), (a.g_neg_s - t.g_neg_s).ravel()])
    assert np.all(np.abs(d) <= 1e-6 + 1e-18) and np.std(d) > 0.3e-6
    assert not np.array_equal(program(w, 8).g_pos_s, a.g_pos_s)

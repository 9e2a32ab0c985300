"""Benchmark groups' own logic, without simulations: the held-out spread problem and the DC op
group's interleaved medians (benchmarks/fit_cases.py, benchmarks/groups.py)."""

import numpy as np
import pytest

from benchmarks import groups
from benchmarks.fit_cases import spread_problem


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("in_bits", [2, 4])
def test_spread_problem_pushes_every_output_one_way(direction, in_bits):
    """Every driven input moves each sensed output in that output's own direction (no
    cancellation), so an output's weighted sum is the sum of its terms' magnitudes; the
    outputs' scales are spread evenly over +-[0.1, 1] times the weights' [0.25, 0.75]."""
    w, x = spread_problem(128, 256, in_bits, direction, 320)
    assert w.shape == (128, 256)
    lim = 2 ** (in_bits - 1) - 1
    n_drive = 256 if direction == "backward" else 128
    assert x.shape == (1, n_drive) and np.abs(x).max() == lim
    terms = x[0][:, None] * w if direction == "forward" else (x[0][:, None] * w.T)
    # terms: (driven line, sensed output); one sign per sensed output
    total = terms.sum(axis=0)
    np.testing.assert_allclose(np.abs(total), np.abs(terms).sum(axis=0), rtol=1e-12)
    assert np.abs(w).min() >= 0.25 * 0.1 - 1e-12 and np.abs(w).max() <= 0.75 + 1e-12
    # the sensed outputs' scales: half of each sign, spread over the range
    scale = np.abs(w).mean(axis=0 if direction == "forward" else 1)
    assert scale.min() < 0.1 and scale.max() > 0.45
    assert abs(int((total > 0).sum()) - total.size // 2) <= total.size // 8
    # a different seed, a different problem; the same seed, the same one
    assert not np.array_equal(w, spread_problem(128, 256, in_bits, direction, 321)[0])
    np.testing.assert_array_equal(w, spread_problem(128, 256, in_bits, direction, 320)[0])


def test_dc_op_ratio_is_taken_on_interleaved_medians():
    """At 256 x 256 the crossbar and the 1T1R deck run DC_OP_REPEATS times, alternately; the
    ratio is the median 1T1R run's ngspice time over the median crossbar run's, with each
    pair's ratio and ngspice's counters' ratios beside it."""
    calls = []
    times = {"resistor": iter([6.0, 9.0, 6.5]), "rram_read": iter([27.0, 26.0, 31.0])}

    def run_case(case, **k):
        calls.append((case, k.get("n"), k.get("cell"), k.get("klu"), k.get("wire_r", True)))
        r = {"wall_s": 1.0, "child_peak_rss_b": 1, "ngspice_elapsed_s": 1.0}
        if k.get("counters"):
            r["ngspice_elapsed_s"] = next(times[k["cell"]])
            big = k["cell"] == "rram_read"
            r.update(front_end_s=10.0 if big else 4.0, solver_s=12.0 if big else 3.0,
                     load_s=1.0 if big else 0.05, iterations=6.0 if big else 3.0,
                     equations=590337.0 if big else 131329.0)
        return r

    figs, targets = groups.array_dc_op(run_case)
    at_256 = [c for c in calls if c[1] == 256 and c[4]]
    assert [c[2] for c in at_256[:2 * groups.DC_OP_REPEATS]] == \
        ["resistor", "rram_read"] * groups.DC_OP_REPEATS
    assert ("dc_op", 256, "rram_read", False, True) not in calls  # no Sparse 1.3 at 256
    r = figs["1t1r_wireR_256_klu"]
    assert r["ngspice_elapsed_s"] == 27.0 and figs["passive_wireR_256_klu"]["ngspice_elapsed_s"] == 6.5
    assert r["ratio_to_passive"] == pytest.approx(27.0 / 6.5)
    assert r["ratio_runs"] == pytest.approx([27 / 6, 26 / 9, 31 / 6.5])
    assert r["ngspice_elapsed_runs_s"] == [27.0, 26.0, 31.0]
    assert r["ratio_equations"] == pytest.approx(590337 / 131329)
    assert r["ratio_iterations"] == 2.0 and r["ratio_solver"] == 4.0
    ratio = [t for t in targets if "native-resistor" in t["what"]][0]
    assert ratio["value"] == pytest.approx(27.0 / 6.5) and not ratio["met"]
    assert "1t1r_wireR_64_sparse" in figs and "ratio_runs" not in figs["1t1r_wireR_64_klu"]

"""Benchmark groups' own logic, without simulations: the spread problem (held out in the
benchmarks, fitted on in characterization/fit_spread.toml) and the DC op group's interleaved
medians (pycim/characterize/kinds_fit.py, benchmarks/fit_cases.py, benchmarks/groups.py)."""

import numpy as np
import pytest

from benchmarks import groups
from pycim.characterize.kinds_fit import problem, spread_problem


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


def _point(**kw):
    return {"n_in": 128, "n_out": 256, "in_bits": 4, "out_bits": 6, "w_scale": 1.0,
            "batch": 1, "seed": 30, "direction": "backward", "density": 1.0,
            "spread": True, **kw}


def test_fit_points_and_benchmarks_share_the_spread_problem():
    """An ``mvm_fit`` point with ``spread = true`` is :func:`spread_problem` of its seed (the
    fit recomputes it from the point's keys), weights times ``w_scale``; it is one vector, so
    a batch or a density is refused, not silently dropped."""
    w, x = problem(_point(w_scale=0.5))
    w0, x0 = spread_problem(128, 256, 4, "backward", 30)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(w, 0.5 * w0, rtol=0, atol=0)
    w1, _ = problem(_point(spread=False))  # the uniformly random problem of the same seed
    assert not np.allclose(w1, w0)
    for bad in ({"batch": 2}, {"density": 0.3}):
        with pytest.raises(ValueError, match="spread"):
            problem(_point(**bad))


def test_dc_op_ratio_is_taken_on_interleaved_medians():
    """At 256 x 256 the crossbar and the 1T1R deck run DC_OP_REPEATS times, alternately; the
    ratio is the median 1T1R run's ngspice time over the median crossbar run's, with each
    pair's ratio (elapsed and user-mode CPU) and the ratios of ngspice's counters and of the
    OS's accounting of it beside it."""
    calls = []
    times = {"resistor": iter([6.0, 9.0, 6.5]), "rram_read": iter([27.0, 26.0, 31.0])}

    def run_case(case, **k):
        calls.append((case, k.get("n"), k.get("cell"), k.get("klu"), k.get("wire_r", True)))
        r = {"wall_s": 1.0, "child_peak_rss_b": 1, "ngspice_elapsed_s": 1.0}
        if k.get("counters"):
            r["ngspice_elapsed_s"] = next(times[k["cell"]])
            big = k["cell"] == "rram_read"
            r.update(front_end_s=10.0 if big else 4.0, parse_s=5.0 if big else 2.0,
                     solver_s=12.0 if big else 3.0,
                     load_s=1.0 if big else 0.05, iterations=6.0 if big else 3.0,
                     equations=590337.0 if big else 131329.0)
            # the OS's accounting: the kernel's share differs between the decks
            r.update(sys_s=5.0 if big else 0.5, minor_faults=5e5 if big else 1.6e5)
            r["user_s"] = r["ngspice_elapsed_s"] - r["sys_s"]
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
    assert r["ratio_front_end"] == 2.5 and r["ratio_parse"] == 2.5
    # user-mode CPU time pair by pair and of the median pair, the kernel's and the faults'
    assert r["ratio_user_runs"] == pytest.approx([22 / 5.5, 21 / 8.5, 26 / 6])
    assert r["ratio_user"] == pytest.approx(22 / 6) and r["ratio_sys"] == 10.0
    assert r["ratio_minor_faults"] == pytest.approx(5 / 1.6)
    ratio, user = [t for t in targets if "native-resistor" in t["what"]]
    assert ratio["value"] == pytest.approx(27.0 / 6.5) and not ratio["met"]
    # the user-mode target takes the median of the pairs' ratios (22 / 5.5), not the ratio of
    # the median runs (22 / 6)
    assert "user-mode" in user["what"] and user["value"] == pytest.approx(4.0)
    assert r["ratio_user_median"] == pytest.approx(4.0) and not user["met"]
    assert "1t1r_wireR_64_sparse" in figs and "ratio_runs" not in figs["1t1r_wireR_64_klu"]


def test_committed_spread_cores_move_further_than_random_ones():
    """``characterization/results/fit_spread`` (full cores on :func:`spread_problem`) against
    ``fit_full`` (the same cores on uniformly random problems), SPICE's settled lines regressed
    on the closed form (the conductance-weighted average of the drives, no wires or drivers):
    the tables regenerate from their points' keys (``mvm_points`` recomputes each problem and
    checks the recorded closed form), the spread cores' lines span over 1.5 times the random
    ones', and they keep more of the closed form (a driven line's current, and so its driver's
    and wire's drop, falls as the sensed lines it drives move its way). What the model must
    reproduce; measured twenty-fifth round: gain 0.93-0.97 spread, 0.69-0.82 random
    (``benchmarks/spread_refit.py gains``)."""
    from pycim.characterize.tables import load_results
    from pycim.fit.fits import mvm_points
    from pycim.toolchain import ROOT

    res = ROOT / "characterization" / "results"
    spread = mvm_points(load_results(res / "fit_spread")["mvm_fit"])
    rand = mvm_points(load_results(res / "fit_full")["mvm_fit"])
    assert all(pt.p["spread"] for pt in spread) and not any(pt.p["spread"] for pt in rand)
    assert {pt.direction for pt in spread} == {"forward", "backward"}

    def gain(pt):
        x, y = pt.v_ideal.ravel(), pt.v_settled.ravel()
        return np.polyfit(x, y, 1)[0]

    for d in ("forward", "backward"):
        gs = [gain(pt) for pt in spread if pt.direction == d]
        gr = [gain(pt) for pt in rand if pt.direction == d]
        assert min(gs) > max(gr) + 0.05, (d, gs, gr)
        assert all(0.85 < g <= 1.0 for g in gs), (d, gs)  # the drive loses a little
        span_s = min(np.ptp(pt.v_ideal) for pt in spread if pt.direction == d)
        span_r = max(np.ptp(pt.v_ideal) for pt in rand if pt.direction == d)
        assert span_s > 1.5 * span_r, (d, span_s, span_r)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_first_order_polarity_network_is_the_exact_one_to_first_order(direction):
    """``benchmarks/spread_refit.py``'s first-order network (what a ``Core`` could compute
    with fixed matrices) against the exact per-plane solve of the same lumped network, on an
    8 x 8 core with drive and series resistances per drive polarity: equal at zero departure,
    and its error falls as the departure squared (a wrong sign or a missing term would leave
    it first order)."""
    from types import SimpleNamespace

    from benchmarks.spread_refit import _first_order_lines, _lumped_lines

    rng = np.random.default_rng(5)
    pt = SimpleNamespace(g_pos=rng.uniform(1e-6, 40e-6, (8, 8)),
                         g_neg=rng.uniform(1e-6, 40e-6, (8, 8)), direction=direction)
    x = rng.integers(-1, 2, 8).astype(float)
    u = x if direction == "backward" else np.ravel(np.column_stack([x, -x]))
    sg = np.sign(u)
    r_ref, s_ref = 150.0, 4e3
    np.testing.assert_allclose(
        _first_order_lines(pt, u, np.full(u.size, r_ref), np.full(u.size, s_ref), r_ref, s_ref),
        _lumped_lines(pt, u, np.full(u.size, r_ref), np.full(u.size, s_ref)), atol=1e-13)
    errs = []
    for eps in (0.2, 0.1):  # departures of +-20 % and +-10 % per polarity
        rd = r_ref * (1 + eps * np.where(sg > 0, 1, np.where(sg < 0, -1, 2)))
        rs = s_ref * (1 + eps * np.where(sg > 0, 2, np.where(sg < 0, -1, 1)))
        exact = _lumped_lines(pt, u, rd, rs)
        first = _first_order_lines(pt, u, rd, rs, r_ref, s_ref)
        zeroth = _lumped_lines(pt, u, np.full(u.size, r_ref), np.full(u.size, s_ref))
        errs.append(np.abs(first - exact).max())
        assert errs[-1] < 0.2 * np.abs(zeroth - exact).max()  # the departure's first order
    assert errs[1] < 0.35 * errs[0]  # second order: halving the departure quarters it

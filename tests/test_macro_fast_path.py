"""The Core's fast path (issue 18 item 6: fewer passes, no temporaries) gives the same results
as the implementation it replaced, which is kept here as the reference (``_old_call``: the
previous ``FastChain.inputs`` / ``levels`` / ``_adc``, ``lev.astype(np.int64)``,
``Calibration.apply`` and ``Core._activity``, written out as they were).

Codes must be identical except where the reference's value before the ADC's floor lies
within :data:`EDGE_LSB` of a code edge (the BLAS products that add the low-rank offsets and
the calibration's shift in place, and the drives' operator without its zero row, round
differently in float32: measured 1 code in 281 600 before this allowance); calibrated values
follow their codes; the energy must be identical too (the array activity
sums exact integers the same way); the folded operator (:func:`_fold_chain`) is shared, so this
checks the evaluation, not the fold (``tests/test_macro.py`` checks the fold against the
model's own float64 calls).
"""

import warnings

import numpy as np
import pytest

from pycim.cim.encoding import bit_planes
from pycim.macro.core import ACTIVITY_SAMPLE, Core, input_range
from pycim.macro.model import MacroModel


def _old_activity(core, x, fwd, in_bits):
    """``Core._activity`` before the change, verbatim."""
    b = x.shape[0]
    n_pl = 1 if in_bits == 1 else in_bits - 1
    g_line = core._g_row_fwd_s if fwd else core._g_row_bwd_s
    lo_x, hi_x = input_range(in_bits)
    pop = np.array([abs(v).bit_count() for v in range(lo_x, hi_x + 1)], dtype=np.float32)
    idx = np.subtract(x, lo_x, dtype=np.intp, casting="unsafe")
    first = float(np.take(pop, idx, mode="clip").sum(axis=0, dtype=np.float64) @ g_line) / b
    idx = (slice(None) if b <= ACTIVITY_SAMPLE
           else slice(0, b - 1 - (b - 1) % (ACTIVITY_SAMPLE - 1) + 1,
                      (b - 1) // (ACTIVITY_SAMPLE - 1)))
    xs = x[idx]
    planes = bit_planes(xs.astype(np.int16), in_bits, np.float32)
    k, n_p, n_d = planes.shape
    u, s = (core._u_fwd, core.g_sum_fwd_s) if fwd else (core._u_bwd, core.g_sum_bwd_s)
    v = planes.reshape(k * n_p, n_d) @ u
    v *= v
    second = float((v @ s).reshape(k, n_p).sum()) / k
    return (first - second) / (core._g_total_s * n_pl)


#: how close (LSB) to a code edge the reference's value must lie for a code to differ by one:
#: float32 rounding of values of a few tens of LSB is ~1e-5 LSB
EDGE_LSB = 1e-4


def _old_call(core, x, direction, in_bits, out_bits, rng=None):
    """The previous fast path of ``Core._run``: (code, value, energy)."""
    fwd = direction == "forward"
    ch = core.fast_chain(direction, in_bits, out_bits)
    assert ch is not None
    last = np.zeros_like(ch.off) if ch.cubic is not None else ch.off
    a_ext = np.vstack([ch.a, last[None, :]]).astype(np.float32)
    b = x.shape[0]
    n, m = ch.a.shape
    xe = np.empty((b, n + 1), np.float32)
    xe[:, n] = 1.0
    if ch.n_planes:
        nx = x.shape[1]
        xi = x.astype(np.intp, copy=False)
        sgn, mag = np.sign(xi), np.abs(xi)
        for p in range(ch.n_planes):
            xe[:, p * nx:(p + 1) * nx] = sgn * ((mag >> p) & 1)
    else:
        idx = np.subtract(x, ch.x_lo, dtype=np.intp, casting="unsafe")
        xe[:, :-1] = np.take(ch.drive, idx, mode="clip")
    y = np.empty((b, m), np.float32)
    t = np.empty_like(y)
    np.matmul(xe, a_ext, out=y)
    lr = ch.abs_factors
    if ch.cubic is not None:
        np.multiply(y, y, out=t)
        t *= y
        t *= ch.cubic
        y += t
        if lr is None:
            y += ch.off
    if lr is not None:  # low-rank active-fraction offsets (added since, the forward mean
        # field): [1, |d| @ u] @ [off; v] (the offset row 0 without a cubic term); the
        # factors against the dense operator: test_low_rank_offsets_equal_the_dense_operator
        u, v_ext = lr
        s1 = np.ones((b, u.shape[1] + 1), np.float32)
        s1[:, 1:] = np.abs(xe[:, :n]) @ u
        if ch.cubic is None:
            v_ext = np.vstack([np.zeros((1, m), np.float32), v_ext[1:]])
        np.matmul(s1, v_ext, out=t)
        y += t
    elif ch.a_abs is not None:  # the backward active-fraction offsets (added since): the
        # drives' magnitudes against their own operator, after the cubic and the offset
        np.matmul(np.abs(xe[:, :n]), ch.a_abs, out=t)
        y += t
    if ch.inl is not None:
        k = np.empty(y.shape, np.intp)
        np.floor(y, out=t)
        np.subtract(t, ch.lo, out=k, casting="unsafe")
        np.take(ch.inl, k, out=t, mode="clip")
        y += t
    if rng is not None and ch.noise_lsb > 0:
        y += ch.noise_lsb * rng.standard_normal(y.shape, dtype=np.float32)
    y_pre = y.copy()  # the value before the floor (what the edge allowance looks at)
    np.floor(y, out=y)
    np.clip(y, ch.lo, ch.hi, out=y)
    code = y.astype(np.int64)
    cal = core.calibrations.get((direction, in_bits, out_bits))
    value = None
    if cal is not None:
        value = np.multiply(y, cal.scale, dtype=np.float32, casting="unsafe")
        value += cal.shift
        if cal.act_coef is not None:  # the activity term (added since)
            mag = np.abs(core.model.drive(x, in_bits)).astype(np.float32)
            value += np.multiply.outer(mag @ cal.act_q, cal.act_coef)
    n_rows = 2 * core.n_in if fwd else core.n_out
    n_cols = core.n_out if fwd else 2 * core.n_in
    act = _old_activity(core, x, fwd, in_bits)
    # every physical row's word line (2 n_in) is pulsed in either direction (since corrected:
    # a backward call counted n_out)
    e = core.model.energy_j(in_bits, out_bits, n_rows, n_cols, core._g_total_s, batch=b,
                            activity=act, n_wl=2 * core.n_in)
    return code, value, {k: float(v) for k, v in e.items()}, y_pre


def _nonideal_model():
    """Cubic line transfer, ADC gain / offset / INL / noise, and a line memory that makes small
    cores take the per-plane operator (as ``tests/test_macro.py``'s model)."""
    inl = (0.3 * np.sin(np.arange(64) / 5.0)).tolist()
    return MacroModel.ideal().with_(
        line={"r_series_ohm": 3e3, "a0": -0.05, "a_rows": -0.02, "a_g": -0.01, "a_rg": 0.004,
              "a_cubic": -0.03, "b0_v": 1.5e-3, "b_g_v": -4e-4, "b_ig_v": 2e-4,
              "b_line_v": 1e-3, "c_settle_f": 7e-13, "c_settle_row_f": 0.0, "k_mem": 0.75},
        adc={"gain": 0.97, "offset_lsb": 0.25, "noise_lsb": 0.3, "inl_lsb": {"6": inl}})


def _default_lumped():
    """The packaged model with its wires lumped (``wire_scale`` 0): the fast path folds
    whatever operator the model gives, and a full core's wired one costs 2-4 CPU-s per Core
    (``tests/test_line_operator.py`` checks the wired operator and ``tests/test_fit.py`` the
    packaged model through ``Core``)."""
    m = MacroModel.load()
    return m.with_(line={**m.line, "wire_scale": 0.0})


MODELS = {"default": _default_lumped, "ideal": MacroModel.ideal, "nonideal": _nonideal_model}


def _check_same(core, x, direction, in_bits, out_bits, noise_seed=None):
    if core.fast_chain(direction, in_bits, out_bits) is None:
        # no folded chain (the model's line gain is not positive on every line): both the
        # old and the new path use the model's own calls; nothing to compare
        return None
    rng_new = None if noise_seed is None else np.random.default_rng(noise_seed)
    rng_old = None if noise_seed is None else np.random.default_rng(noise_seed)
    run = core.forward if direction == "forward" else core.backward_lines
    r = run(x, in_bits, out_bits, rng=rng_new)
    code, value, energy, y_pre = _old_call(core, np.asarray(x), direction, in_bits, out_bits,
                                           rng_old)
    assert r.code.dtype == np.int64 and r.code.shape == code.shape
    diff = r.code != code
    edge = np.abs(y_pre - np.round(y_pre)) < EDGE_LSB
    assert np.all(np.abs(r.code - code) <= 1) and np.all(edge[diff]), (
        f"{int(diff.sum())} codes differ, {int((diff & ~edge).sum())} away from a code edge")
    if value is None:
        assert r.value is None
    else:
        assert r.value.dtype == np.float32
        # the activity's float32 dot products may round differently in a strided view, and
        # the shift is now added to the scaled code instead of the code to the shift (float32
        # rounding of the partial sums: 1.5e-5 LSB measured); a code one step off at an edge
        # moves its value by the line's scale
        ok = ~diff
        np.testing.assert_allclose(r.value[ok], value[ok], rtol=1e-6, atol=1e-4)
    # the activity's line term is now p (U S U^T) p in float32 instead of (p U)^2 . S:
    # the same sum, rounded differently (measured 2e-10 relative on the array energy)
    assert r.energy_j.keys() == energy.keys()
    for k, v in energy.items():
        assert r.energy_j[k] == pytest.approx(v, rel=1e-6, abs=0.0), k
    return r


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_path_equals_previous_implementation(model, seed):
    m = MODELS[model]()
    rng = np.random.default_rng(100 + seed)
    shapes = [(128, 256), (40, 24)]  # a full core (drive table) and a small one (per plane)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # outside the fitted range: warned, not the subject
        for n_in, n_out in shapes:
            core = Core(rng.uniform(-1, 1, (n_in, n_out)), model=m, seed=seed)
            for in_bits, out_bits in ((4, 6), (2, 8), (6, 5), (1, 3), (8, 7)):
                lo, hi = input_range(in_bits)
                for direction, n in (("forward", n_in), ("backward", n_out)):
                    # every chain exists (the default model is fitted on full cores too;
                    # a model without a chain: test_a_non_positive_line_gain_is_warned)
                    assert core.fast_chain(direction, in_bits, out_bits) is not None, (
                        direction, in_bits, out_bits)
                    for batch in (1, 33, 600):
                        x = rng.integers(lo, hi + 1, (batch, n))
                        _check_same(core, x, direction, in_bits, out_bits)
                    if direction == "forward" and in_bits in (4, 8):
                        core.calibrate(direction, in_bits, out_bits, n_vectors=64, seed=seed)
                        # a larger batch, also with ADC noise (drawn once per call)
                        big = rng.integers(lo, hi + 1, (1100, n))
                        _check_same(core, big, direction, in_bits, out_bits)
                        _check_same(core, big, direction, in_bits, out_bits, noise_seed=seed)
                        x = rng.integers(lo, hi + 1, (257, n))
                        r = _check_same(core, x, direction, in_bits, out_bits)
                        assert r.value is not None
                        # other input dtypes take the same values
                        for dt in (np.int8, np.int32, np.float64):
                            _check_same(core, x.astype(dt), direction, in_bits, out_bits)
                        # ADC noise: the same generator stream, drawn once for the call
                        _check_same(core, x, direction, in_bits, out_bits, noise_seed=seed)
                        # a 1-D vector is a batch of one
                        r1 = core.forward(x[0], in_bits, out_bits)
                        np.testing.assert_array_equal(r1.code, r.code[:1])


def test_fast_path_results_are_fresh_arrays():
    """Work arrays are reused between calls; what a call returns is not overwritten by the
    next call."""
    rng = np.random.default_rng(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        core = Core(rng.uniform(-1, 1, (128, 256)), model=MacroModel.load(), seed=3)
        core.calibrate("forward", 4, 6, n_vectors=64)
        x1, x2 = rng.integers(-7, 8, (64, 128)), rng.integers(-7, 8, (64, 128))
        r1 = core.forward(x1)
        c1, v1 = r1.code.copy(), r1.value.copy()
        core.forward(x2)
    np.testing.assert_array_equal(r1.code, c1)
    np.testing.assert_array_equal(r1.value, v1)


def test_range_warnings_on_every_call():
    """The range check's messages are kept per (model, direction, widths) but warned on every
    call, and made anew for another model: the same warnings as ``MacroModel.check_range``."""
    from pycim.macro.model import OutOfRangeWarning

    m = MacroModel.load()
    rng = np.random.default_rng(3)
    core = Core(rng.uniform(-1, 1, (2, 256)), model=m, seed=0)
    x = rng.integers(-7, 8, (4, 2))
    with warnings.catch_warnings(record=True) as want:
        warnings.simplefilter("always")
        m.check_range(in_bits=4, out_bits=6, n_rows=4, g_sum_s=core.g_sum_fwd_s)
    assert want  # 4 driven rows lie below this fit's row range
    for _ in range(2):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            core.forward(x)
        assert [str(w.message) for w in got] == [str(w.message) for w in want]
        assert all(w.category is OutOfRangeWarning for w in got)
    core.model = MacroModel.ideal()  # no recorded ranges: nothing to warn
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        core.forward(x)
    assert not got


@pytest.mark.parametrize("in_bits", [1, 4, 8])
def test_fast_path_range_errors(in_bits):
    """Signed-integer inputs are range-checked on the lookup's index (one pass, unsigned):
    every input just outside the range, wrapping values of each dtype and unsigned / float
    inputs give the same one-line error as ``checked_inputs``, and nothing is computed."""
    from pycim.errors import InputError
    from pycim.macro.core import checked_inputs

    rng = np.random.default_rng(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for shape in ((128, 256), (40, 24)):  # drive table, per-plane table
            core = Core(rng.uniform(-1, 1, shape), model=MacroModel.load(), seed=0)
            lo, hi = input_range(in_bits)
            bad = [lo - 1, hi + 1]
            for dt in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64, np.float64):
                info = np.iinfo(dt) if np.dtype(dt).kind in "iu" else None
                vals = [v for v in bad if info is None or info.min <= v <= info.max]
                if info is not None:
                    vals += [info.max, info.min, info.max - 3]
                for v in vals:
                    x = np.zeros((3, shape[0]), dt)
                    x[1, 5] = v
                    if lo <= int(v) <= hi:
                        continue
                    with pytest.raises(InputError) as want:
                        checked_inputs(x, shape[0], in_bits)
                    for exact in (False, True):
                        with pytest.raises(InputError) as got:
                            core.forward(x, in_bits, 6, exact=exact)
                        assert str(got.value) == str(want.value)
            x = rng.integers(lo, hi + 1, (5, shape[0]))  # and in range it still runs
            np.testing.assert_array_equal(core.forward(x, in_bits, 6).code,
                                          core.forward(x.astype(np.int8), in_bits, 6).code)


def test_output_reuse_only_when_abandoned():
    """The chain reuses an output array only when nothing outside holds it: results kept by
    the caller (or views of them) stay as they were; dropped ones are reused (no new pages)."""
    rng = np.random.default_rng(11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        core = Core(rng.uniform(-1, 1, (128, 256)), model=MacroModel.load(), seed=1)
        core.calibrate("forward", 4, 6, n_vectors=64)
        xs = [rng.integers(-7, 8, (50, 128)) for _ in range(4)]
        ref = [core.forward(x, exact=False) for x in xs]
        ref = [(r.code.copy(), r.value.copy()) for r in ref]
        kept = []
        for x in xs:  # keep a view of each code array and each result
            r = core.forward(x)
            kept.append((r.code[:, ::2], r))
        for (view, r), (c, v) in zip(kept, ref):
            np.testing.assert_array_equal(view, c[:, ::2])
            np.testing.assert_array_equal(r.code, c)
            np.testing.assert_array_equal(r.value, v)
        del kept, r, view
        a = core.forward(xs[0])
        ids = (id(a.code), id(a.value))
        del a
        b = core.forward(xs[1])  # the dropped arrays come back
        assert (id(b.code), id(b.value)) == ids
        np.testing.assert_array_equal(b.code, ref[1][0])


def test_threads_do_not_share_work_arrays():
    """Two threads calling one core at once get the results a single thread gets: the chain's
    work arrays and reused outputs are per thread."""
    import threading

    from pycim.macro.core import Core

    rng = np.random.default_rng(5)
    core = Core(rng.uniform(-1, 1, (64, 32)), seed=1)
    xs = [rng.integers(-7, 8, (256, 64)) for _ in range(2)]
    ref = [core.forward(x, 4, 6).code.copy() for x in xs]
    out = [None, None]
    barrier = threading.Barrier(2)

    def work(i):
        barrier.wait()
        for _ in range(20):
            got = core.forward(xs[i], 4, 6).code
            if not np.array_equal(got, ref[i]):
                out[i] = got.copy()
                return
        out[i] = "ok"

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out == ["ok", "ok"]


def test_a_non_positive_line_gain_is_warned():
    """A model whose backward gain terms extrapolate below zero on a full core's 256-row
    bit-lines (as the default model's did when it was fitted on <= 32 rows: a_rows -0.33,
    a_rg -0.48 per 128 rows and mS): the Core says so (no fast chain there), and the model's
    own gain agrees."""
    from pycim.macro.model import OutOfRangeWarning

    base = MacroModel.load()
    m = base.with_(line_backward={**base.line_backward, "a0": 0.0, "a_rows": -0.33,
                                  "a_g": -0.08, "a_rg": -0.48})
    core = Core(np.random.default_rng(3).uniform(-1, 1, (128, 256)), model=m, seed=0)
    with pytest.warns(OutOfRangeWarning, match=r"backward line gain is <= 0"):
        assert core.fast_chain("backward", 4, 6) is None
    g = m.for_direction("backward").line_gain(4, core.n_out, core.g_sum_bwd_s)
    assert np.any(g <= 0)
    assert np.all(m.line_gain(4, 2 * core.n_in, core.g_sum_fwd_s) > 0)  # forward: a chain


def test_low_rank_offsets_equal_the_dense_operator():
    """The forward active-fraction offsets without the per-line term (``b_act_line_v`` = 0)
    are mean-field (one value per vector and plane for every line): the chain applies them
    through rank-r factors, equal to the dense operator to float32 rounding; a full-rank
    operator stays dense, as the packaged model's forward one (its per-line term)."""
    from pycim.macro.core import _low_rank

    m = MacroModel.load()
    assert m.line["b_act_v"] or m.line["b_load_v"]  # the packaged model has them forward
    w = np.random.default_rng(7).uniform(-1, 1, (128, 256))
    assert m.line["b_act_line_v"]
    ch = Core(w, model=m, seed=0).fast_chain("forward", 4, 6)
    assert ch is not None and ch.a_abs is not None and ch.abs_factors is None  # dense
    m = m.with_(line={**m.line, "b_act_line_v": 0.0})
    core = Core(w, model=m, seed=0)
    ch = core.fast_chain("forward", 4, 6)
    assert ch is not None and ch.a_abs is not None and ch.abs_factors is not None
    u, v_ext = ch.abs_factors
    assert u.shape[1] <= 8
    np.testing.assert_array_equal(v_ext[0], ch.off)  # the offset row rides along
    x = np.abs(np.random.default_rng(8).uniform(-1, 1, (64, ch.a_abs.shape[0])))
    dense = x @ ch.a_abs.astype(np.float64)
    np.testing.assert_allclose(x @ u.astype(np.float64) @ v_ext[1:], dense,
                               atol=1e-5 * np.abs(dense).max())
    assert _low_rank(np.random.default_rng(9).standard_normal((40, 30))) is None


@pytest.mark.parametrize("model", sorted(MODELS))
def test_clip_is_skipped_only_where_no_input_reaches_the_code_edges(model):
    """A chain skips the ADC's clip when its bound says no allowed input leaves [lo, hi + 1):
    the inputs that push every line to its extremes (per line: sign(column) x max, and the
    negation; all inputs at +max and -max) give the codes of the model's own float64 calls
    (``exact=True``, which always clips), and every code lies in [lo, hi]."""
    m = MODELS[model]()
    rng = np.random.default_rng(11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n_in, n_out, w_scale in ((128, 256, 1.0), (8, 8, 1.0), (128, 16, 0.05)):
            w = w_scale * rng.uniform(-1, 1, (n_in, n_out))
            w[:, 0] = w_scale  # a column of equal weights: the largest reach
            core = Core(w, model=m, seed=1)
            for in_bits, out_bits in ((4, 6), (2, 4), (8, 7), (4, 8)):
                ch = core.fast_chain("forward", in_bits, out_bits)
                if ch is None:
                    continue
                hi_x = input_range(in_bits)[1]
                s = np.sign(core._operator("forward")).T.astype(np.int64)  # (n_out, n_in): per line
                x = np.vstack([s, -s, np.full((1, n_in), hi_x), np.full((1, n_in), -hi_x)])
                x = np.clip(x * hi_x, *input_range(in_bits))
                fast = core.forward(x, in_bits, out_bits).code
                exact = core.forward(x, in_bits, out_bits, exact=True).code
                lo, hi = ch.lo, ch.hi
                assert fast.min() >= lo and fast.max() <= hi, (ch.clip_needed, in_bits, out_bits)
                # float32 against float64: a value on a code edge may round either way
                assert np.mean(fast != exact) < 1e-3 and np.abs(fast - exact).max() <= 1


def _in_thread(f):
    import threading

    out = {}

    def run():
        try:
            out["r"] = f()
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            out["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_a_call_waits_for_a_calibration_under_way(monkeypatch):
    """A call that arrives while the core re-calibrates its widths waits for the calibration
    and returns the calibrated value (until the twenty-ninth round it ran on the core with its
    calibration removed for the measurement and returned value None)."""
    import threading

    from pycim.macro.core import Core

    rng = np.random.default_rng(6)
    core = Core(rng.uniform(-1, 1, (64, 32)), seed=1)
    x = rng.integers(-7, 8, (256, 64))
    core.calibrate("forward", 4, 6)
    inside, go = threading.Event(), threading.Event()
    ref_y = core.reference_y

    def paused(*a, **k):  # the calibration's measurement, held half-way
        inside.set()
        go.wait(30)
        return ref_y(*a, **k)

    monkeypatch.setattr(core, "reference_y", paused)
    t_cal, cal = _in_thread(lambda: core.calibrate("forward", 4, 6))
    assert inside.wait(30)
    t_call, call = _in_thread(lambda: core.forward(x, 4, 6))
    t_call.join(0.5)
    waited = t_call.is_alive()
    go.set()
    t_cal.join(60)
    t_call.join(60)
    assert "exc" not in cal and "exc" not in call
    assert waited, "the call ran during the calibration"
    assert call["r"].value is not None


def test_a_full_scale_change_waits_for_calls_under_way(monkeypatch):
    """set_adc_full_scale while another thread's call is building its folded chain: the
    change waits for the call, so no chain of the old full scale is kept (until the
    twenty-ninth round the call stored it after the change had cleared the chains, and every
    later call converted at the old LSB: fast codes then disagreed with exact ones)."""
    import threading

    import pycim.macro.core as core_mod
    from pycim.macro.core import Core

    rng = np.random.default_rng(7)
    core = Core(rng.uniform(-1, 1, (64, 32)), seed=1)
    x = rng.integers(-7, 8, (256, 64))
    inside, go = threading.Event(), threading.Event()
    fold = core_mod._fold_chain

    def paused(*a, **k):
        inside.set()
        go.wait(30)
        return fold(*a, **k)

    monkeypatch.setattr(core_mod, "_fold_chain", paused)
    t_call, call = _in_thread(lambda: core.forward(x, 4, 6))
    assert inside.wait(30)
    t_set, _ = _in_thread(lambda: core.set_adc_full_scale(0.1))
    t_set.join(0.5)
    waited = t_set.is_alive()
    go.set()
    t_call.join(60)
    t_set.join(60)
    monkeypatch.setattr(core_mod, "_fold_chain", fold)
    assert waited, "the full scale changed during a call"
    assert core.adc_fs_v == 0.1
    fast, exact = core.forward(x, 4, 6).code, core.forward(x, 4, 6, exact=True).code
    assert np.mean(fast != exact) < 1e-3


def test_threads_do_not_share_the_activity_work_arrays(monkeypatch):
    """The activity's set-bit sums (:meth:`Core._pop_sums`) of two threads' calls of one
    batch shape: each thread its own work arrays (until the twenty-ninth round one pair per
    core: a thread's popcounts overwritten by the other's gave a zero-input call a
    full-scale call's array energy)."""
    import threading

    from pycim.macro.core import Core

    rng = np.random.default_rng(8)
    core = Core(rng.uniform(-1, 1, (64, 32)), seed=1)
    xa, xb = np.zeros((256, 64), np.int16), np.full((256, 64), 7, np.int16)
    want_a, want_b = core._pop_sums(xa).copy(), core._pop_sums(xb).copy()
    assert want_a.sum() == 0 and want_b.sum() == 256 * 64 * 3
    inside, go = threading.Event(), threading.Event()
    count = np.bitwise_count
    t_main = threading.get_ident()

    def paused(a, *args, **kw):
        r = count(a, *args, **kw)
        if threading.get_ident() != t_main:  # the other thread: popcounts written, held
            inside.set()
            go.wait(30)
        return r

    monkeypatch.setattr(np, "bitwise_count", paused)
    t, out = _in_thread(lambda: core._pop_sums(xa).copy())
    assert inside.wait(30)
    got_b = core._pop_sums(xb)  # this thread, the same shape, meanwhile
    go.set()
    t.join(60)
    np.testing.assert_array_equal(got_b, want_b)
    np.testing.assert_array_equal(out["r"], want_a)

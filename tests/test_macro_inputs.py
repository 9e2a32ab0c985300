"""Input validation of the numpy macro-model (:mod:`pycim.macro`): bad user input is an
InputError with a one-line message naming the argument, never a traceback of another type,
a silently ignored key or a garbage code."""

import json
import math
from importlib import resources

import numpy as np
import pytest

from pycim.errors import InputError
from pycim.macro import Chip, Core, Dense, MacroModel, quantize
from pycim.macro.model import PACKAGED

IDEAL = MacroModel.ideal()
W8 = np.linspace(-1.0, 1.0, 64).reshape(8, 8)


def _packaged_dict(name: str = "default") -> dict:
    text = resources.files("pycim.macro").joinpath(PACKAGED[name]).read_text(encoding="utf-8")
    return json.loads(text)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# -- A / B: MacroModel.from_json and MacroModel.with_ share one set of rules ---------------------
#: (field, value for the whole field or a function of the packaged field, text the message
#: must name)
BAD_FIELDS = [
    ("line", [1, 2], "line must be an object"),
    ("line_backward", [1], "line_backward must be an object"),
    ("adc", 5, "adc must be an object"),
    ("energy", [], "energy must be an object"),
    ("timing", "x", "timing must be an object"),
    ("ranges", [], "ranges must be an object"),
    ("fits", "none", "fits must be an object"),
    ("source", {"a": 1}, "source must be a string"),
    ("line", lambda d: {**d, "r_seris_ohm": 3e3}, "r_seris_ohm"),
    ("line_backward", lambda d: {**d, "a00": 0.1}, "a00"),
    ("adc", lambda d: {**d, "noise": 0.1}, "noise"),
    ("energy", lambda d: {**d, "zzz": 1.0}, "zzz"),
    ("timing", lambda d: {**d, "t_windw_s": 1e-8}, "t_windw_s"),
    ("line", lambda d: {**d, "a0": "x"}, "line.a0"),
    ("line", lambda d: {**d, "r_series_ohm": True}, "line.r_series_ohm"),
    ("line", lambda d: {**d, "c_settle_f": -1e-13}, "line.c_settle_f"),
    ("line", lambda d: {**d, "k_mem": -0.1}, "line.k_mem"),
    ("line", lambda d: {**d, "b_line_v": math.nan}, "line.b_line_v"),
    ("line_backward", lambda d: {**d, "r_drive_ohm": -5.0}, "line_backward.r_drive_ohm"),
    ("adc", lambda d: {**d, "gain": 0.0}, "adc.gain"),
    ("adc", lambda d: {**d, "gain": -1.0}, "adc.gain"),
    ("adc", lambda d: {**d, "gain": math.nan}, "adc.gain"),
    ("adc", lambda d: {**d, "noise_lsb": -0.5}, "adc.noise_lsb"),
    ("adc", lambda d: {**d, "inl_lsb": {"6": [0.0] * 5}}, "adc.inl_lsb"),
    ("adc", lambda d: {**d, "inl_lsb": {"6": [0.0] * 63 + [math.inf]}}, "adc.inl_lsb"),
    ("adc", lambda d: {**d, "inl_lsb": {"11": [0.0] * 2048}}, "adc.inl_lsb"),
    ("adc", lambda d: {**d, "inl_lsb": [0.0] * 64}, "adc.inl_lsb"),
    ("energy", lambda d: {**d, "k_array": -1.0}, "energy.k_array"),
    ("energy", lambda d: {**d, "p_neuron_w": math.inf}, "energy.p_neuron_w"),
    ("timing", lambda d: {**d, "t_window_s": 0.0}, "timing.t_window_s"),
    ("timing", lambda d: {**d, "t_track_s": -1e-9}, "timing.t_track_s"),
    ("timing", lambda d: {**d, "t_base_s": -1e-9}, "timing.t_base_s"),
    ("ranges", lambda d: {**d, "temp_c": 5}, "ranges.temp_c"),
    ("ranges", lambda d: {**d, "temp_c": [27.0]}, "ranges.temp_c"),
    ("ranges", lambda d: {**d, "temp_c": ["a", 30.0]}, "ranges.temp_c"),
    ("ranges", lambda d: {**d, "temp_c": [30.0, 27.0]}, "ranges.temp_c"),
    ("ranges", lambda d: {**d, "temp_c": [0.0, math.inf]}, "ranges.temp_c"),
    ("v_read_v", True, "v_read_v"),
    ("v_read_v", 0.0, "v_read_v"),
    ("v_read_v", "0.2", "v_read_v"),
    ("v_read_v", 1e300, "v_read_v"),
    ("v_read_v", 10 ** 400, "v_read_v"),
    ("v_ref_v", -0.9, "v_ref_v"),
    ("adc_fs_v", math.nan, "adc_fs_v"),
    ("adc_fs_v", -1.0, "adc_fs_v"),
    ("adc_fs_v", 1e6, "adc_fs_v"),
    ("integ_gain", 0.0, "integ_gain"),
    ("c_hold_eff_f", 0.0, "c_hold_eff_f"),
    ("c_sample_eff_f", -1e-15, "c_sample_eff_f"),
    ("c_sample_eff_f", "1", "c_sample_eff_f"),
]


def _bad_value(field, value):
    d = _packaged_dict()
    return value(d[field]) if callable(value) else value


@pytest.mark.parametrize("field, value, named", BAD_FIELDS,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD_FIELDS)])
def test_from_json_refuses_a_bad_field(field, value, named):
    d = _packaged_dict()
    d[field] = _bad_value(field, value)
    with pytest.raises(InputError) as exc:
        MacroModel.from_json(json.dumps(d))
    assert named in _one_line(exc)


@pytest.mark.parametrize("field, value, named", BAD_FIELDS,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD_FIELDS)])
def test_with_refuses_what_from_json_refuses(field, value, named):
    m = MacroModel.packaged()
    with pytest.raises(InputError) as exc:
        m.with_(**{field: _bad_value(field, value)})
    assert named in _one_line(exc)


def test_with_refuses_an_unknown_field():
    with pytest.raises(InputError, match="foo"):
        IDEAL.with_(foo=1)


@pytest.mark.parametrize("name", sorted(PACKAGED))
def test_packaged_models_load_as_written(name):
    """Every value of the committed file is the model's (nothing dropped or changed), and the
    model survives its own JSON."""
    d = _packaged_dict(name)
    m = MacroModel.packaged(name)
    for sec in ("line", "line_backward", "adc", "energy", "timing", "ranges", "fits"):
        assert getattr(m, sec) == d[sec], sec
    for k in ("v_read_v", "v_ref_v", "adc_fs_v", "integ_gain", "c_hold_eff_f",
              "c_sample_eff_f", "source", "schema"):
        assert getattr(m, k) == d[k], k
    assert MacroModel.from_json(m.to_json()) == m


def test_signed_parameters_and_a_right_inl_table_are_accepted():
    """Offsets, gain terms, per-polarity departures and the array's line credit are signed;
    an INL table of one value per code loads and is applied."""
    d = _packaged_dict()
    d["line"].update(a0=-0.5, b_line_v=-1e-3, dr_series_neg_ohm=-300.0)
    d["adc"].update(offset_lsb=-3.0, inl_lsb={"4": [0.0] * 8 + [0.75] + [0.0] * 7})
    d["energy"]["e_arr_line_j"] = -1e-15
    m = MacroModel.from_json(json.dumps(d))
    assert (m.line["a0"], m.line["dr_series_neg_ohm"]) == (-0.5, -300.0)
    assert m.energy["e_arr_line_j"] == -1e-15
    # 4 bits: codes -8..7, the table's index 8 is code 0: y' = gain y - 3 + 0.75 there
    g = m.adc["gain"]
    y = np.array([3.2, 3.9]) / g  # y' = 0.2, 0.9 before the INL
    assert m.output_codes(y, 4).tolist() == [0, 1]  # floor(0.2 + 0.75), floor(0.9 + 0.75)


def test_load_refuses_a_file_that_is_not_utf8(tmp_path):
    p = tmp_path / "m.json"
    p.write_bytes(b"\xff\xfe{}")
    with pytest.raises(InputError, match="not UTF-8"):
        MacroModel.load(p)


def test_with_validated_values_reach_the_codes():
    """A valid change is kept (and gives the codes of that full scale)."""
    m = IDEAL.with_(adc_fs_v=0.2)
    assert m.adc_fs_v == 0.2
    assert m.lsb_v(6) == pytest.approx(2 * 0.2 / 64 / IDEAL.integ_gain)


# -- C: quantize --------------------------------------------------------------------------------
@pytest.mark.parametrize("a, step, in_bits, named", [
    ([np.nan, 1.0], 1.0, 4, "NaN"),
    ([np.inf, 1.0], 1.0, 4, "infinite"),
    ([1.0], 0.0, 4, "step"),
    ([1.0], -1.0, 4, "step"),
    ([1.0], np.nan, 4, "step"),
    ([1.0], "1", 4, "step"),
    ([1.0], True, 4, "step"),
    ([1.0], 1.0, 0, "in_bits"),
    ([1.0], 1.0, 9, "in_bits"),
    ([1.0], 1.0, 4.5, "in_bits"),
    ([1.0], 1.0, True, "in_bits"),
    (["a"], 1.0, 4, "dtype"),
    (np.ma.masked_array([1.0, 9.0], mask=[False, True]), 1.0, 4, "masked"),
])
def test_quantize_refuses(a, step, in_bits, named):
    with pytest.raises(InputError) as exc:
        quantize(a if isinstance(a, np.ndarray) else np.array(a), step, in_bits)
    assert named in _one_line(exc)


def test_quantize_rounds_and_saturates():
    got = quantize(np.array([2.5, 3.5, -2.5, 100.0, -100.0, 0.26]), np.float32(0.5), np.int64(4))
    assert got.tolist() == [5, 7, -5, 7, -7, 1]  # rint(x / 0.5), clipped to +-7
    assert quantize(np.array([0.4, -3.0, 2.0]), 1.0, 1).tolist() == [0, 0, 1]


def _chip(**kw):
    layers = [Dense("a", W8[:, :4] * 0.5, in_step=0.5)]
    return Chip(layers, **{"model": IDEAL, **kw})


def test_chip_run_names_nan():
    x = np.zeros((2, 8))
    x[1, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        _chip(calibrate=False).run(x)


# -- D: drive ---------------------------------------------------------------------------------
@pytest.mark.parametrize("x, in_bits", [
    (np.array([-128], np.int8), 8),
    (np.array([-1]), 1),
    (np.array([2.7]), 4),
    (np.array([-8]), 4),
    (np.array([8]), 4),
    (np.array([np.nan]), 4),
    (np.array([True]), 1),
])
@pytest.mark.parametrize("who", ["core", "model"])
def test_drive_refuses_inputs_the_mvm_refuses(x, in_bits, who):
    core = Core(W8, model=IDEAL)
    f = core.drive if who == "core" else IDEAL.drive
    with pytest.raises(InputError, match="x"):
        f(x, in_bits)
    with pytest.raises(InputError):  # the MVM call's own check says the same
        core.forward(np.resize(x, 8), in_bits)


@pytest.mark.parametrize("in_bits", [1, 2, 4, 8])
def test_drive_of_every_allowed_input(in_bits):
    """sign(x) sum_n w_n bit_n(|x|) with the held plane weights, for the whole range (as
    integers, integer-valued floats and a 2-D shape)."""
    w = IDEAL.plane_weights(in_bits)
    lo, hi = (0, 1) if in_bits == 1 else (-(2 ** (in_bits - 1) - 1), 2 ** (in_bits - 1) - 1)
    xs = np.arange(lo, hi + 1)
    want = np.array([np.sign(v) * sum(w[n] for n in range(w.size) if (abs(v) >> n) & 1)
                     for v in xs])
    assert IDEAL.drive(xs, in_bits) == pytest.approx(want, rel=1e-14)
    assert IDEAL.drive(xs.astype(float).reshape(1, -1), in_bits)[0] == pytest.approx(want)
    core = Core(W8, model=IDEAL)
    assert core.drive(xs, in_bits) == pytest.approx(want.astype(np.float32))


# -- E: rng -----------------------------------------------------------------------------------
NOISY = IDEAL.with_(adc={**IDEAL.adc, "noise_lsb": 0.7})


@pytest.mark.parametrize("rng", [5, np.random.RandomState(0), np.random, "x"],
                         ids=["int", "RandomState", "module", "str"])
@pytest.mark.parametrize("model", [IDEAL, NOISY], ids=["noiseless", "noisy"])
@pytest.mark.parametrize("exact", [False, True])
def test_rng_must_be_a_generator_on_every_path(rng, model, exact):
    core = Core(W8, model=model)
    with pytest.raises(InputError, match="rng must be a numpy Generator"):
        core.forward(np.ones((3, 8), int), rng=rng, exact=exact)
    with pytest.raises(InputError, match="rng"):
        core.calibrate(rng=rng)


@pytest.mark.parametrize("exact", [False, True])
def test_generator_draws_reproducible_noise(exact):
    core = Core(W8, model=NOISY)
    x = np.tile(np.arange(-3, 5), (64, 1))
    a = core.forward(x, rng=np.random.default_rng(1), exact=exact).code
    b = core.forward(x, rng=np.random.default_rng(1), exact=exact).code
    quiet = core.forward(x, exact=exact).code
    assert np.array_equal(a, b) and not np.array_equal(a, quiet)


# -- F: seeds and counts -----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1.5, None, "3", True, -1, np.float64(2.0)])
def test_core_seed_must_be_an_integer(seed):
    with pytest.raises(InputError, match="seed"):
        Core(W8, model=IDEAL, seed=seed)


@pytest.mark.parametrize("tol", ["1e-6", None, np.array([1e-6, 2e-6]), np.nan, True])
def test_core_prog_tol_must_be_a_number(tol):
    with pytest.raises(InputError, match="prog_tol_s"):
        Core(W8, model=IDEAL, prog_tol_s=tol)


def test_core_model_must_be_a_model():
    with pytest.raises(InputError, match="model"):
        Core(W8, model="default")


def test_numpy_integer_seed_programs_the_same_array():
    a, b = Core(W8, model=IDEAL, seed=np.int64(3)), Core(W8, model=IDEAL, seed=3)
    assert np.array_equal(a.g_pos_s, b.g_pos_s) and np.array_equal(a.g_neg_s, b.g_neg_s)
    assert isinstance(a.seed, int)


@pytest.mark.parametrize("kw, named", [
    ({"seed": -1}, "seed"), ({"seed": None}, "seed"), ({"seed": 1.5}, "seed"),
    ({"seed": True}, "seed"), ({"n_vectors": 7}, "n_vectors"), ({"n_vectors": 64.0}, "n_vectors"),
    ({"n_vectors": None}, "n_vectors"),
])
def test_calibrate_refuses_bad_seeds_and_counts(kw, named):
    core = Core(W8, model=IDEAL)
    with pytest.raises(InputError) as exc:
        core.calibrate(**kw)
    assert named in _one_line(exc)
    assert core.calibrations == {}


def test_calibrate_takes_numpy_integers():
    a, b = Core(W8, model=IDEAL), Core(W8, model=IDEAL)
    ca = a.calibrate(n_vectors=np.int64(64), seed=np.uint32(5))
    cb = b.calibrate(n_vectors=64, seed=5)
    assert ca.n_vectors == 64 and np.array_equal(ca.shift, cb.shift)


@pytest.mark.parametrize("kw, named", [
    ({"calibrate": "no"}, "calibrate"), ({"calibrate": 1}, "calibrate"),
    ({"seed": 1.0}, "seed"), ({"seed": None}, "seed"), ({"cal_vectors": 3}, "cal_vectors"),
    ({"cal_vectors": 16.0}, "cal_vectors"), ({"n_cores": np.float64(4)}, "n_cores"),
    ({"model": "default"}, "model"),
])
def test_chip_refuses(kw, named):
    with pytest.raises(InputError) as exc:
        _chip(**kw)
    assert named in _one_line(exc)


def test_chip_takes_numpy_integers():
    a = _chip(seed=np.int64(1), cal_vectors=np.int64(16), n_cores=np.int64(4))
    b = _chip(seed=1, cal_vectors=16, n_cores=4)
    x = np.linspace(-3, 3, 16).reshape(2, 8)
    assert np.array_equal(a.run(x).outputs, b.run(x).outputs)
    assert not _chip(calibrate=np.False_).calibrated


# -- G: masked arrays ---------------------------------------------------------------------------
def test_masked_arrays_are_refused():
    mx = np.ma.masked_array(np.ones((2, 8), int), mask=np.eye(2, 8, dtype=bool))
    core = Core(W8, model=IDEAL)
    for call in (lambda: core.forward(mx), lambda: core.forward(mx, exact=True),
                 lambda: core.backward(mx), lambda: core.reference_y(mx),
                 lambda: Core(np.ma.masked_array(W8, mask=W8 > 0.9), model=IDEAL),
                 lambda: Dense("d", np.ma.masked_array(W8, mask=W8 > 0.9)),
                 lambda: Dense("d", W8, bias=np.ma.masked_array(np.ones(8), mask=[1] + [0] * 7)),
                 lambda: _chip(calibrate=False).run(mx.astype(float)),
                 lambda: _chip(calibrate=False).forward_layer("a", mx)):
        with pytest.raises(InputError, match="masked"):
            call()


# -- H: layers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, named", [
    ({"in_step": "1"}, "in_step"), ({"in_step": True}, "in_step"),
    ({"in_step": np.array([1.0, 2.0])}, "in_step"), ({"in_step": 0.0}, "in_step"),
    ({"bias": np.array(["a", "b"])}, "bias"), ({"bias": ["a", "b"]}, "bias"),
    ({"bias": np.array([True, False])}, "bias"), ({"bias": [1.0, np.nan]}, "bias"),
])
def test_dense_refuses(kw, named):
    with pytest.raises(InputError) as exc:
        Dense("d", np.ones((3, 2)), **kw)
    assert named in _one_line(exc)


def test_dense_keeps_numpy_step_as_float():
    d = Dense("d", np.ones((3, 2)), bias=np.array([1, 2], np.int32), in_step=np.float32(0.25))
    assert type(d.in_step) is float and d.in_step == 0.25
    assert d.bias.dtype == float and d.bias.tolist() == [1.0, 2.0]


# -- I: calibration with no unclipped code -----------------------------------------------------
def test_calibrate_refuses_one_output_bit():
    core = Core(W8, model=IDEAL)
    with pytest.raises(InputError, match="out_bits"):
        core.calibrate(out_bits=1)
    assert core.calibrations == {}


def test_calibrate_refuses_when_every_code_clips():
    """An ADC offset far beyond the code range: every code is the top code, nothing to fit;
    no calibration is stored (rather than a NaN-derived no-op)."""
    m = IDEAL.with_(adc={**IDEAL.adc, "offset_lsb": 1000.0})
    core = Core(W8, model=m)
    assert np.all(core.forward(np.ones((4, 8), int)).code == 31)
    with pytest.raises(InputError, match="clip"):
        core.calibrate()
    assert core.calibrations == {}

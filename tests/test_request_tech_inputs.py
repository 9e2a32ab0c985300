"""Argument checks of MvmRequest, program(), the RRAM model and the SKY130 cards."""

import numpy as np
import pytest

from pycim.cim.programming import program
from pycim.cim.request import MvmRequest
from pycim.errors import InputError
from pycim.tech import rram, sky130

W = np.zeros((4, 4))
X = np.zeros(4, int)


@pytest.mark.parametrize("kw, needle", [
    (dict(temp_c="27"), "--temp-c"), (dict(temp_c=True), "--temp-c"),
    (dict(temp_c=float("nan")), "--temp-c"), (dict(temp_c=200), "--temp-c"),
    (dict(vdd_v="1.8"), "vdd_v"), (dict(vdd_v=float("nan")), "vdd_v"),
    (dict(seed=1.5), "--seed"), (dict(seed=float("nan")), "--seed"), (dict(seed="1"), "--seed"),
    (dict(seed=-1), "--seed"), (dict(seed=True), "--seed"),
    (dict(ideal="no"), "ideal"), (dict(ideal=1), "ideal"),
    (dict(prog_tol_s="1e-6"), "prog_tol_s"), (dict(prog_tol_s=float("nan")), "prog_tol_s"),
])
def test_mvm_request_refuses(kw, needle):
    with pytest.raises(InputError, match=needle) as exc:
        MvmRequest(W, X, **kw)
    assert "\n" not in str(exc.value)


def test_mvm_request_accepts_numpy_scalars():
    r = MvmRequest(W, X, seed=np.int64(7), temp_c=np.float64(50.0), vdd_v=np.float32(1.8),
                   ideal=np.bool_(True))
    assert r.seed == 7 and type(r.seed) is int and r.ideal is True


@pytest.mark.parametrize("kw, needle", [
    (dict(tol_s=float("nan")), "tol_s"), (dict(tol_s=-1e-6), "tol_s"), (dict(tol_s=1.0), "tol_s"),
    (dict(tol_s=True), "tol_s"), (dict(seed=-1), "seed"), (dict(seed=2.0), "seed"),
])
def test_program_refuses(kw, needle):
    kw = {"seed": 0, **kw}
    with pytest.raises(InputError, match=needle):
        program(np.array([[0.5, -0.5]]), **kw)


def test_program_same_for_numpy_and_python_seeds():
    w = np.array([[0.5, -0.25], [1.0, 0.0]])
    a, b = program(w, 3), program(w, np.int64(3))
    np.testing.assert_array_equal(a.g_pos_s, b.g_pos_s)
    assert np.all(np.isfinite(a.g_pos_s)) and np.all(a.g_pos_s > 0)


@pytest.mark.parametrize("t", [0.0, -10.0, float("nan"), np.array([300.0, 0.0])])
def test_gap_rate_refuses_non_positive_temperature(t):
    with pytest.raises(InputError, match="temp_k"):
        rram.gap_rate_m_per_s(0.5, 1e-9, t)


def test_gap_rate_at_a_real_temperature():
    assert np.isfinite(rram.gap_rate_m_per_s(0.5, 1e-9, 300.0))


@pytest.mark.parametrize("kw", [dict(g0_m=1e-300), dict(v0_v=1e-300), dict(i0_a=5e-324)])
def test_rram_params_must_give_a_readable_cell(kw):
    with pytest.raises(InputError, match="read conductance range"):
        rram.RramParams(**kw)


def test_rram_params_and_v_read_take_numpy_floats():
    assert rram.RramParams(i0_a=np.float64(61.4e-6)) == rram.RramParams()
    g = rram.read_conductance_s(1e-9, np.float32(0.2))
    assert g == pytest.approx(float(rram.read_conductance_s(1e-9, 0.2)), rel=1e-6)
    with pytest.raises(InputError, match="v_read_v"):
        rram.read_conductance_s(1e-9, True)


@pytest.mark.parametrize("w, l_", [(1e-300, 1e-6), (1e-6, 4e-13)])
def test_flat_card_below_the_grid_names_the_range(w, l_):
    with pytest.raises(InputError, match=r"rounds to 0 at 1 pm; the PDK's nfet_01v8 bins cover"):
        sky130.flat_card("nfet_01v8", w, l_)


@pytest.mark.parametrize("w", ["1e-6", True])
def test_flat_card_refuses_non_numbers(w):
    with pytest.raises(InputError, match="w_m must be a number"):
        sky130.flat_card("nfet_01v8", w, 1e-6)

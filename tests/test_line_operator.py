"""The macro-model's line operator (driven lines behind a series resistance) against ngspice.

The reference is a second simulator on the plain circuit: the array of SPICE resistors, every
driven line reached from an ideal source through its own resistor, every other line floating
(DC operating point). Nothing of :func:`pycim.cim.closed_form.line_operator` is used to build it.
"""

import numpy as np
import pytest

from pycim.cim.closed_form import line_operator, sense_views
from pycim.cim.mapping import interleave_rows, transposable_blocks, weights_to_conductances
from pycim.netlist.array import IDEAL_ACCESS, IDEAL_WIRES, ArraySpec, array_circuit
from pycim.netlist.circuit import Resistor, VSource
from pycim.sim import Op

V_REF, V_READ = 0.9, 0.2


def _spice_lines(ngspice, g_phys, v_drive, r_drive, direction, spec=None):
    """Floating-line voltages minus Vref of ``g_phys`` (rows x cols) with the rows (forward)
    or the columns (backward) driven to ``v_drive`` + Vref through ``r_drive`` (``spec``: the
    array, default resistor cells with ideal wires), read at the lines' ports."""
    c = array_circuit(spec or ArraySpec(g_phys, cell="resistor", access=IDEAL_ACCESS,
                                        wire=IDEAL_WIRES))
    port = "bl" if direction == "forward" else "sl"
    for i, (v, r) in enumerate(zip(v_drive, r_drive)):
        c.add(VSource(f"VD{i}", f"drv{i}", "0", dc_v=float(V_REF + v)),
              Resistor(f"RD{i}", f"drv{i}", f"{port}{i}", float(r)))
    res = ngspice.run(c, Op())
    n = g_phys.shape[1] if direction == "forward" else g_phys.shape[0]
    other = "sl" if direction == "forward" else "bl"
    return np.array([res.value(f"{other}{j}") for j in range(n)]) - V_REF


def _case(rng, n_in, n_out):
    gp, gn = weights_to_conductances(rng.uniform(-1, 1, (n_in, n_out)))
    return gp, gn


@pytest.mark.parametrize("mapping", ["row_pair", "transposable"])
def test_forward_operator_matches_ngspice(ngspice, rng, mapping):
    gp, gn = _case(rng, 6, 5)
    x = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], 6)
    g = interleave_rows(gp, gn) if mapping == "row_pair" else transposable_blocks(gp, gn)
    r_rows = rng.uniform(2e3, 8e3, g.shape[0])  # big enough to move the lines by mV
    v_rows = np.repeat(x, 2) * np.tile([1.0, -1.0], 6) * V_READ  # +x on even, -x on odd rows
    v_sim = _spice_lines(ngspice, g, v_rows, r_rows, "forward")
    if mapping == "transposable":
        v_sim = v_sim[0::2]  # the sensed columns (odd: spare negated copies)
    a = line_operator(gp, gn, "forward", mapping, r_rows)
    np.testing.assert_allclose(V_READ * x @ a, v_sim, atol=1e-9)
    n, s = sense_views(gp, gn, "forward", mapping)
    assert np.max(np.abs(V_READ * x @ (n / s) - v_sim)) > 2e-3  # R really moves the lines


def test_backward_row_pair_operator_matches_ngspice(ngspice, rng):
    gp, gn = _case(rng, 4, 6)
    x = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], 6)
    g = interleave_rows(gp, gn)  # 8 bit-lines sensed, 6 source-lines driven
    r_cols = rng.uniform(2e3, 8e3, 6)
    v_sim = _spice_lines(ngspice, g, x * V_READ, r_cols, "backward")
    a = line_operator(gp, gn, "backward", "row_pair", r_cols)
    np.testing.assert_allclose(V_READ * x @ a, v_sim, atol=1e-9)
    n, s = sense_views(gp, gn, "backward", "row_pair")
    assert np.max(np.abs(V_READ * x @ (n / s) - v_sim)) > 2e-3


def test_zero_resistance_is_the_closed_form_and_bad_values_are_refused(rng):
    gp, gn = _case(rng, 3, 4)
    for d in ("forward", "backward"):
        n, s = sense_views(gp, gn, d)
        np.testing.assert_array_equal(line_operator(gp, gn, d), n / s)
        np.testing.assert_allclose(line_operator(gp, gn, d, r_drive_ohm=1e-9), n / s,
                                   rtol=1e-6)
    from pycim.errors import InputError

    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InputError):
            line_operator(gp, gn, "forward", r_drive_ohm=bad)


def test_equal_inputs_lose_nothing(rng):
    """Every line at the common input: no cell carries current, no drop (the sag is not a
    plain per-row gain)."""
    gp, gn = _case(rng, 5, 7)
    a = line_operator(gp, gn, "backward", r_drive_ohm=5e3)
    np.testing.assert_allclose(np.ones(7) @ a, 1.0, rtol=1e-12)


# -- the wires resolved by position (wire_line_operator) ---------------------------------------

def _spice_wired_lines(ngspice, g_phys, v_drive, r_drive, direction, wire, taps):
    """:func:`_spice_lines` on the array generator's own wire ladders (one node per cell) with
    every port at its TNSA tap: the sensed lines read at their ports."""
    spec = ArraySpec(g_phys, cell="resistor", access=IDEAL_ACCESS, wire=wire,
                     bl_tap=taps[0], sl_tap=taps[1])
    return _spice_lines(ngspice, g_phys, v_drive, r_drive, direction, spec)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_wire_operator_matches_ngspice_on_the_wired_array(ngspice, rng, direction):
    """12 x 40 physical cells (6 row pairs), wires of 320 ohm per cell pitch (a 200 ohm/um
    wire, to move the lines by mV on so few cells), TNSA taps (bit-lines tapped at columns 8,
    24 and 39, source-lines at row 8), drivers of 200-800 ohm. The wire operator must match
    the SPICE operating point to 1 nV; the lumped operator (the same wire as a drive
    resistance of R n / 6) and the same wires tapped at line ends must not."""
    from pycim.cim.closed_form import wire_line_operator
    from pycim.cim.mapping import tnsa_taps
    from pycim.netlist.array import WireSpec

    gp, gn = _case(rng, 6, 40)
    g = interleave_rows(gp, gn)
    wire = WireSpec(r_ohm_per_um=200.0, c_f_per_um=0.0, segment_cells=1)
    r_cell = wire.r_ohm_per_um * wire.pitch_x_um
    taps = tnsa_taps(*g.shape)
    assert len(set(taps[0])) == 3 and set(taps[1]) == {8}
    n_d = g.shape[0] if direction == "forward" else g.shape[1]
    r_d = rng.uniform(200.0, 800.0, n_d)
    if direction == "forward":
        x = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], 6)
        v_drive = np.repeat(x, 2) * np.tile([1.0, -1.0], 6) * V_READ
    else:
        x = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], 40)
        v_drive = x * V_READ
    v_sim = _spice_wired_lines(ngspice, g, v_drive, r_d, direction, wire, taps)
    a = wire_line_operator(gp, gn, direction, r_drive_ohm=r_d, r_bl_cell_ohm=r_cell,
                           r_sl_cell_ohm=wire.r_ohm_per_um * wire.pitch_y_um)
    np.testing.assert_allclose(V_READ * x @ a, v_sim, atol=1e-9)
    n_cells = g.shape[1] if direction == "forward" else g.shape[0]
    lumped = line_operator(gp, gn, direction, r_drive_ohm=r_d + r_cell * n_cells / 6)
    assert np.max(np.abs(V_READ * x @ lumped - v_sim)) > 1e-3
    ends = _spice_wired_lines(ngspice, g, v_drive, r_d, direction, wire,
                              ((0,) * g.shape[0], (0,) * g.shape[1]))
    assert np.max(np.abs(ends - v_sim)) > 1e-3  # the taps matter at this size


def test_wire_operator_refuses_bad_values(rng):
    from pycim.cim.closed_form import wire_line_operator
    from pycim.errors import InputError

    gp, gn = _case(rng, 2, 3)
    for kw in ({"r_drive_ohm": 0.0}, {"r_drive_ohm": float("nan")}, {"r_bl_cell_ohm": -1.0},
               {"r_sl_cell_ohm": float("inf")}):
        with pytest.raises(InputError):
            wire_line_operator(gp, gn, "forward", **{"r_drive_ohm": 100.0, **kw})
    with pytest.raises(InputError):
        wire_line_operator(gp, gn, "sideways", r_drive_ohm=100.0)


# -- the wires' term of the macro-model (wire_correction) ----------------------------------------

@pytest.mark.parametrize("n_in,n_out,direction,mapping", [
    (16, 40, "forward", "row_pair"), (40, 16, "backward", "row_pair"),
    (12, 20, "forward", "transposable"), (20, 12, "backward", "transposable")])
def test_wire_correction_is_the_wired_operator_less_the_lumped(rng, n_in, n_out, direction,
                                                               mapping):
    """The fixed-point iteration against the exact block Gauss-Seidel (itself against ngspice,
    above), 5 ohm per cell pitch (the correction is then mV per unit drive, 4-30x a full
    core's) and drivers of 100-400 ohm: equal to 1e-8 per unit drive; given planes, the
    planes' rows of it."""
    from pycim.cim.closed_form import wire_correction, wire_line_operator

    gp, gn = _case(rng, n_in, n_out)
    n_d = (2 * n_in if direction == "forward" else
           (n_out if mapping == "row_pair" else 2 * n_out))
    r_d = rng.uniform(100.0, 400.0, n_d)
    kw = {"r_drive_ohm": r_d, "r_bl_cell_ohm": 5.0, "r_sl_cell_ohm": 5.0}
    exact = (wire_line_operator(gp, gn, direction, mapping, **kw)
             - line_operator(gp, gn, direction, mapping, r_d))
    assert np.abs(exact).max() > 1e-3  # the wires do move the lines here
    da = wire_correction(gp, gn, direction, mapping, **kw)
    np.testing.assert_allclose(da, exact, atol=1e-8)
    x = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], (3, exact.shape[0]))
    np.testing.assert_allclose(wire_correction(gp, gn, direction, mapping, planes=x, **kw),
                               x @ exact, atol=1e-8)


def test_wire_correction_converges_where_its_change_grows_first():
    """A one-column core of 128 rows, every weight +1, drivers of 45 ohm (the packaged model's),
    the default wires: the iteration's change per pass grows over its first passes (3.7e-6,
    8.7e-6 per unit drive, then 6.4e-7, ...) and then converges; until the twenty-ninth round
    that growth was taken for divergence (a RuntimeError from every full-batch Core call on
    such weights). Against the exact block Gauss-Seidel."""
    from pycim.cim.closed_form import wire_correction, wire_line_operator
    from pycim.cim.mapping import weights_to_conductances

    gp, gn = weights_to_conductances(np.ones((128, 1)))
    exact = (wire_line_operator(gp, gn, "forward", r_drive_ohm=45.0)
             - line_operator(gp, gn, "forward", r_drive_ohm=45.0))
    assert np.abs(exact).max() > 1e-3
    np.testing.assert_allclose(wire_correction(gp, gn, "forward", r_drive_ohm=45.0, tol=1e-10),
                               exact, atol=1e-9)


def test_wire_correction_refuses_what_it_cannot_solve(rng):
    from pycim.cim.closed_form import wire_correction
    from pycim.errors import InputError

    gp, gn = _case(rng, 40, 16)
    with pytest.raises(RuntimeError, match="does not converge"):  # 50 ohm per cell: r G ~ 1
        wire_correction(gp, gn, "backward", r_drive_ohm=300.0, r_bl_cell_ohm=50.0,
                        r_sl_cell_ohm=50.0)
    for args in (("sideways",), ("forward", 45.0), ("backward", "row-pair")):
        for f in (line_operator, sense_views):  # no direction or mapping taken for another
            with pytest.raises(InputError, match="direction|mapping"):
                f(gp, gn, *args)
    for kw in ({"r_drive_ohm": -1.0}, {"tol": 0.0}, {"planes": np.ones((2, 3))},
               {"planes": np.full((1, 40), np.nan)}, {"r_bl_cell_ohm": 0.0}):
        with pytest.raises(InputError):
            wire_correction(gp, gn, "forward", **kw)


def test_model_plane_lines_take_the_wires_either_way(rng):
    """A model with ``wire_scale`` 1: a request's few planes (the wires solved for them) and
    many planes (through the whole operator) give planes @ line_operator; with 0, the wires
    are absent (the lumped operator)."""
    from pycim.cim.closed_form import wire_correction
    from pycim.macro import model as model_mod
    from pycim.macro.model import MacroModel

    m0 = MacroModel.ideal()
    m0 = m0.with_(line={**m0.line, "r_drive_ohm": 150.0, "r_series_ohm": 2e3})
    m1 = m0.with_(line={**m0.line, "wire_scale": 1.0})
    gp, gn = _case(rng, 24, 48)
    a0, a1 = m0.line_operator(gp, gn, "forward"), m1.line_operator(gp, gn, "forward")
    np.testing.assert_array_equal(a0, m1.lumped_operator(gp, gn, "forward"))
    ge = (m1.effective_g_s(gp), m1.effective_g_s(gn))
    tol = model_mod.WIRE_TOL  # the model's convergence per unit drive
    np.testing.assert_allclose(a1 - a0, wire_correction(*ge, "forward", r_drive_ohm=150.0),
                               atol=tol)
    assert np.abs(a1 - a0).max() > 30 * tol
    for n in (2, 60):  # fewer and more planes than 2 x 24 inputs
        x = rng.choice([-1.0, 0.0, 1.0], (n, 24))
        np.testing.assert_allclose(m1.plane_lines(gp, gn, x, "forward"), x @ a1,
                                   atol=24 * tol)
        np.testing.assert_allclose(m0.plane_lines(gp, gn, x, "forward"), x @ a0, atol=1e-12)
    # a kept system (a Core's) serves any later planes of the same array with the same numbers,
    # and refuses a call of the other direction
    sys_ = m1.plane_system(gp, gn, "forward")
    for n in (1, 3):
        x = rng.choice([-1.0, 0.0, 1.0], (n, 2, 24))  # (batch, planes, inputs)
        np.testing.assert_array_equal(m1.plane_lines(gp, gn, x, "forward", system=sys_),
                                      m1.plane_lines(gp, gn, x, "forward"))
    with pytest.raises(ValueError, match="forward"):
        m1.plane_lines(gp, gn, np.ones((1, 48)), "backward", system=sys_)


def test_row_by_row_cumsum_is_numpys_bit_for_bit():
    """The wire ladders' column-wise cumulative sum (``_cumsum_rows``, row by row for speed)
    is ``np.cumsum(axis=0)`` bit for bit, for a full core's shape and edge shapes."""
    from pycim.cim.closed_form import _cumsum_rows

    rng = np.random.default_rng(7)
    for shape in ((256, 256), (1, 5), (3, 1), (129, 300)):
        s = rng.standard_normal(shape) * 10.0 ** rng.uniform(-12, 0, shape)
        assert np.array_equal(_cumsum_rows(s, np.empty_like(s)), np.cumsum(s, axis=0))

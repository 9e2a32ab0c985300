"""Array generator: weighted-average MVM equation, IR drop vs an independent nodal solve."""

import numpy as np
import pytest

from nodal import solve_array
from pycim.netlist.array import (IDEAL_ACCESS, IDEAL_WIRES, ArraySpec, WireSpec, dc_drive_circuit,
                                 row_voltages)
from pycim.sim import Op
from pycim.cim.mapping import interleave_rows, weights_to_conductances

V_REF, V_READ = 0.9, 0.1


def signed_case(rng, n_in, n_out):
    w = rng.uniform(-1, 1, (n_in, n_out))
    x = rng.choice([-1.0, 1.0], n_in)
    gp, gn = weights_to_conductances(w)
    return gp, gn, x


def sensed(res, cols):
    return np.array([res.value(f"sl{c}") for c in range(cols)])


@pytest.mark.parametrize("engine", ["ngspice", "vacask"])
def test_weighted_average_equation_16x16(request, rng, engine):
    eng = request.getfixturevalue(engine)
    gp, gn, x = signed_case(rng, 8, 16)  # 16 physical rows x 16 columns
    spec = ArraySpec(interleave_rows(gp, gn), cell="linear", access=IDEAL_ACCESS, wire=IDEAL_WIRES)
    res = eng.run(dc_drive_circuit(spec, row_voltages(x, V_REF, V_READ)), Op())
    v_sl = sensed(res, 16) - V_REF
    closed = V_READ * (x @ (gp - gn)) / (gp + gn).sum(axis=0)
    assert np.max(np.abs(v_sl - closed)) < 1e-3 * V_READ
    assert np.ptp(closed) > 0.2 * V_READ  # outputs really vary: the check is not vacuous


def test_wire_resistance_matches_nodal_solve_and_grows_with_size(ngspice, rng):
    errors = []
    for n in (16, 64, 128):
        gp, gn, x = signed_case(rng, n // 2, n)
        wire = WireSpec(c_f_per_um=0.0)
        spec = ArraySpec(interleave_rows(gp, gn), cell="linear", access=IDEAL_ACCESS, wire=wire)
        v_rows = row_voltages(x, V_REF, V_READ)
        res = ngspice.run(dc_drive_circuit(spec, v_rows), Op())
        v_sim = sensed(res, n)
        r_seg = wire.r_ohm_per_um * wire.pitch_x_um
        v_ref = solve_array(spec.g_s, v_rows, r_seg, wire.r_ohm_per_um * wire.pitch_y_um)
        np.testing.assert_allclose(v_sim - V_REF, v_ref - V_REF, rtol=1e-6, atol=1e-9)
        closed = V_READ * (x @ (gp - gn)) / (gp + gn).sum(axis=0)
        errors.append(np.max(np.abs(v_sim - V_REF - closed)) / V_READ)
    assert errors[0] < errors[1] < errors[2], errors
    assert errors[2] > 1e-3  # IR drop is visible at 128 rows with 0.9 ohm/um wires


def test_rram_cells_follow_weighted_average_at_low_read_voltage(ngspice, rng):
    """RRAM cells are nearly linear at 0.1 V: the equation holds to within their non-linearity."""
    gp, gn, x = signed_case(rng, 8, 16)
    spec = ArraySpec(interleave_rows(gp, gn), cell="rram", access=IDEAL_ACCESS, wire=IDEAL_WIRES)
    res = ngspice.run(dc_drive_circuit(spec, row_voltages(x, V_REF, V_READ)), Op())
    closed = V_READ * (x @ (gp - gn)) / (gp + gn).sum(axis=0)
    err = np.max(np.abs(sensed(res, 16) - V_REF - closed))
    assert 1e-6 < err < 0.02 * V_READ


def test_segmented_wires_approach_the_per_cell_ladder(ngspice, rng):
    """RC reduction (WireSpec.segment_cells): k cells share one wire node at the segment's
    middle, the port joins it through the wire between them; total wire C and the R between
    segment nodes are kept, and the error against the per-cell ladder shrinks with k. Measured
    at 128 x 128 (0.9 ohm/um, seed 7): IR drop vs closed form 4.24 mV; k=4 off by 0.05 mV,
    k=16 by 0.20 mV, k=32 by 0.72 mV (at 256 x 256: IR 7.6 mV, k=16 0.35 mV, k=32 0.79 mV)."""
    n = 128
    gp, gn, x = signed_case(rng, n // 2, n)
    closed = V_READ * (x @ (gp - gn)) / (gp + gn).sum(axis=0)
    v = {}
    for k in (1, 4, 16, 32):
        spec = ArraySpec(interleave_rows(gp, gn), cell="linear", access=IDEAL_ACCESS,
                         wire=WireSpec(segment_cells=k))
        res = ngspice.run(dc_drive_circuit(spec, row_voltages(x, V_REF, V_READ)), Op())
        v[k] = sensed(res, n) - V_REF
        elems = [e for e in spec_elements(spec)]
        r_tot = sum(e.r_ohm for e in elems if e.name.startswith("RB0_"))
        c_tot = sum(e.c_f for e in elems if e.name.startswith("CS") and e.name.split("_")[1] == "3")
        wire = spec.wire
        assert r_tot == pytest.approx(wire.r_ohm_per_um * wire.pitch_x_um * (n - k), rel=1e-12)
        assert c_tot == pytest.approx(wire.c_f_per_um * wire.pitch_y_um * n, rel=1e-12)
    ir = np.abs(v[1] - closed).max()
    e4, e16, e32 = (np.abs(v[k] - v[1]).max() for k in (4, 16, 32))
    assert ir > 1e-3 * V_READ
    assert e4 < 0.03 * ir and e16 < 0.1 * ir and e32 < 0.3 * ir and e4 < e16 < e32


def spec_elements(spec):
    from pycim.netlist.array import array_circuit

    return list(array_circuit(spec).iter_elements())


def test_access_fet_without_body_network_keeps_dc(ngspice, rng):
    """AccessSpec(body_network=False): the PDK card with rbodymod=0 (three BSIM4 nodes fewer
    per cell). The body network carries only junction leakage at DC, so the sensed lines of a
    1T1R array agree with the full card to well below a microvolt."""
    from pycim.netlist.array import AccessSpec

    gp, gn, x = signed_case(rng, 4, 6)
    v = {}
    for bn in (True, False):
        spec = ArraySpec(interleave_rows(gp, gn), cell="rram_read", access=AccessSpec(body_network=bn),
                         wire=WireSpec())
        card = spec.access.card()
        assert dict(card.model_params)["rbodymod"] == (1.0 if bn else 0.0)
        assert card.model_name.endswith("__rb0") != bn
        res = ngspice.run(dc_drive_circuit(spec, row_voltages(x, V_REF, V_READ)), Op())
        v[bn] = sensed(res, 6) - V_REF
    assert np.ptp(v[True]) > 0.01 * V_READ
    np.testing.assert_allclose(v[False], v[True], rtol=0, atol=1e-7)


def test_access_fets_start_newton_near_their_read_bias(ngspice, rng):
    """dc_drive_circuit starts each access FET's Newton iteration at the read bias (ngspice's
    ``ic=vds,vgs,vbs``). Against the converged operating point, solved from BSIM4's own guess
    (the same deck with the starting points removed), every FET's guess lies within 0.15 V of
    its actual vgs, vds and vbs, and the two operating points agree within the Newton
    tolerance (vntol 1 uV). VACASK's netlist carries no starting points."""
    import re
    from dataclasses import replace
    from pathlib import Path

    from pycim.netlist.array import AccessSpec
    from pycim.netlist.circuit import Mosfet, vacask_lines

    gp, gn, x = signed_case(rng, 8, 12)
    spec = ArraySpec(interleave_rows(gp, gn), cell="rram_read", access=AccessSpec(),
                     wire=WireSpec())
    c = dc_drive_circuit(spec, row_voltages(x, V_REF, V_READ))
    fets = [e for e in c.iter_elements() if isinstance(e, Mosfet)]
    assert len(fets) == 16 * 12 and all(f.op_guess_v is not None for f in fets)
    deck = ngspice.deck(c, Op())
    assert len(re.findall(r"^M\S+ .* ic=\S+$", deck, re.M)) == 16 * 12
    with_guess = ngspice.run(c, Op())
    bare = dc_drive_circuit(spec, row_voltages(x, V_REF, V_READ))
    bare.map_elements(lambda e: replace(e, op_guess_v=None) if isinstance(e, Mosfet) else e)
    assert " ic=" not in ngspice.deck(bare, Op())
    own = ngspice.run(bare, Op())
    names = [k for k in own.names if not k.startswith("i(")]  # node voltages
    dv = max(abs(with_guess.value(k) - own.value(k)) for k in names)
    assert dv < 1e-6, dv
    v = lambda n: 0.0 if n == "0" else own.value(n)
    for f in fets:
        actual = (v(f.d) - v(f.s), v(f.g) - v(f.s), v(f.b) - v(f.s))
        assert np.allclose(f.op_guess_v, actual, rtol=0, atol=0.15), (f.name, actual)
    assert " ic=" not in "\n".join(vacask_lines(c, module_dir=Path("/x")))


def test_mosfet_op_guess_is_validated():
    from pycim.errors import InputError
    from pycim.netlist.circuit import Mosfet

    for bad in ((0.0, 1.0), (0.0, float("nan"), 0.0), (0.0, 50.0, 0.0), "0,1,0",
                (0.0, "x", 0.0)):
        with pytest.raises(InputError):
            Mosfet("M1", "d", "g", "s", "0", "nch", 1e-6, 1e-6, op_guess_v=bad)
    m = Mosfet("M1", "d", "g", "s", "0", "nch", 1e-6, 1e-6, op_guess_v=[0, np.float32(1.5), -1])
    assert m.op_guess_v == (0.0, 1.5, -1.0) and hash(m)


def test_native_resistor_cells_equal_linear_va_cells():
    """The benchmark's native floor (plain SPICE resistors) is the same circuit as the
    Verilog-A linear cells: same settled SL voltages (wires included)."""
    from pycim.netlist.array import ArraySpec, WireSpec, dc_drive_circuit, row_voltages
    from pycim.netlist.array import IDEAL_ACCESS
    from pycim.sim import NgspiceEngine, Op

    rng = np.random.default_rng(4)
    gp, gn = weights_to_conductances(rng.uniform(-1, 1, (6, 5)))
    g = interleave_rows(gp, gn)
    v = row_voltages(rng.choice([-1.0, 1.0], 6), 0.9, 0.1)
    out = {}
    for cell in ("linear", "resistor"):
        spec = ArraySpec(g, cell=cell, access=IDEAL_ACCESS, wire=WireSpec(r_ohm_per_um=50.0))
        res = NgspiceEngine().run(dc_drive_circuit(spec, v), Op())
        out[cell] = np.array([res.value(f"sl{c}") for c in range(5)])
    np.testing.assert_allclose(out["resistor"], out["linear"], atol=1e-9)
    assert np.ptp(out["linear"]) > 5e-3  # the lines carry signal

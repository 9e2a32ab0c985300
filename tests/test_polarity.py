"""The per-polarity line network (issue 18 item 2, twenty-sixth round): each driven line's
drive resistance and its cells' series resistance depart from the reference network by an
amount set by the line's drive polarity (:class:`pycim.cim.polarity.PolaritySystem`, the
macro-model's ``dr_*_ohm`` terms).

The reference is ngspice on the plain circuit: SPICE resistors for the cells (each 1/G plus
its driven line's series resistance), every driven line behind its own resistor from an ideal
source, every other line floating (DC operating point), as ``tests/test_line_operator.py``
builds it. The first-order network must agree with it to second order in the departures: its
error quarters when the departures halve.
"""

import numpy as np
import pytest

from pycim.cim.closed_form import line_operator
from pycim.cim.polarity import POLARITY_TERMS, PolaritySystem
from pycim.cim.mapping import interleave_rows, transposable_blocks, weights_to_conductances
from pycim.errors import InputError
from pycim.netlist.array import IDEAL_ACCESS, IDEAL_WIRES, ArraySpec, array_circuit
from pycim.netlist.circuit import Resistor, VSource
from pycim.sim import Op

V_REF, V_READ = 0.9, 0.2
R_DRIVE, R_SERIES = 300.0, 3000.0  # the reference network, ohm
#: departures of drive +, drive -, series +, series - (ohm), of the size the fits find
DEPARTURES = np.array([-120.0, 90.0, 2000.0, -1500.0])
CASES = [("forward", "row_pair"), ("forward", "transposable"), ("backward", "row_pair")]


def _physical(gp, gn, direction, mapping):
    g = interleave_rows(gp, gn) if mapping == "row_pair" else transposable_blocks(gp, gn)
    return g.T if direction == "backward" else g  # (driven, floating)


def _levels(x, direction, mapping):
    """Physical drive levels of inputs x: a row pair drives +x, -x."""
    if direction == "forward" or mapping == "transposable":
        return np.ravel(np.column_stack([x, -x]))
    return x


def _spice_lines(ngspice, g_df, u, r_drive, r_series, direction):
    """Floating-line voltages minus Vref (per unit read) with driven line i at u_i Vread behind
    r_drive[i] and each of its cells 1/G + r_series[i]: the circuit built from scratch."""
    g_eff = g_df / (1.0 + g_df * r_series[:, None])
    g_phys = g_eff.T if direction == "backward" else g_eff  # rows x cols of the array
    c = array_circuit(ArraySpec(g_phys, cell="resistor", access=IDEAL_ACCESS, wire=IDEAL_WIRES))
    port, other = ("bl", "sl") if direction == "forward" else ("sl", "bl")
    for i, (v, r) in enumerate(zip(u, r_drive)):
        c.add(VSource(f"VD{i}", f"drv{i}", "0", dc_v=float(V_REF + V_READ * v)),
              Resistor(f"RD{i}", f"drv{i}", f"{port}{i}", float(r)))
    res = ngspice.run(c, Op())
    return (np.array([res.value(f"{other}{j}") for j in range(g_df.shape[1])]) - V_REF) / V_READ


def _polar(u, dep, ref):
    """Per driven line: the reference plus the departure of its polarity (held: none)."""
    return ref + np.where(u > 0, dep[0], np.where(u < 0, dep[1], 0.0))


@pytest.mark.parametrize("direction,mapping", CASES)
def test_polarity_network_is_ngspice_to_second_order(ngspice, rng, direction, mapping):
    gp, gn = weights_to_conductances(rng.uniform(-1, 1, (6, 5)))
    g = _physical(gp, gn, direction, mapping)
    x = np.array([1.0, -1.0, 0.0, 1.0, -1.0, 1.0])[:g.shape[0] // 2] \
        if direction == "forward" or mapping == "transposable" \
        else np.array([1.0, -1.0, 0.0, 1.0, 1.0])
    u = _levels(x, direction, mapping)
    ge = lambda a: a / (1.0 + a * R_SERIES)  # noqa: E731 - the reference's effective cells
    ps = PolaritySystem(ge(gp), ge(gn), direction, mapping, R_DRIVE)
    basis = ps.basis(x)
    assert basis.shape[0] == len(POLARITY_TERMS)
    sensed = (lambda v: v[0::2]) if mapping == "transposable" else (lambda v: v)
    ref = x @ line_operator(ge(gp), ge(gn), direction, mapping, R_DRIVE)
    np.testing.assert_allclose(
        sensed(_spice_lines(ngspice, g, u, np.full(u.size, R_DRIVE), np.full(u.size, R_SERIES),
                            direction)), ref, atol=1e-9)  # the reference network itself
    err, moved = [], []
    for eps in (1.0, 0.5):
        dep = eps * DEPARTURES
        sim = sensed(_spice_lines(ngspice, g, u, _polar(u, dep[:2], R_DRIVE),
                                  _polar(u, dep[2:], R_SERIES), direction))
        err.append(np.max(np.abs(ref + dep @ basis - sim)))
        moved.append(np.max(np.abs(sim - ref)))
    assert moved[1] > 2e-3  # the departures move the lines by mV per volt of read
    assert err[1] < 0.05 * moved[1], (err, moved)  # first order takes most of it
    assert 3.0 < err[0] / err[1] < 5.5, err  # and what is left is second order
    # one term's sign flipped: no longer the circuit
    bad = DEPARTURES * np.array([1.0, 1.0, -1.0, 1.0])
    assert np.max(np.abs(ref + 0.5 * bad @ basis - sim)) > 5 * err[1]


def test_lines_are_linear_in_the_departures_in_either_precision(rng):
    """The share is linear in the departures (the basis weighted by them), sums over the
    planes with their weights, and float32 keeps it to 1e-5 of its size."""
    gp, gn = weights_to_conductances(rng.uniform(-1, 1, (8, 12)))
    for direction, mapping in CASES:
        ps = PolaritySystem(gp, gn, direction, mapping, R_DRIVE)
        n = ps.g.shape[0] // 2 if direction == "forward" or mapping == "transposable" \
            else ps.g.shape[0]
        planes = rng.integers(-1, 2, (5, 3, n)).astype(float)
        full = np.tensordot(DEPARTURES, ps.basis(planes), axes=1)
        np.testing.assert_allclose(ps.lines(planes, DEPARTURES), full, rtol=1e-12, atol=1e-18)
        w = np.array([1.0, 1.9, 3.6])  # held plane weights: summed before the last products
        np.testing.assert_allclose(ps.lines(planes, DEPARTURES, w),
                                   np.einsum("bpn,p->bn", full, w), rtol=1e-12, atol=1e-18)
        single = ps.astype(np.float32).lines(planes.astype(np.float32), DEPARTURES, w)
        assert single.dtype == np.float32
        assert np.max(np.abs(single - np.einsum("bpn,p->bn", full, w))) \
            < 1e-5 * np.max(np.abs(full))
        assert not np.any(ps.lines(planes, np.zeros(4)))
        with pytest.raises(InputError, match="physical lines"):
            ps.lines(planes[..., :-1], DEPARTURES)


def _polar_model(**dr):
    from pycim.macro.model import MacroModel

    m = MacroModel.ideal()
    return m.with_(line={**m.line, "r_drive_ohm": R_DRIVE, "r_series_ohm": R_SERIES, **dr})


def test_model_adds_the_polarity_share_to_its_lines(ngspice, rng):
    """MacroModel.plane_lines with ``dr_*_ohm``: the reference network's lines plus the
    departures' share, which is the circuit's (ngspice) to second order; without them,
    nothing is added and the polarity system is not built."""
    dr = dict(zip(("dr_drive_pos_ohm", "dr_drive_neg_ohm", "dr_series_pos_ohm",
                   "dr_series_neg_ohm"), 0.5 * DEPARTURES))
    m, m0 = _polar_model(**dr), _polar_model()
    gp, gn = weights_to_conductances(rng.uniform(-1, 1, (5, 4)))
    assert m0.polarity_system(gp, gn, "backward") is None
    np.testing.assert_array_equal(m.polarity_coefs(), 0.5 * DEPARTURES)
    planes = np.array([[1.0, -1.0, 0.0, 1.0], [0.0, 1.0, 1.0, -1.0]])
    v, v0 = (mm.plane_lines(gp, gn, planes, "backward") for mm in (m, m0))
    g = _physical(gp, gn, "backward", "row_pair")
    for k, x in enumerate(planes):
        sim = _spice_lines(ngspice, g, x, _polar(x, 0.5 * DEPARTURES[:2], R_DRIVE),
                           _polar(x, 0.5 * DEPARTURES[2:], R_SERIES), "backward")
        assert np.max(np.abs(v[k] - sim)) < 0.05 * np.max(np.abs(v0[k] - sim))
    sys_ = m.plane_system(gp, gn, "backward")
    np.testing.assert_allclose(m.plane_lines(gp, gn, planes, "backward", system=sys_), v,
                               rtol=1e-12)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_core_with_a_polarity_model_agrees_with_the_macro_engine(rng, direction):
    """A Core on a model with per-polarity departures runs the model's own chain (no folded
    fast path: the share is not linear in the drives), per plane in float32, and gives the
    engine's codes (per plane, float64) for the same request and seed."""
    from pycim.cim.request import MvmRequest
    from pycim.macro.core import Core
    from pycim.macro.engine import run_macro_mvm
    from pycim.macro.model import MacroModel

    m = MacroModel.packaged("polarity")
    assert np.any(m.polarity_coefs()) and np.any(m.for_direction("backward").polarity_coefs())
    w = rng.uniform(-1, 1, (24, 16))
    x = rng.integers(-7, 8, (30, 24 if direction == "forward" else 16))
    out = run_macro_mvm(MvmRequest(w, x, 4, 6, direction=direction, engine="macro", seed=5,
                                   adc_full_scale_v=0.1), model=m)
    core = Core(w, model=m, seed=5)
    core.set_adc_full_scale(0.1)
    r = core.forward(x) if direction == "forward" else core.backward(x)
    assert core.fast_chain(direction, 4, 6) is None
    ref = np.array(out["code"])
    assert np.ptp(ref) >= 8  # codes that can tell the share (a few mV = ~1 LSB here)
    assert np.mean(r.code != ref) < 1e-2 and np.max(np.abs(r.code - ref)) <= 1
    no_share = Core(w, model=m.with_(line={**m.line, **{k: 0.0 for k in (
        "dr_drive_pos_ohm", "dr_drive_neg_ohm", "dr_series_pos_ohm", "dr_series_neg_ohm")}},
        line_backward={k: v for k, v in m.line_backward.items() if not k.startswith("dr_")}),
        seed=5)
    no_share.set_adc_full_scale(0.1)
    r0 = no_share.forward(x) if direction == "forward" else no_share.backward(x)
    assert np.mean(r0.code != ref) > 5 * max(np.mean(r.code != ref), 1e-3)  # it matters


def test_polarity_inputs_are_refused_where_they_cannot_apply(rng, tmp_path):
    from pycim.fit import prepare_fit
    from pycim.fit.verilog_a import core_verilog_a
    from pycim.macro.model import MacroModel

    with pytest.raises(InputError, match="unknown name"):
        MacroModel.packaged("fastest")
    with pytest.raises(InputError, match="unknown name"):
        MacroModel.packaged(["polarity"])
    gp, gn = weights_to_conductances(rng.uniform(-1, 1, (3, 4)))
    with pytest.raises(InputError, match="per-polarity"):
        core_verilog_a(_polar_model(dr_drive_pos_ohm=10.0), gp, gn)
    assert "module" in core_verilog_a(_polar_model(), gp, gn)
    with pytest.raises(InputError, match="polarity"):
        prepare_fit(str(tmp_path), str(tmp_path / "m.json"), polarity="yes")
    with pytest.raises(InputError, match="r_drive_ohm"):
        PolaritySystem(gp, gn, "forward", "row_pair", -1.0)


def _nodal(g_df, u, r_drive, r_series):
    """Floating lines per unit read: driven line i at u_i behind r_drive[i], each of its cells
    1/G + r_series[i] (a dense nodal solve, written here from the circuit)."""
    ge = g_df / (1.0 + g_df * r_series[:, None])
    nd, nf = ge.shape
    y = np.zeros((nd + nf, nd + nf))
    y[:nd, :nd] = np.diag(1.0 / r_drive + ge.sum(axis=1))
    y[:nd, nd:], y[nd:, :nd] = -ge, -ge.T
    y[nd:, nd:] = np.diag(ge.sum(axis=0))
    b = np.zeros(nd + nf)
    b[:nd] = u / r_drive
    return np.linalg.solve(y, b)[nd:]


def test_line_fit_finds_the_per_polarity_resistances_of_a_known_network():
    """``fit_line(..., polarity=True)`` on settled lines of a known per-polarity network (the
    nodal solve above; 16 x 16 arrays of four weight scales, both directions): it finds the
    reference resistances within 1 % and each departure within 10 % (what the first order
    and the gain terms leave), and the lines within 2 % of the residual the fit without the
    terms leaves."""
    import pandas as pd

    from pycim import assumptions
    from pycim.cim.closed_form import neuron_lines_v
    from pycim.fit.fits import MvmPoint, fit_line
    from pycim.macro.model import MacroModel

    v_read = assumptions.value("v_read_v")
    rng = np.random.default_rng(3)
    dep = np.array([-80.0, 60.0, 1500.0, -1000.0])
    pts = []
    for direction in ("forward", "backward"):
        for k in range(4):
            gp, gn = weights_to_conductances(rng.uniform(-1, 1, (16, 16)) * (0.5 + k / 6))
            g = _physical(gp, gn, direction, "row_pair")
            planes = rng.integers(-1, 2, (12, 1, 16)).astype(float)
            v = np.empty((12, 1, g.shape[1]))
            for b in range(12):
                u = _levels(planes[b, 0], direction, "row_pair")
                v[b, 0] = v_read * _nodal(g, u, _polar(u, dep[:2], R_DRIVE - 50.0),
                                          _polar(u, dep[2:], R_SERIES))
            p = {"direction": direction, "n_in": 16, "n_out": 16, "in_bits": 2, "seed": k,
                 "read_pulse_s": 2e-8, "adc_full_scale_v": 0.4, "batch": 12}
            zeros = np.zeros((12, g.shape[1]))
            pts.append(MvmPoint(p, gp, gn, planes, v,
                                neuron_lines_v(gp, gn, planes, v_read, direction), zeros, zeros,
                                pd.DataFrame()))
    fit = fit_line(pts, MacroModel.ideal(), polarity=True)
    without = fit_line(pts, MacroModel.ideal())
    for params in (fit.params, fit.params["line_backward"]):
        assert params["r_drive_ohm"] == pytest.approx(R_DRIVE - 50.0, rel=0.01)
        assert params["r_series_ohm"] == pytest.approx(R_SERIES, rel=0.01)
        got = [params[f"dr_{t}_ohm"] for t in POLARITY_TERMS]
        np.testing.assert_allclose(got, dep, rtol=0.1)
    assert fit.rms < 0.02 * without.rms, (fit.rms, without.rms)
    assert not any(without.params[f"dr_{t}_ohm"] for t in POLARITY_TERMS)


def test_pycim_mvm_takes_a_macro_model_by_name_or_file(tmp_path, capsys):
    """``pycim mvm --engine macro --macro-model polarity`` (or a model file): the engine runs
    that model; a name that is neither, another engine, or the JSON output on the model file
    are refused before anything runs."""
    import json

    from pycim.cli import main
    from pycim.macro.model import MacroModel

    rng = np.random.default_rng(7)
    np.save(tmp_path / "w.npy", rng.uniform(-1, 1, (16, 16)))
    np.save(tmp_path / "x.npy", rng.integers(-7, 8, (4, 16)))
    base = ["mvm", "--weights", str(tmp_path / "w.npy"), "--x", str(tmp_path / "x.npy"),
            "--direction", "backward", "--engine", "macro", "--adc-full-scale-v", "0.1"]
    out = {}
    for name in ("default", "polarity"):
        assert main([*base, "--macro-model", name, "--json", str(tmp_path / f"{name}.json")]) == 0
        out[name] = np.array(json.loads((tmp_path / f"{name}.json").read_text())["code"])
    model = tmp_path / "m.json"
    model.write_text(MacroModel.packaged("polarity").to_json())
    assert main([*base, "--macro-model", str(model), "--json", str(tmp_path / "f.json")]) == 0
    np.testing.assert_array_equal(
        np.array(json.loads((tmp_path / "f.json").read_text())["code"]), out["polarity"])
    assert not np.array_equal(out["default"], out["polarity"])  # the model did change
    capsys.readouterr()
    for extra, msg in ((["--macro-model", "bogus"], "neither a packaged model"),
                       (["--macro-model", str(model), "--engine", "spice"], "--engine macro"),
                       (["--macro-model", str(model)], "never replaces an input")):
        json_out = str(model) if msg.startswith("never") else str(tmp_path / "r.json")
        assert main([*base, *extra, "--json", json_out]) == 2
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()

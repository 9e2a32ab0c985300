"""Macro-model and fitting: closed forms, parameter recovery on synthetic data, the committed
default model, the Verilog-A export against the model in ngspice."""

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pycim import assumptions
from pycim.characterize.kinds_fit import problem
from pycim.cim.closed_form import array_activity
from pycim.cim.encoding import bit_planes, magnitude_planes
from pycim.cim.mapping import interleave_rows
from pycim.cim.programming import program
from pycim.cli import main
from pycim.errors import InputError
from pycim.fit.fits import (POINT_DEFAULTS, POINT_KEYS, fit_energy, fit_line, fit_offset,
                            mvm_points)
from pycim.macro.model import MacroModel, OutOfRangeWarning
from pycim.netlist.neuron import NeuronSpec, mvm_schedule

V_READ = assumptions.value("v_read_v")  # the read voltage the flow drives

ROOT = Path(__file__).resolve().parents[1]
FIT_DIR = ROOT / "characterization" / "results" / "fit"
#: the full 256 x 256 cores the default model is also fitted on (characterization/fit_full.toml)
FIT_FULL_DIR = ROOT / "characterization" / "results" / "fit_full"
#: sparse inputs (the active-fraction offsets' leverage; characterization/fit_sparse.toml)
FIT_SPARSE_DIR = ROOT / "characterization" / "results" / "fit_sparse"
#: backward bit-lines of 64 and 128 cells (characterization/fit_mid.toml)
FIT_MID_DIR = ROOT / "characterization" / "results" / "fit_mid"
#: full cores at a fine ADC step (the offsets' leverage; characterization/fit_fine.toml)
FIT_FINE_DIR = ROOT / "characterization" / "results" / "fit_fine"
#: every results directory the packaged default model is fitted on (`make fit`)
DEFAULT_FIT_DIRS = (FIT_DIR, FIT_FULL_DIR, FIT_SPARSE_DIR, FIT_MID_DIR, FIT_FINE_DIR)
DEFAULT = ROOT / "pycim" / "macro" / "default_model.json"
#: the packaged polarity model (`make fit`): the default's sweeps, the spread full cores and
#: the per-polarity drive and series resistances
POLARITY_FIT_DIRS = (*DEFAULT_FIT_DIRS, ROOT / "characterization" / "results" / "fit_spread")
POLARITY = ROOT / "pycim" / "macro" / "polarity_model.json"


# -- the model itself ------------------------------------------------------------------------
def _en_time(spec, in_bits, out_bits):
    """Time of one MVM during which the neuron's OTA second stage is enabled (``en``), read
    off the schedule's phases."""
    sched = mvm_schedule(spec, in_bits, out_bits)
    t = sched.phase_times()
    return sum(t[p.name][1] - t[p.name][0] for p in sched.phases if spec.net("en") in p.high())


def test_latency_equals_the_schedule_for_every_bit_width():
    m, spec = MacroModel.ideal(), NeuronSpec()
    for ib in range(1, 9):
        for ob in range(1, 9):
            assert m.latency_s(ib, ob) == pytest.approx(mvm_schedule(spec, ib, ob).t_stop,
                                                        rel=1e-12)
            assert m.on_time_s(ib, ob) == pytest.approx(_en_time(spec, ib, ob), rel=1e-12)


def test_ideal_model_is_the_closed_form_and_ideal_quantiser():
    m = MacroModel.ideal()
    v = np.linspace(-0.7, 0.7, 101)
    assert np.array_equal(m.line_transfer(v, 4, 32, 1e-3), v)
    assert np.array_equal(m.effective_g_s([1e-6, 4e-5]), np.array([1e-6, 4e-5]))
    # line-referred LSB: 2 * adc_fs / 2^b / (C_s / C_i) = 2 * 0.4 / 64 / (50 fF / 200 fF)
    assert m.lsb_v(6) == pytest.approx(0.05)
    y = np.array([-40.0, -32.0, -0.01, 0.0, 0.99, 31.5, 40.0])
    assert m.output_codes(y, 6).tolist() == [-32, -32, -1, 0, 0, 31, 31]
    assert m.output_codes(y, 6).dtype == np.int64


def test_ideal_energy_first_principles_and_batch_scaling():
    m = MacroModel.ideal()
    e1 = m.energy_j(4, 6, 32, 16, 5e-3, activity=0.4)
    spec = NeuronSpec()
    # each OTA: tail ibias m_tail always, second stage ibias m_out while enabled; the core's
    # one bias generator ibias, all from vdd
    t_lat, t_on = mvm_schedule(spec, 4, 6).t_stop, _en_time(spec, 4, 6)
    i = spec.ibias_a
    assert e1["neuron"] == pytest.approx(
        spec.vdd_v * (16 * (i * spec.m_tail * t_lat + i * spec.m_out * t_on) + i * t_lat),
        rel=1e-12)
    # cells: G (V - V_line)^2 during one read pulse per magnitude plane (3 at 4 bits):
    # 0.4 * 5 mS * v_read^2 * 3 * read_pulse_s
    t_pulse = assumptions.value("read_pulse_s")
    assert e1["array"] == pytest.approx(0.4 * 5e-3 * V_READ ** 2 * 3 * t_pulse, rel=1e-9)
    e3 = m.energy_j(4, 6, 32, 16, 5e-3, batch=3, activity=0.4)
    for k in e1:
        assert e3[k] == pytest.approx(3 * e1[k], rel=1e-12)
    assert e1["total"] == pytest.approx(sum(e1[k] for k in ("array", "drivers", "wordlines",
                                                            "neuron")))


def test_array_activity_closed_form():
    # one column, rows at +1 and -1 with equal G: line at 0, each cell sees Vread^2 -> 1
    g = np.array([[1e-5], [1e-5]])
    assert array_activity(g, np.array([[1.0, -1.0]]), "forward", np.array([1.0])) == \
        pytest.approx(1.0)
    # G1 = 3 G2, both rows at +1 and 0: line at 3/4; (1/4)^2 * 3/4 + (3/4)^2 * 1/4 = 3/16
    g = np.array([[3e-5], [1e-5]])
    assert array_activity(g, np.array([[1.0, 0.0]]), "forward", np.array([1.0])) == \
        pytest.approx(3 / 16)


def test_json_round_trip_and_rejections(tmp_path):
    m = MacroModel.ideal().with_(ranges={"n_rows": [16.0, 128.0]})
    assert MacroModel.from_json(m.to_json()) == m
    with pytest.raises(InputError, match="schema"):
        MacroModel.from_json(json.dumps({"schema": "other/1"}))
    d = json.loads(m.to_json())
    d["line"]["a0"] = "1; .control"
    with pytest.raises(InputError, match="line.a0"):
        MacroModel.from_json(json.dumps(d))
    with pytest.raises(InputError, match="not found"):
        MacroModel.load(tmp_path / "missing.json")


def test_check_range_warns_only_outside():
    m = MacroModel.ideal().with_(ranges={"n_rows": [16.0, 128.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.check_range(n_rows=np.array([16, 64, 128]), unknown_name=1e9)
    with pytest.warns(OutOfRangeWarning, match="n_rows"):
        m.check_range(n_rows=256)


def test_fit_records_and_checks_the_wires_of_its_data():
    """The wires the mvm_fit data were simulated with (their summaries' wire_r_ohm_per_um)
    are the fitted model's range; data of other wires than the ones the fit resolves
    (pycim.assumptions), or of mixed or half-recorded wires, are refused; and a model fitted
    on other wires than the assumption's warns on use."""
    from pycim.fit import _data_circuit

    def _data_wires(summary):
        return _data_circuit(summary, "wire_r_ohm_per_um")

    now = float(assumptions.value("wire_r_ohm_per_um"))

    def summary(*wires):
        return pd.DataFrame({"kind": ["mvm_fit"] * len(wires) + ["ir_drop"],
                             "wire_r_ohm_per_um": [*wires, 5.0]})

    assert _data_wires(summary(now, now)) == pytest.approx(now)
    assert _data_wires(summary(np.nan, np.nan)) is None  # data from before the record
    assert _data_wires(None) is None
    with pytest.raises(InputError, match=f"{3 * now:g} ohm/um.*is {now:g}"):
        _data_wires(summary(3 * now, 3 * now))
    with pytest.raises(InputError, match="wire_r_ohm_per_um of"):
        _data_wires(summary(now, 3 * now))
    with pytest.raises(InputError, match="some do not"):
        _data_wires(summary(now, np.nan))
    wired = MacroModel.ideal().with_(line={**MacroModel.ideal().line, "wire_scale": 1.0})
    assert wired.with_(ranges={"wire_r_ohm_per_um": [now, now]}).range_warnings() == []
    msgs = wired.with_(ranges={"wire_r_ohm_per_um": [3 * now, 3 * now]}).range_warnings()
    assert len(msgs) == 1 and f"fitted on wires of {3 * now:.4g}" in msgs[0]
    # a model that lumps the wires into its drive resistance resolves none: no warning
    assert MacroModel.ideal().with_(
        ranges={"wire_r_ohm_per_um": [3 * now, 3 * now]}).range_warnings() == []


def test_fit_records_and_checks_the_line_drivers_of_its_data():
    """The line drivers' TG widths (switch_w_um, switch_p_w_um) are part of a fit's
    provenance as the wires are: recorded by every mvm_fit point, one value in the data,
    the assumption's now, else refused; a model fitted at other widths warns on use, whether
    or not it resolves the wires."""
    from pycim.fit import _data_circuit

    for name in ("switch_w_um", "switch_p_w_um"):
        assert name in assumptions.CIRCUIT_PROVENANCE
        now = float(assumptions.value(name))
        summary = pd.DataFrame({"kind": ["mvm_fit", "mvm_fit"], name: [now, now]})
        assert _data_circuit(summary, name) == pytest.approx(now)
        with pytest.raises(InputError, match=f"{name} of {2 * now:g} um.*is {now:g}"):
            _data_circuit(summary.assign(**{name: [2 * now, 2 * now]}), name)
        with pytest.raises(InputError, match=f"{name} of {now:g}, {2 * now:g} um"):
            _data_circuit(summary.assign(**{name: [now, 2 * now]}), name)
        assert MacroModel.ideal().with_(ranges={name: [now, now]}).range_warnings() == []
        msgs = MacroModel.ideal().with_(ranges={name: [2 * now, 2 * now]}).range_warnings()
        assert len(msgs) == 1 and f"fitted on {name} = {2 * now:.4g} um" in msgs[0], msgs


def _held_weights(in_bits: int) -> np.ndarray:
    """The chip's plane weights written out: plane n (LSB first) is held on C_hold and sampled
    2^(n-1) times, sample k sharing charge with C_s: w_n = sum_{k=1}^{2^(n-1)} r^k with
    r = C_hold,eff / (C_hold,eff + C_s,eff)."""
    ch = assumptions.value("neuron_c_hold_eff_f")
    cs = assumptions.value("neuron_c_sample_eff_f")
    r = ch / (ch + cs)
    return np.array([sum(r ** k for k in range(1, 2 ** (n - 1) + 1))
                     for n in range(1, magnitude_planes(in_bits) + 1)])


def test_model_plane_weights_are_the_held_line_scheme():
    m = MacroModel.ideal()
    for b in (1, 2, 4, 8):
        assert m.plane_weights(b) == pytest.approx(_held_weights(b), rel=1e-12)
    # the effective drive of each 4-bit input: the sum of its set bits' weights
    w = _held_weights(4)
    assert m.drive(np.array([-7, -5, 0, 3, 6]), 4) == pytest.approx(
        [-w.sum(), -(w[0] + w[2]), 0.0, w[0] + w[1], w[1] + w[2]], rel=1e-12)
    # without charge sharing the scheme is binary
    assert m.with_(c_sample_eff_f=0.0).plane_weights(4) == pytest.approx([1, 2, 4])


def test_model_schema_1_is_refused():
    d = json.loads(MacroModel.ideal().to_json())
    d["schema"] = "pycim.macro/1"
    with pytest.raises(InputError, match="schema"):
        MacroModel.from_json(json.dumps(d))


# -- fits recover known parameters from synthetic data -----------------------------------------
def _synthetic_table(truth: MacroModel, points: list[dict]) -> pd.DataFrame:
    """mvm_fit tables a core obeying ``truth`` exactly would produce. A point with
    ``direction = "backward"`` senses every bit-line on its own (rows of G+ and G-
    interleaved, n_out cells each) with ``truth``'s backward line parameters."""
    rows = []
    for p in points:
        bwd = p.get("direction") == "backward"
        tm = truth.for_direction("backward" if bwd else "forward")
        w, x = problem(p)
        prog = program(w, p["seed"])
        planes = bit_planes(x, p["in_bits"])
        gp, gn = prog.g_pos_s, prog.g_neg_s
        gpe, gne = tm.effective_g_s(gp), tm.effective_g_s(gn)
        if bwd:  # bit-line r = 2i holds row i of G+, 2i + 1 row i of G-: (n_out, 2 n_in)
            g_lines, g_lines_e = interleave_rows(gp, gn).T, interleave_rows(gpe, gne).T
            g_sum = g_lines.sum(axis=0)
            act = (np.abs(planes) @ g_lines) / g_sum  # share of the line's G driven
            # ... weighted by each driven source-line's total conductance (/ 1 mS)
            load = (np.abs(planes) @ (g_lines * g_lines.sum(axis=1)[:, None])) / g_sum / 1e-3
            v_id = V_READ * (planes @ g_lines) / g_sum
            v_e = V_READ * (planes @ g_lines_e) / g_lines_e.sum(axis=0)
            n_rows = p["n_out"]
        else:
            g_sum = (gp + gn).sum(axis=0)
            act = (np.abs(planes) @ (gp + gn)) / g_sum
            load = np.zeros_like(act)  # (forward truths here have no b_load_v)
            v_id = V_READ * (planes @ (gp - gn)) / g_sum
            v_e = V_READ * (planes @ (gpe - gne)) / (gpe + gne).sum(axis=0)
            n_rows = 2 * p["n_in"]
        # each plane's held value: settled_line_v plus c = k_mem (1 - s) of the previous one
        # (s = 1 - exp(-t_track g_sum / (c_settle + c_settle_row n_rows))), written out
        c_line = tm.line["c_settle_f"] + tm.line["c_settle_row_f"] * n_rows
        s_frac = 1 - np.exp(-tm.timing["t_track_s"] * g_sum / c_line)
        c_mem = tm.line["k_mem"] * (1 - s_frac)
        # b_act_v: an offset per unit active fraction, written out
        vs = tm.settled_line_v(v_e, n_rows, g_sum) + tm.line["b_act_v"] * act \
            + tm.line["b_load_v"] * load
        for k in range(1, vs.shape[1]):
            vs[:, k] += c_mem * vs[:, k - 1]
        pw = _held_weights(p["in_bits"])
        pw_l = np.array([sum(pw[n] * c_mem ** (n - j) for n in range(j, len(pw)))
                         for j in range(len(pw))])  # (planes, outputs)
        # the hold pedestal: b_hold per plane at 256 x 256 cells, scaled by the cells (n_rows
        # on each sensed line x g_sum.size sensed lines), held like the signal, written out
        hold = tm.line.get("b_hold_v", 0.0) * n_rows * g_sum.size / 65536.0
        no_hold = tm.with_(line={**tm.line, "b_hold_v": 0.0})
        vl = no_hold.line_transfer(np.einsum("bpn,pn->bn", v_e, pw_l), p["in_bits"], n_rows,
                                   g_sum) \
            + tm.line["b_act_v"] * np.einsum("bpn,pn->bn", act, pw_l) \
            + tm.line["b_load_v"] * np.einsum("bpn,pn->bn", load, pw_l) + hold * pw_l.sum(0)
        code = tm.output_codes(vl / tm.lsb_v(p["out_bits"]), p["out_bits"])
        y = np.einsum("bpn,p->bn", v_id, pw) / tm.lsb_v(p["out_bits"])
        base = {**p}
        for b in range(p["batch"]):
            for j in range(g_sum.size):
                for k in range(planes.shape[1]):
                    rows.append({**base, "record": "line", "vector": b, "output": j, "plane": k,
                                 "v_settled_v": vs[b, k, j], "v_ideal_v": v_id[b, k, j],
                                 "g_sum_s": g_sum[j]})
                rows.append({**base, "record": "code", "vector": b, "output": j,
                             "code": int(code[b, j]), "y_ideal": y[b, j], "g_sum_s": g_sum[j]})
            if bwd:  # the source-lines driven with x, every row's word line pulsed
                lp, n_drv, n_sense, direction = planes[b], p["n_out"], 2 * p["n_in"], "backward"
            else:
                lp = np.repeat(planes[b], 2, axis=1)
                lp[:, 1::2] *= -1
                n_drv, n_sense, direction = 2 * p["n_in"], p["n_out"], "forward"
            # each plane conducts once (one read pulse): equal plane weights
            act = array_activity(interleave_rows(gp, gn), lp, direction, np.ones(len(pw)))
            e = truth.energy_j(p["in_bits"], p["out_bits"], n_drv, n_sense,
                               float((gp + gn).sum()), activity=act, n_wl=2 * p["n_in"])
            rows.append({**base, "record": "energy", "vector": b,
                         **{f"e_{k}_j": v for k, v in e.items()}})
    return pd.DataFrame(rows)


def _pt(n_in, n_out, seed, in_bits=4, out_bits=6, w_scale=1.0, batch=2):
    return {"n_in": n_in, "n_out": n_out, "in_bits": in_bits, "out_bits": out_bits,
            "w_scale": w_scale, "corner": "tt", "temp_c": 27.0, "batch": batch, "seed": seed}


def test_fits_recover_known_parameters_from_synthetic_data():
    base = MacroModel.ideal()
    truth = base.with_(
        line={**base.line, "r_series_ohm": 2500.0, "a0": -0.01, "a_rows": -0.02,
              "a_g": 0.015, "a_cubic": -0.004, "b_line_v": -3e-4, "b0_v": -1.2e-3,
              "c_settle_f": 7e-13, "k_mem": 0.75},
        energy={**base.energy, "k_array": 0.9, "e_drv_row_j": 3e-14, "e_drv_col_j": 2e-14,
                "e_drv_0_j": 1e-13,
                "e_wl_row_j": 5e-14, "e_wl_cell_j": 2e-15, "e_wl_0_j": 1e-12,
                "p_neuron_w": 3e-5, "p_shared_w": 5e-5, "e_neuron_0_j": 2e-12})
    pts = [_pt(8, 8, 11, w_scale=0.5), _pt(16, 8, 12), _pt(32, 16, 13, batch=1),
           _pt(8, 8, 14, in_bits=2, out_bits=4, batch=1),
           _pt(8, 8, 15, in_bits=3, out_bits=8, batch=1)]
    points = mvm_points(_synthetic_table(truth, pts))
    f = fit_line(points, base)
    assert f.rms < 1e-6  # volts: an exact model is fitted exactly
    # whatever the points' weights (each line alike, the default, or each point about alike)
    assert fit_line(points, base, size_weight_exp=0.5).rms < 1e-6
    for bad in (-0.1, 1.5, float("nan"), "0"):
        with pytest.raises(InputError, match="size_weight_exp"):
            fit_line(points, base, size_weight_exp=bad)
    for k in ("r_series_ohm", "c_settle_f", "k_mem", "a0", "a_rows", "a_g", "a_cubic",
              "b_line_v"):
        tol = 0.0 if k in ("r_series_ohm", "c_settle_f", "k_mem") else 2e-4
        assert f.params[k] == pytest.approx(truth.line[k], rel=0.02, abs=tol), k
    m = base.with_(line={**base.line, **f.params})
    off = fit_offset(points, m)
    assert off.params["b0_v"] == pytest.approx(-1.2e-3, abs=0.1 * m.lsb_v(6) / 7)
    assert off.max == 0  # every code reproduced
    # arrays of at most 64 x 16 cells: a pedestal would move no code, so none is fitted
    assert off.params["b_hold_v"] == 0.0
    params, efits = fit_energy(points, m.with_(line={**m.line, "b0_v": off.params["b0_v"]}))
    assert efits[-1].name == "energy_total" and efits[-1].max < 1e-6
    # rows and columns apart (16 x 8, 32 x 16: not square), so no tie between their drivers
    for k in ("k_array", "p_neuron_w", "p_shared_w", "e_wl_cell_j", "e_drv_row_j",
              "e_drv_col_j"):
        assert params[k] == pytest.approx(truth.energy[k], rel=1e-4), k


def test_a_dropped_line_term_is_held_at_zero_and_costs_its_share_of_the_fit():
    """``pycim fit --drop-term``: the term stays 0 in the fitted model and the fit then cannot
    reproduce data that has it exactly (a -0.3 mV line offset, which the other offset terms
    take up only in part), while the full fit is exact; unknown or indispensable terms are
    refused."""
    from pycim.fit.fits import check_drop_terms

    base = MacroModel.ideal()
    truth = base.with_(line={**base.line, "r_series_ohm": 2500.0, "b_line_v": -3e-4,
                             "c_settle_f": 7e-13})
    points = mvm_points(_synthetic_table(truth, [_pt(8, 8, 11), _pt(16, 8, 12)]))
    full = fit_line(points, base)
    assert full.params["b_line_v"] == pytest.approx(-3e-4, rel=0.02) and full.rms < 1e-6
    dropped = fit_line(points, base, drop_terms=("b_line_v",))
    assert dropped.params["b_line_v"] == 0.0
    assert dropped.rms > 10 * max(full.rms, 1e-6)  # left to the other terms: not reproduced
    with pytest.raises(InputError, match="unknown line term 'b_nope'"):
        check_drop_terms(["b_nope"])
    with pytest.raises(InputError, match="cannot be dropped"):
        check_drop_terms(["r_series_ohm"])
    assert check_drop_terms(["b_act_line_v", "b_act_line_v"]) == ("b_act_line_v",)


def test_fit_offset_finds_a_small_pedestal_the_least_squares_misses():
    """A full-core-sized pedestal (-0.4 mV at 256 x 256 cells, a 128 x 128 array's is half of
    it: a fraction of a 6-bit LSB) on exact synthetic codes: least squares on the quantised
    codes alone puts it at the wrong sign (+0.6 mV), and b0 cannot absorb that; the scan of
    the pedestal then b0 reproduces every code and lands within 0.1 mV of the truth."""
    base = MacroModel.ideal()
    truth = base.with_(line={**base.line, "r_series_ohm": 2500.0, "a0": -0.01, "a_rows": -0.02,
                             "a_g": 0.015, "a_cubic": -0.004, "b_line_v": -3e-4,
                             "b0_v": -1.2e-3, "c_settle_f": 7e-13, "k_mem": 0.75,
                             "b_hold_v": -4e-4})
    pts = [_pt(8, 8, 11, w_scale=0.5), _pt(16, 8, 12), _pt(32, 16, 13, batch=1),
           _pt(8, 8, 14, in_bits=2, out_bits=4, batch=1),
           _pt(8, 8, 15, in_bits=3, out_bits=8, batch=1), _pt(128, 128, 16, batch=1)]
    points = mvm_points(_synthetic_table(truth, pts))
    f = fit_line(points, base)
    m = base.with_(line={**base.line, **f.params})
    off = fit_offset(points, m)
    assert off.max == 0  # every code reproduced
    assert off.params["b_hold_v"] == pytest.approx(-4e-4, abs=1e-4)
    assert off.params["b0_v"] == pytest.approx(-1.2e-3, abs=0.1 * m.lsb_v(6) / 7)


def test_fits_recover_per_direction_line_parameters_from_synthetic_data():
    """Forward and backward MVMs of a core whose bit-lines have their own capacitance and
    offsets (``line_backward``): the line fit recovers both sets and the shared terms, the
    offset fit reproduces every bit-line's code, the energy fit the word lines' count."""
    base = MacroModel.ideal()
    truth = base.with_(
        line={**base.line, "r_series_ohm": 2500.0, "a0": -0.01, "a_rows": -0.02,
              "a_g": 0.015, "b_line_v": -3e-4, "b_g_v": 2e-4, "b0_v": -1.2e-3,
              "c_settle_f": 7e-13, "c_settle_row_f": 4e-15, "k_mem": 0.75},
        line_backward={"c_settle_f": 5e-13, "c_settle_row_f": 1e-15, "b_line_v": 6e-4,
                       "b_g_v": -1e-3, "b_ig_v": 4e-4, "r_series_ohm": 6000.0,
                       "b_act_v": -4e-3, "b_load_v": 2e-3},
        energy={**base.energy, "k_array": 0.9, "e_drv_row_j": 3e-14, "e_drv_col_j": 1e-14,
                "e_wl_row_j": 5e-13, "e_wl_cell_j": 2e-15, "p_neuron_w": 3e-5,
                "p_shared_w": 5e-5})
    pts = [_pt(8, 8, 11, w_scale=0.5), _pt(16, 8, 12), _pt(32, 16, 13, batch=1),
           _pt(8, 8, 14, in_bits=2, out_bits=4, batch=1),
           {**_pt(8, 8, 21), "direction": "backward"},
           {**_pt(4, 16, 22), "direction": "backward"},
           {**_pt(8, 32, 23, batch=1), "direction": "backward"},
           {**_pt(8, 8, 24, in_bits=3, out_bits=8, batch=1), "direction": "backward"}]
    points = mvm_points(_synthetic_table(truth, pts))
    assert {pt.direction for pt in points} == {"forward", "backward"}
    f = fit_line(points, base)
    assert f.rms < 1e-6  # volts: an exact model is fitted exactly
    assert f.by_direction["backward"]["n"] > 0 and f.by_direction["forward"]["n"] > 0
    for k in ("r_series_ohm", "c_settle_f", "c_settle_row_f", "k_mem", "a0", "a_rows", "a_g",
              "b_line_v", "b_g_v"):
        assert f.params[k] == pytest.approx(truth.line[k], rel=0.02, abs=2e-5), k
    for k, v in truth.line_backward.items():
        assert f.params["line_backward"][k] == pytest.approx(v, rel=0.02, abs=2e-5), k
    m = base.with_(line={**base.line, **{k: v for k, v in f.params.items()
                                         if k != "line_backward"}},
                   line_backward=f.params["line_backward"])
    off = fit_offset(points, m)
    assert off.params["b0_v"] == pytest.approx(-1.2e-3, abs=0.1 * m.lsb_v(6) / 7)
    # b0 is identified on the forward codes (every one reproduced); within 0.1 LSB / 7 per
    # sample it moves a backward line's analog value by at most 0.1 LSB (7 samples), so at
    # most ~10 % of those codes by one step
    assert off.by_direction["forward"]["max"] == 0
    assert off.by_direction["backward"]["rms"] <= np.sqrt(0.1)
    params, efits = fit_energy(points, m.with_(line={**m.line, "b0_v": off.params["b0_v"]}))
    assert efits[-1].max < 1e-5  # lsq_linear's tolerance on terms at their bound 0
    for k in ("k_array", "e_wl_row_j", "e_wl_cell_j"):
        assert params[k] == pytest.approx(truth.energy[k], rel=1e-4), k


@pytest.mark.heavy  # full-core synthetic fits (~2 CPU-minutes); `make test-all`
def test_fit_offset_recovers_the_hold_pedestal_per_direction():
    """A core whose hold capacitor takes a pedestal beyond the settled line (forward -3 mV,
    backward -1 mV per plane at 256 x 256 cells, scaled by the cells) and whose neuron adds
    b0 per sample: the settled lines carry neither, so the line fit is exact without them,
    and the offset fit tells b0 (small arrays: pedestal ~ 0) from the pedestals (the larger
    full cores; a 64 x 64 array carries 1/8 of it) on the codes alone (tolerance 10 %: a
    full core's pedestal is ~1.4 LSB at 8 output bits, its error 0.14 LSB)."""
    base = MacroModel.ideal()
    truth = base.with_(
        line={**base.line, "r_series_ohm": 2500.0, "a0": -0.01, "b_line_v": -3e-4,
              "b0_v": -1.2e-3, "c_settle_f": 7e-13, "k_mem": 0.75, "b_hold_v": -3e-3},
        line_backward={"b_line_v": 6e-4, "b_hold_v": -1e-3})
    pts = [_pt(8, 8, 11, w_scale=0.5, out_bits=8), _pt(16, 8, 12, out_bits=8),
           _pt(16, 16, 13, out_bits=8), _pt(8, 8, 14, in_bits=2, out_bits=4),
           _pt(64, 64, 31, out_bits=8, batch=3), _pt(128, 256, 32, out_bits=8, batch=1),
           {**_pt(8, 8, 21, out_bits=8), "direction": "backward"},
           {**_pt(64, 64, 33, out_bits=8, batch=3), "direction": "backward"},
           {**_pt(128, 256, 34, out_bits=8, batch=1), "direction": "backward"}]
    points = mvm_points(_synthetic_table(truth, pts))
    f = fit_line(points, base)
    assert f.rms < 1e-6  # the settled lines carry no pedestal: fitted exactly without it
    assert "b_hold_v" not in f.params and "b_hold_v" not in f.params["line_backward"]
    m = base.with_(line={**base.line, **{k: v for k, v in f.params.items()
                                         if k != "line_backward"}},
                   line_backward=f.params["line_backward"])
    off = fit_offset(points, m)
    assert off.params["b0_v"] == pytest.approx(-1.2e-3, abs=0.1 * m.lsb_v(6) / 7)
    assert off.params["b_hold_v"] == pytest.approx(-3e-3, rel=0.1)
    assert off.params["line_backward"]["b_hold_v"] == pytest.approx(-1e-3, rel=0.1)
    # without the pedestals the large arrays' codes would be off: the fit's codes are not
    assert off.by_direction["forward"]["rms"] <= 0.15  # ~1 % of codes one step off
    m0 = m.with_(line={**m.line, "b0_v": off.params["b0_v"], "b_hold_v": 0.0})
    pt = next(p for p in points if p.direction == "forward" and p.p["n_in"] == 128)
    mm = pt.model(m0)
    v, act = pt.summed(mm)
    y = mm.line_transfer(v, pt.p["in_bits"], pt.n_rows, pt.g_sum, act,
                         n_cells=pt.n_drive_cells) / mm.lsb_v(pt.p["out_bits"])
    assert np.mean(mm.output_codes(y, pt.p["out_bits"]) != pt.code) > 0.3


def test_default_model_hold_pedestal_against_its_direct_measurement():
    """The packaged model's hold pedestal is identified on the MVM codes; its direct
    measurement is C_hold minus the settled reading on the array stage's hold nodes
    (``benchmarks/reference/hold_pedestal.json``, written by ``python
    benchmarks/hold_pedestal.py --reference``; SPICE, no model in it), on the circuit the
    model was fitted on (wires, driver widths: a reference of another circuit is refused).
    At the 20 ns read pulse the lines have settled when the track switch opens and the
    measured pedestal is small (every full core within 0.5 mV per plane; with the 100 um
    driver pFETs -0.08..-0.13 mV on every case; at 10 ns the forward ones were -3.2 and
    -4.7 mV, their lines still moving 6.5 mV/ns). The codes also carry the line model's
    mean error on the full cores (~1 mV per seed), so the full cores are held to the
    measurement within 1 mV and, where it is at least 0.2 mV, to its sign: the 10 ns
    model's -2.7 mV fails. The scaling with the cells is held to 0.5 mV on the smaller
    arrays."""
    ref = json.loads((Path(__file__).parents[1] / "benchmarks" / "reference"
                      / "hold_pedestal.json").read_text())
    assert ref.get("circuit") == {k: assumptions.value(k)
                                  for k in assumptions.CIRCUIT_PROVENANCE}, ref.get("circuit")
    m = MacroModel.load()
    full = 0
    for c in ref["cases"]:
        fwd = c["direction"] == "forward"
        n_rows = 2 * c["n_in"] if fwd else c["n_out"]
        n_cells = c["n_out"] if fwd else 2 * c["n_in"]
        model = float(m.for_direction(c["direction"]).hold_pedestal_v(n_rows, n_cells))
        meas = c["mean_v"]
        tag = (c["n_in"], c["n_out"], c["direction"], c["density"], model, meas)
        if n_rows * n_cells == 256 * 256:
            full += 1
            assert abs(meas) <= 0.5e-3, tag
            assert abs(model - meas) <= 1e-3, tag
            if abs(meas) >= 0.2e-3:
                assert model * meas > 0, tag
        else:
            assert abs(model - meas) <= 0.5e-3, tag
    assert full >= 4  # dense and sparse, forward and backward


def test_a_hold_pedestal_needs_the_array_size():
    """A model with a hold pedestal refuses a line transfer without the cells per driven line
    (it would otherwise drop the pedestal silently)."""
    m = MacroModel.ideal().with_(line={**MacroModel.ideal().line, "b_hold_v": -3e-3})
    with pytest.raises(InputError, match="n_cells"):
        m.line_transfer(np.zeros(4), 4, 256, np.full(4, 2e-3))
    v = m.line_transfer(np.zeros(4), 4, 256, np.full(4, 2e-3), n_cells=256)
    assert v == pytest.approx(m.weight_sum(4) * -3e-3)
    assert m.line_transfer(np.zeros(4), 4, 16, np.full(4, 2e-3), n_cells=16) == pytest.approx(
        m.weight_sum(4) * -3e-3 * 16 * 16 / 65536)


def test_model_line_backward_overrides_only_the_backward_direction():
    base = MacroModel.ideal()
    m = base.with_(line={**base.line, "b_line_v": 1e-3}, line_backward={"b_line_v": -2e-3})
    assert m.for_direction("forward").line["b_line_v"] == 1e-3
    assert m.for_direction("backward").line["b_line_v"] == -2e-3
    assert m.for_direction("backward").line["a0"] == 0.0
    # stored and read back; a key that is no line parameter is refused
    assert MacroModel.from_json(m.to_json()).line_backward == {"b_line_v": -2e-3}
    d = json.loads(m.to_json())
    d["line_backward"] = {"nope": 1.0}
    with pytest.raises(InputError, match="line_backward"):
        MacroModel.from_json(json.dumps(d))
    with pytest.raises(InputError, match="direction"):
        m.for_direction("sideways")


# -- the committed default model --------------------------------------------------------------
def test_default_model_is_packaged_and_fitted():
    m = MacroModel.load()
    assert m.source.startswith("fit of fit"), "default_model.json is missing or not a fit"
    # (the codes and energy statistics are recomputed, not read back: see
    # test_default_model_statistics_recomputed_from_the_committed_mvms)
    for name in ("line", "adc", "codes", "energy_total", "rram_iv", "ir_drop", "settling"):
        f = m.fits[name]
        assert f["n"] > 0 and f["rms"] is not None, name
    assert m.ranges["n_rows"][0] <= 16 and m.ranges["n_rows"][1] >= 128
    # the fitted series resistance is an access FET's on-resistance scale (kOhm), not 0 or MOhm
    assert 200 < m.line["r_series_ohm"] < 20e3
    # physics the fits must recover: each neuron's OTA draws ibias m_tail all through the MVM
    # and ibias m_out more while its second stage is enabled (en-high time from the schedule),
    # from 1.8 V: the fitted per-neuron energy of an MVM is that plus at most 15 % (switches
    # and clocks, counted as CMOS drivers: 10-12 % over the bias with issue 17's charge-balanced
    # rst / az switches, up to 10 % before; never below the bias) at every fitted width (the split between the always-on and the gated power is
    # not identifiable: the enabled fraction only spans 0.85-0.97); the RRAM model's
    # conduction voltage v0 = 0.43 V (the settling fit: test_settling_fit_is_a_single_pole)
    spec = NeuronSpec()
    e = m.energy
    for ib in (2, 3, 4):
        for ob in (4, 6, 8):
            t_lat, t_on = mvm_schedule(spec, ib, ob).t_stop, _en_time(spec, ib, ob)
            want = spec.ibias_a * spec.vdd_v * (spec.m_tail * t_lat + spec.m_out * t_on)
            got = e["p_neuron_w"] * t_lat + e["p_neuron_on_w"] * t_on + e["e_neuron_0_j"]
            assert want <= got <= 1.15 * want, (ib, ob, got, want)
    assert m.fits["rram_iv"]["params"]["v0_v"] == pytest.approx(0.43, rel=1e-3)



@pytest.mark.xfail(strict=True, reason="issue 17 finding: with 4 um access FETs at the 2.2 V word "
                   "line the settling sweep's lines settle to 1e-3 in 16.5 time constants C/G, "
                   "not ln(1000) = 6.9: the word line's turn-on kick and the FETs' nonlinear "
                   "resistance, not a single pole (benchmarks/read_settling.py)")
def test_settling_fit_is_a_single_pole():
    """A floating line settles to 1e-3 in ln(1000) time constants C / sum G."""
    m = MacroModel.load()
    assert m.fits["settling"]["params"]["k_tau"] == pytest.approx(np.log(1e3), rel=0.1)


@functools.cache
def _committed_statistics(name: str = "default"):
    """Computed once per worker and shared by the two tests below (``xdist_group``: on the
    same worker). The default model's code errors (per point) and relative energy errors (per vector)
    against every committed transistor-level MVM of the fit results, evaluated here through
    the public Core API (weights, inputs and programmed conductances regenerated from each
    point's seed; backward points through ``Core.backward_lines``, each bit-line's own code,
    as the table records them; each point at its own read pulse), not read from the model's
    own report. Returns the model, {point: code errors}, {point: direction} and the relative
    energy errors. ``name``: the packaged model (:meth:`MacroModel.packaged`), on the sweeps
    it is fitted on."""
    from pycim.characterize.tables import load_results
    from pycim.macro.core import Core

    m = MacroModel.packaged(name)
    dirs_fit = {"default": DEFAULT_FIT_DIRS, "polarity": POLARITY_FIT_DIRS}[name]
    df = pd.concat([load_results(d)["mvm_fit"] for d in dirs_fit], ignore_index=True)
    for k, v in POINT_DEFAULTS.items():  # the keys of points that predate them (dense, 0.4 V)
        df[k] = df[k].fillna(v) if k in df else v
    keys = list(POINT_KEYS)
    errs, dirs, e_rel, e_dir = {}, {}, [], []
    for key, g in df.groupby(keys, sort=False):
        p = dict(zip(keys, key))
        p = {k: (int(v) if k in ("n_in", "n_out", "in_bits", "out_bits", "batch", "seed")
                 else v) for k, v in p.items()}
        w, x = problem(p)
        core = Core(w, model=m.with_read_pulse(float(p["read_pulse_s"])), seed=p["seed"],
                    adc_fs_v=float(p["adc_full_scale_v"]))
        fwd = p["direction"] == "forward"
        run = core.forward if fwd else core.backward_lines
        n_sense = p["n_out"] if fwd else 2 * p["n_in"]
        cd = g[g["record"] == "code"]
        code = np.full((p["batch"], n_sense), np.nan)
        code[cd["vector"].astype(int), cd["output"].astype(int)] = cd["code"]
        assert not np.isnan(code).any()
        errs[key] = run(x, p["in_bits"], p["out_bits"]).code - code
        dirs[key] = p["direction"]
        en = g[g["record"] == "energy"].sort_values("vector")["e_total_j"].to_numpy()
        for b in range(p["batch"]):
            e = run(x[b:b + 1], p["in_bits"], p["out_bits"]).energy_j["total"]
            e_rel.append(e / en[b] - 1)
            e_dir.append(p["direction"] + ("" if p["density"] == 1.0 else "_sparse"))
    return m, errs, dirs, (np.array(e_rel), np.array(e_dir))


@pytest.mark.xdist_group("committed_statistics")
def test_default_model_codes_recomputed_from_the_committed_mvms():
    """Budget: codes are floors of analog values, so a model whose analog error stays within
    +-1/4 LSB moves at most a quarter of the codes (uniform fractional parts) by one step:
    RMS <= 0.5 LSB; at 8 output bits the LSB is 4x finer than at 6, so two steps are
    allowed."""
    m, errs, dirs, _ = _committed_statistics()
    err = np.concatenate([e.ravel() for e in errs.values()])
    rms, mx = float(np.sqrt(np.mean(err ** 2))), float(np.abs(err).max())
    assert err.size >= 200
    # the model's own report says the same (so the report is not stale)
    assert m.fits["codes"]["rms"] == pytest.approx(rms, abs=1e-6)
    assert m.fits["codes"]["max"] == mx
    assert rms <= 0.5 and mx <= 2, (rms, mx)
    # and so does each direction: every bit-line's own code within the same budget; a backward
    # MVM's output is the difference of two neurons' codes, each moved by one step for at most
    # a quarter of its values, so at most half of the outputs move: RMS <= sqrt(1/2)
    by = m.fits["codes"]["by_direction"]
    for d in ("forward", "backward"):
        e = np.concatenate([v.ravel() for k, v in errs.items() if dirs[k] == d])
        assert e.size >= 100, d
        r = float(np.sqrt(np.mean(e ** 2)))
        assert by[d]["rms"] == pytest.approx(r, abs=1e-6) and by[d]["max"] == np.abs(e).max()
        assert r <= 0.5 and np.abs(e).max() <= 2, (d, r)
    e = _backward_outputs(errs, dirs)
    r = float(np.sqrt(np.mean(e ** 2)))
    assert by["backward_outputs"]["rms"] == pytest.approx(r, abs=1e-6)
    assert by["backward_outputs"]["max"] == np.abs(e).max()
    assert r <= np.sqrt(0.5), r


def _backward_outputs(errs, dirs) -> np.ndarray:
    """Backward outputs' code errors: differences of neighbouring bit-lines' code errors."""
    return np.concatenate([(v[:, 0::2] - v[:, 1::2]).ravel() for k, v in errs.items()
                           if dirs[k] == "backward"])


@pytest.mark.xdist_group("committed_statistics")
@pytest.mark.xfail(strict=True, reason=(
    "backward arrays of at most 16 driven rows: the settled bit-lines scatter 2.7 mV RMS per "
    "plane about the fitted line model (dense full cores 0.22-0.37 mV; PYTHONPATH=. python "
    "benchmarks/line_residuals.py); at 8 output bits one backward output of 1616 (8 x 8, "
    "3-bit in, seed 8) is 3 steps off. A series resistance per drive polarity (the access "
    "FETs' on-resistance moving with the driven source-line, +774 / -570 ohm) would take 16 % "
    "of that scatter's variance, the drivers' IR drop per polarity 4 %: the packaged polarity "
    "model has both and meets it (test_polarity_model_backward_outputs_within_two_steps), the "
    "default does not"))
def test_default_model_backward_outputs_within_two_steps():
    """Each bit-line within 1/4 LSB of its analog value (the budget above) moves by at most
    one step, so a backward output, the difference of two, by at most two."""
    _, errs, dirs, _ = _committed_statistics()
    assert np.abs(_backward_outputs(errs, dirs)).max() <= 2


@pytest.mark.slow
def test_polarity_model_backward_outputs_within_two_steps():
    """The same with the packaged polarity model on its own sweeps (the default's and the
    spread full cores), through a Core (its per-plane chain): with each driven source-line's
    drive and series resistance per polarity, every backward output is within two steps,
    the small arrays' included; and its code RMS per direction within the 1/4 LSB budget's
    0.5."""
    _, errs, dirs, _ = _committed_statistics("polarity")
    assert len(errs) >= 62  # the 56 points of the default's sweeps and the 6 spread cores
    assert np.abs(_backward_outputs(errs, dirs)).max() <= 2
    for d in ("forward", "backward"):
        e = np.concatenate([v.ravel() for k, v in errs.items() if dirs[k] == d])
        assert np.sqrt(np.mean(e ** 2)) <= 0.5, d


@pytest.mark.xdist_group("committed_statistics")
def test_default_model_energy_recomputed_from_the_committed_mvms():
    """The energy per MVM is dominated by the neurons, whose gated OTA the model gives an
    always-on and an enabled-time power (the schedule's en-high time), and the word-lines
    (C V^2 per read pulse): 2 % for what the group formulas leave out (the cells' and
    drivers' share, < 1 % of the total, whose activity the formula only approximates) on the
    forward MVMs. Backward MVMs (twice the neurons of a square forward one, drivers 3-4 % of
    the total, the neurons' share at 2-bit in / 4-bit out fitted to 4 %): the held-out
    budget of the macro-model's energy per MVM, 5 % (tests/test_held_out.py). Sparse inputs
    (characterization/fit_sparse.toml, 30 % nonzero) also take the 5 %: the neurons' energy
    depends on the codes they convert (a full core's 57.3 fJ/op dense, 54.6 sparse, forward
    4-bit), which the model's power x time does not see."""
    m, _, _, (e_rel, e_dir) = _committed_statistics()
    assert e_rel.size >= 15 and (e_dir == "backward").sum() >= 15
    assert (e_dir == "forward_sparse").sum() >= 3
    # forward, dense: the 2 % above plus 0.5 % for one set of coefficients from 8 x 8 to the
    # full cores (whose own forward MVMs the fit meets within 1.5 %), plus the array formula's
    # own error (its fitted residual RMS) on the largest array share of a forward MVM: at the
    # 20 ns read pulse the cells conduct twice as long as at 10 ns, and the array's share of
    # the total went from 0.2-2.4 % to 0.4-4.8 % on the fit's small arrays (6 % on full cores)
    from pycim.characterize.tables import load_results

    t = pd.concat([load_results(d)["mvm_fit"] for d in DEFAULT_FIT_DIRS], ignore_index=True)
    t = t[(t["record"] == "energy") & (t["direction"] == "forward")]
    share = float((t["e_array_j"] / t["e_total_j"]).max())
    assert 0.02 < share < 0.1, share
    budget = 0.025 + m.fits["energy_array"]["rms"] * share
    assert np.max(np.abs(e_rel[e_dir == "forward"])) <= budget, budget
    assert np.max(np.abs(e_rel[e_dir != "forward"])) <= 0.05
    # the model's own report says the same (so the report is not stale)
    assert m.fits["energy_total"]["max"] == pytest.approx(np.max(np.abs(e_rel)), abs=1e-6)


@pytest.mark.slow
@pytest.mark.heavy  # the whole `make fit` (~2 CPU-minutes each); `make test-all`
@pytest.mark.parametrize("dirs,extra,committed", [
    (DEFAULT_FIT_DIRS, [], DEFAULT), (POLARITY_FIT_DIRS, ["--polarity-terms"], POLARITY)],
    ids=["default", "polarity"])
def test_default_model_regenerates_from_committed_results(tmp_path, dirs, extra, committed):
    """`make fit` (`pycim fit
    characterization/results/{fit,fit_full,fit_sparse,fit_mid,fit_fine} -o ...`, and the
    polarity model with fit_spread and ``--polarity-terms``) reproduces the committed
    models."""
    out = tmp_path / "m.json"
    assert main(["fit", *map(str, dirs), *extra, "-o", str(out)]) == 0
    new, old = json.loads(out.read_text()), json.loads(committed.read_text())
    _same(new, old, "model")
    # what the model predicts, tightly: every line transfer within 10 uV (a 10-bit MVM's
    # line-referred LSB is ~0.8 mV; the transfers reach 1.3 V: 1e-6 of it moved on a fresh
    # venv) and the energy within 1e-6
    from pycim.macro.model import MacroModel

    m_new, m_old = MacroModel.load(out), MacroModel.load(committed)
    g = np.linspace(0.1e-3, 3e-3, 7)
    for direction in ("forward", "backward"):
        a, b = m_new.for_direction(direction), m_old.for_direction(direction)
        for in_bits in (1, 2, 4):
            v = np.linspace(-1, 1, 9)[:, None] * a.weight_sum(in_bits) * a.v_read_v
            for n_rows in (16, 64, 256):
                ya = a.line_transfer(v, in_bits, n_rows, g, n_cells=n_rows)
                yb = b.line_transfer(v, in_bits, n_rows, g, n_cells=n_rows)
                assert np.max(np.abs(ya - yb)) < 1e-5, (direction, in_bits, n_rows)
    ea, eb = (m.energy_j(4, 6, 256, 256, g_sum_s=np.full(256, 2e-3))["total"]
              for m in (m_new, m_old))
    assert ea == pytest.approx(eb, rel=1e-6)


def _same(a, b, where):
    """Equal JSON trees, floats within 1e-3 relative: BLAS rounding differs by machine and the
    least-squares fits amplify it in poorly determined parameters (on a fresh venv of the
    twenty-second round, the commit before that round's changes included: the driver's
    per-cell resistance 4.8e-5, a_g 1.0e-5, b_hold_v 1.2e-6 off the committed values). The
    test's predictions, compared tightly, are what must reproduce."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{k}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-3, abs=1e-15), where
    else:
        assert a == b, where


def test_fit_cli_errors(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "nope"), "-o", str(tmp_path / "m.json")]) == 2
    assert "RESULTS_DIR" in capsys.readouterr().err
    assert main(["fit", str(FIT_DIR), "-o", str(tmp_path / "m.json"),
                 "--verilog-a", str(tmp_path / "c.va")]) == 2
    assert "--weights" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()
    # several results directories are joined; the same points twice are refused
    assert main(["fit", str(FIT_DIR), str(FIT_DIR), "-o", str(tmp_path / "m.json")]) == 2
    assert "more than one of" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()
    assert main(["fit", str(FIT_DIR), "-o", str(tmp_path / "m.json"), "--drop-term", "x"]) == 2
    assert "unknown line term 'x'" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()
    for bad in ("-0.5", "1.5", "nan", "inf"):
        assert main(["fit", str(FIT_DIR), "-o", str(tmp_path / "m.json"),
                     "--line-size-weight", bad]) == 2
        assert "--line-size-weight" in capsys.readouterr().err
        assert not (tmp_path / "m.json").exists()


def test_fit_cli_writes_model_and_verilog_a(tmp_path):
    from pycim.fit.verilog_a import core_verilog_a

    w = np.random.default_rng(5).uniform(-1, 1, (3, 2))
    np.save(tmp_path / "w.npy", w)
    assert main(["fit", str(FIT_DIR), "-o", str(tmp_path / "m.json"), "--verilog-a",
                 str(tmp_path / "c.va"), "--weights", str(tmp_path / "w.npy"), "--seed", "5"]) == 0
    m = MacroModel.load(tmp_path / "m.json")
    prog = program(w, 5)
    assert (tmp_path / "c.va").read_text() == core_verilog_a(m, prog.g_pos_s, prog.g_neg_s)


# -- Verilog-A export ---------------------------------------------------------------------------
@pytest.mark.slow
def test_verilog_a_core_matches_the_macro_model_in_ngspice(tmp_path):
    from pycim.fit.verilog_a import core_verilog_a
    from pycim.netlist.circuit import Circuit, Model, VaDevice, VSource
    from pycim.sim import NgspiceEngine, Op
    from pycim.tech.va import compile_va

    m = MacroModel.load()
    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, (6, 4))
    prog = program(w, 3)
    src = tmp_path / "pycim_core6x4.va"
    src.write_text(core_verilog_a(m, prog.g_pos_s, prog.g_neg_s, module="pycim_core6x4"))
    osdi = compile_va(src)
    xs = np.array([[1, -1, 0.5, 0, -0.25, 1], [-1, -1, -1, 1, 1, 0]], dtype=float)
    g_sum = (prog.g_pos_s + prog.g_neg_s).sum(axis=0)
    for x in xs:
        c = Circuit("pycim va core test")
        c.add_model(Model.of("core", "pycim_core6x4", {}, osdi=osdi))
        c.add(VSource("VREF", "vref", "0", dc_v=0.9))
        for i, xi in enumerate(x):
            c.add(VSource(f"VI{i}", f"i{i}", "0", dc_v=0.9 + V_READ * xi))
        c.add(VaDevice("N1", tuple([f"i{i}" for i in range(6)] + [f"o{j}" for j in range(4)]
                                   + ["vref"]), "core"))
        res = NgspiceEngine(timeout_s=60).run(c, Op())
        v = np.array([res.value(f"o{j}") for j in range(4)]) - 0.9
        # the model's operator: effective conductances and the driven lines' resistance
        # (itself checked against ngspice in tests/test_line_operator.py)
        v_id = V_READ * (x @ m.line_operator(prog.g_pos_s, prog.g_neg_s, "forward"))
        ref = m.settled_line_v(v_id, 12, g_sum)
        assert np.max(np.abs(v - ref)) < 1e-9
        # and the fitted terms matter: the plain closed form differs by more than that
        v_plain = V_READ * (x @ (prog.g_pos_s - prog.g_neg_s)) / g_sum
        assert np.max(np.abs(v - v_plain)) > 1e-5


def test_verilog_a_refuses_bad_names():
    from pycim.fit.verilog_a import core_verilog_a

    g = np.full((2, 2), 1e-5)
    with pytest.raises(InputError):
        core_verilog_a(MacroModel.ideal(), g, g, module="x; .control")


def test_active_fraction_is_the_driven_share_of_each_sensed_line():
    """All inputs zero: 0; all non-zero: 1; one input driven: its cells' share of the
    conductance (forward, mean field: the row pair's G+ + G- over the whole array's, the same
    for every source-line; backward: each bit-line's cell over that bit-line's). The third
    term, forward: each source-line's own share minus the mean field's, times the driven
    rows / 256; backward 0."""
    from pycim.cim.closed_form import active_fraction

    rng = np.random.default_rng(4)
    gp, gn = rng.uniform(1e-6, 4e-5, (3, 5)), rng.uniform(1e-6, 4e-5, (3, 5))
    assert np.all(active_fraction(gp, gn, np.zeros((1, 3)), "forward") == 0)
    full = active_fraction(gp, gn, np.array([[1, -1, 1]]), "forward")
    assert full[0] == pytest.approx(1.0)
    assert full[2] == pytest.approx(0.0, abs=1e-12)  # every line's share is 1: no deviation
    act_f, load_f, dev_f = active_fraction(gp, gn, np.array([[0, -1, 0]]), "forward")[:, 0]
    g_all = (gp + gn).sum()
    assert act_f == pytest.approx(np.full(5, (gp[1] + gn[1]).sum() / g_all))
    # the load: each driven row (G+ row, G- row) weighted by its own total conductance / 1 mS
    assert load_f == pytest.approx(np.full(5, (gp[1].sum() ** 2 + gn[1].sum() ** 2) / g_all
                                           / 1e-3))
    # source-line j's own share: row pair 1's cells on it over the line's 6 cells; 6 rows
    own = (gp[1] + gn[1]) / (gp + gn).sum(axis=0)
    assert dev_f == pytest.approx((own - (gp[1] + gn[1]).sum() / g_all) * 6 / 256)
    act, load, dev = active_fraction(gp, gn, np.array([[0, 0, 1, 0, 0]]), "backward")[:, 0]
    assert act[0::2] == pytest.approx(gp[:, 2] / gp.sum(axis=1))  # bit-lines of G+ rows
    assert act[1::2] == pytest.approx(gn[:, 2] / gn.sum(axis=1))
    assert np.all(dev == 0)
    # the load term: the same share times source-line 2's total conductance (/ 1 mS)
    assert load[0::2] == pytest.approx(act[0::2] * (gp[:, 2] + gn[:, 2]).sum() / 1e-3)
    assert active_fraction(gp, gn, -np.ones((1, 5)), "backward")[0] == pytest.approx(1.0)

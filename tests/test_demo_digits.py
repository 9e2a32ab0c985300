"""``pycim demo digits``: trained with noise injection, mapped onto the chip macro-model."""

import json

import pytest

from pycim.cli import main


@pytest.mark.slow
def test_demo_digits_cli(tmp_path, capsys):
    assert main(["demo", "digits", "--out", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "digits_summary.json").read_text())
    assert (tmp_path / "digits_chip.png").stat().st_size > 10_000
    assert not list(tmp_path.glob(".*.tmp"))  # no partial files left behind
    assert s["accuracy_software"] >= 0.90
    assert s["accuracy_software"] - s["accuracy_chip"] <= 0.03  # within 3 points
    # the network fits 2 cores: 64 x 64 and 64 x 10
    assert s["cores_used"] == 2 and s["macs_per_inference"] == 64 * 64 + 64 * 10
    # latency: two layers in sequence, one MVM each (reset + 3 read pulses + 7 samples + 7 ADC
    # steps)
    from pycim.macro.model import MacroModel

    assert s["latency_per_inference_s"] == pytest.approx(
        2 * MacroModel.load().latency_s(s["in_bits"], s["out_bits"]))
    # energy per inference: the model's energy terms written out for the two layers (forward,
    # 2 x 64 driven rows each; 64 and 10 neurons; inputs, drivers and word-lines switch once
    # per magnitude plane, in_bits - 1 read pulses). Everything but the cells' G V^2 term is
    # fixed by the shape and the schedule; that term lies between 0 (no drive) and its
    # maximum: activity (V_row - V_line)^2 / v_read^2 <= 4 (row and line each within v_read
    # of Vref) on cells programmed at most to g_max (+ 10 % write-verify tolerance).
    from pycim import assumptions
    from pycim.specs.neuron import NeuronSpec, mvm_schedule

    m = MacroModel.load()
    c, nw = m.energy, s["in_bits"] - 1  # read pulses per MVM
    t_lat = m.latency_s(s["in_bits"], s["out_bits"])
    # the neurons' gated OTA: its second stage enabled (en) for part of the MVM (schedule)
    spec = NeuronSpec()
    sched = mvm_schedule(spec, s["in_bits"], s["out_bits"])
    pt = sched.phase_times()
    t_on = sum(pt[p.name][1] - pt[p.name][0] for p in sched.phases if spec.net("en") in p.high())
    lo = hi = 0.0
    for n_in, n_out in ((64, 64), (64, 10)):
        rows = 2 * n_in
        fixed = (nw * c["e_arr_line_j"] * (rows + n_out) + c["e_arr_0_j"]
                 + nw * (c["e_drv_row_j"] * rows + c["e_drv_col_j"] * n_out) + c["e_drv_0_j"]
                 + nw * (c["e_wl_row_j"] * rows + c["e_wl_cell_j"] * rows * n_out)
                 + c["e_wl_0_j"]
                 + n_out * (c["p_neuron_w"] * t_lat + c["p_neuron_on_w"] * t_on
                            + c["e_neuron_0_j"]) + c["p_shared_w"] * t_lat)
        g_max_tot = rows * n_out * 1.1 * assumptions.value("g_max_s")
        cells = c["k_array"] * 4.0 * g_max_tot * m.v_read_v ** 2 * nw * m.timing["t_window_s"]
        # the drivers' switched lines: activity 0 .. 4 as the cells' (V_row - V_line)^2 / v_read^2
        drv_act = c.get("e_drv_act_j", 0.0) * 4.0 * nw * rows
        lo, hi = lo + fixed, hi + fixed + cells + drv_act
    assert lo <= s["energy_per_inference_j"] <= hi, (lo, s["energy_per_inference_j"], hi)
    # the wall time's < 120 s is a `make bench` target (group macro_throughput, digits_demo)
    out = capsys.readouterr().out
    assert "chip macro-model" in out and "nJ" in out


def test_demo_default_is_mvm():
    """``pycim demo`` without WHICH keeps today's demo (parsed, not run)."""
    from pycim.cli import _parser

    a = _parser().parse_args(["demo", "--out", "x"])
    assert a.which == "mvm" and a.out == "x"
    assert _parser().parse_args(["demo", "digits"]).which == "digits"

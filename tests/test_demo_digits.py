"""``pycim demo digits``: trained with noise injection, mapped onto the chip macro-model."""

import json
import time

import pytest

from pycim.cli import main


@pytest.mark.slow
def test_demo_digits_cli(tmp_path, capsys):
    t0 = time.perf_counter()
    assert main(["demo", "digits", "--out", str(tmp_path)]) == 0
    wall = time.perf_counter() - t0
    s = json.loads((tmp_path / "digits_summary.json").read_text())
    assert (tmp_path / "digits_chip.png").stat().st_size > 10_000
    assert not list(tmp_path.glob(".*.tmp"))  # no partial files left behind
    assert s["accuracy_software"] >= 0.90
    assert s["accuracy_software"] - s["accuracy_chip"] <= 0.03  # within 3 points
    # the network fits 2 cores: 64 x 64 and 64 x 10
    assert s["cores_used"] == 2 and s["macs_per_inference"] == 64 * 64 + 64 * 10
    # latency: two layers in sequence, one MVM each (reset + 7 windows + 7 ADC steps)
    from pycim.macro.model import MacroModel

    assert s["latency_per_inference_s"] == pytest.approx(
        2 * MacroModel.load().latency_s(s["in_bits"], s["out_bits"]))
    assert 0 < s["energy_per_inference_j"] < 1e-6
    assert wall < 120
    out = capsys.readouterr().out
    assert "chip macro-model" in out and "nJ" in out


def test_demo_default_is_mvm():
    """``pycim demo`` without WHICH keeps today's demo (parsed, not run)."""
    from pycim.cli import _parser

    a = _parser().parse_args(["demo", "--out", "x"])
    assert a.which == "mvm" and a.out == "x"
    assert _parser().parse_args(["demo", "digits"]).which == "digits"

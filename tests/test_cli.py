"""Command line: doctor, error exits."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PYCIM = [sys.executable, "-m", "pycim.cli"]


def run(args, **kw):
    return subprocess.run(PYCIM + args, capture_output=True, text=True, timeout=300, **kw)


def test_doctor_ok_here():
    p = run(["doctor"])
    assert p.returncode == 0, p.stdout + p.stderr
    for part in ("ngspice-", "OSDI", "KLU", "openvaf-r", "VACASK", "SKY130"):
        assert part in p.stdout
    assert "BAD" not in p.stdout


def test_doctor_without_ngspice_exits_1_with_fix(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYCIM_NGSPICE"}
    env["PATH"] = str(tmp_path)  # nothing there
    p = run(["doctor"], env=env)
    assert p.returncode == 1
    assert "BAD  ngspice" in p.stdout
    assert "fix ngspice:" in p.stdout and "make setup" in p.stdout
    assert "Traceback" not in p.stdout + p.stderr


def test_unknown_option_is_an_error():
    p = run(["doctor", "--frobnicate"])
    assert p.returncode == 2 and "unrecognized arguments" in p.stderr


@pytest.mark.heavy  # `make demo` end to end (a minute); `make test-all` runs it
def test_demo_writes_plot_and_summary(tmp_path):
    p = run(["demo", "--out", str(tmp_path)])
    assert p.returncode == 0, p.stderr
    png = Path(tmp_path / "cell_demo.png")
    assert png.stat().st_size > 20_000 and png.read_bytes()[:4] == b"\x89PNG"
    import json

    s = json.loads((tmp_path / "cell_demo.json").read_text())
    assert s["iv_max_rel_error"] < 1e-6
    g = s["pulse_g_read_s"]
    assert g[0] < g[5]  # SET pulses raised the conductance
    # gradual families: each passes through >= 5 levels in 1-40 uS more than 1 uS apart
    assert s["set_levels_1_40us"] >= 5 and s["reset_levels_1_40us"] >= 5
    assert "SkyWater" in s["rram_parameter_set"]

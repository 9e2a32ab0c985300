"""Characterization harness: sweep physics, caching, resumability after SIGKILL, bad specs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pycim import assumptions
from pycim.characterize import parse_spec, run_sweep
from pycim.characterize import kinds as kinds_mod
from pycim.characterize.measure import transfer_fit
from pycim.characterize.runner import fingerprint, load_cached, point_key, store
from pycim.errors import InputError, SimulationError
from pycim.tech import rram

PYCIM = [sys.executable, "-m", "pycim.cli"]


def _sweep(tmp_path, text, jobs=1, name="out"):
    rep = run_sweep(parse_spec(text, "test.toml"), tmp_path / name, jobs=jobs, progress=False,
                    plots=False)
    assert not rep.failures, [r.message for r in rep.failures]
    return rep


def test_cell_iv_sweep_matches_closed_form(tmp_path):
    gaps = [0.2, 0.7, 1.2, 1.6]
    _sweep(tmp_path, f"""
[[sweep]]
kind = "cell_iv"
gap_nm = {gaps}
v_max_v = 1.0
v_step_v = 0.05
""")
    df = pd.read_parquet(tmp_path / "out" / "cell_iv.parquet")
    assert sorted(df["gap_nm"].unique()) == gaps
    for gap, g in df.groupby("gap_nm"):
        g = g.sort_values("v_v")
        v, i = g["v_v"].to_numpy(), g["i_a"].to_numpy()
        assert len(v) == 41 and v[0] == pytest.approx(-1.0) and v[-1] == pytest.approx(1.0)
        np.testing.assert_allclose(i[::-1], -i, rtol=1e-9, atol=1e-18)  # odd in V
        assert np.all(np.diff(i) > 0)  # monotonic
        sig = np.abs(v) > 0.025
        np.testing.assert_allclose(i[sig], rram.current_a(v[sig], gap * 1e-9), rtol=1e-6)
    # a smaller gap conducts more at every positive voltage
    i_at_1v = df[np.isclose(df["v_v"], 1.0)].sort_values("gap_nm")["i_a"].to_numpy()
    assert np.all(np.diff(i_at_1v) < 0)


def test_mvm_transfer_ideal_is_the_floor_staircase(tmp_path):
    _sweep(tmp_path, """
[[sweep]]
kind = "mvm_transfer"
n_in = 4
n_out = 3
in_bits = 4
out_bits = 6
batch = 3
seeds = [0, 1]
ideal = [true]
read_pulse_ns = 200
""", jobs=2)
    df = pd.read_parquet(tmp_path / "out" / "mvm_transfer.parquet")
    assert len(df) == 2 * 3 * 3
    y, code = df["y_ideal"].to_numpy(), df["code"].to_numpy()
    assert np.ptp(code) >= 10  # a real spread of codes
    assert np.all(np.abs(code - np.floor(y)) <= 1), df
    fit = transfer_fit(y, code, 6)
    assert fit["n_fit"] == len(df)
    assert abs(fit["gain"] - 1) < 0.05
    assert abs(fit["offset_lsb"]) < 0.5
    assert fit["inl_lsb"] < 1.0
    # transition-level INL of the ideal case (linear cells, ideal wires and sources): every
    # point's fitted value lies within half an LSB of its code's bin
    assert fit["inl_bin_lsb"] < 0.5, fit
    s = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert (s["status"] == "ok").all() and len(s) == 2


def test_transfer_fit_of_a_perfect_converter():
    y = np.linspace(-20, 20, 2001)
    fit = transfer_fit(y, np.floor(y), 6)
    assert fit["gain"] == pytest.approx(1, abs=2e-3)
    assert fit["offset_lsb"] == pytest.approx(0, abs=2e-2)
    assert fit["inl_lsb"] == pytest.approx(0.5, abs=2e-2)
    assert fit["dnl_lsb"] < 0.02 and fit["err_max_lsb"] == 0
    # a converter with 10 % too much gain shows it
    fit = transfer_fit(y, np.floor(1.1 * y), 8)
    assert fit["gain"] == pytest.approx(1.1, abs=3e-3)


def test_energy_per_mac_grows_with_input_planes(tmp_path):
    _sweep(tmp_path, """
[[sweep]]
kind = "energy_per_mac"
n_in = 4
n_out = 3
out_bits = 6
ideal = true
in_bits = [1, 2, 3, 4]
""", jobs=2)
    df = pd.read_parquet(tmp_path / "out" / "energy_per_mac.parquet").set_index("in_bits")
    e, lat = df["energy_per_mac_j"], df["latency_s"]
    # signed 2-bit inputs have one magnitude plane, like 1-bit: same schedule, same latency
    assert lat[1] == lat[2]
    # each further plane doubles the integration windows: 1, 3, 7 windows for 2, 3, 4 bits
    assert lat[2] < lat[3] < lat[4]
    assert e[2] < e[3] < e[4] and e[1] < e[3]
    assert (df["macs"] == 12).all()
    # the neurons' energy is their OTAs' static power over the schedule (independent of the
    # table: ibias (1 + m_tail + m_out) from vdd, the two-stage OTA's three branches). Upper
    # bound: on for the whole latency, + 4 % (the bias mirror's 1 % error, clocks and DAC
    # references about 1 %, latches and inverters < 0.1 %, channel-length modulation); lower
    # bound: the input stage and tail, (1 + m_tail) of the branches, never turn off (the
    # output stage starves while the output sits near ground: comparisons, clipped codes).
    from pycim.netlist.neuron import NeuronSpec

    s = NeuronSpec()
    p_ota = s.ibias_a * (1 + s.m_tail + s.m_out) * s.vdd_v * 3  # 3 neurons
    hi = p_ota * df["latency_s"] * 1.04
    lo = p_ota * df["latency_s"] * (1 + s.m_tail) / (1 + s.m_tail + s.m_out)
    assert ((df["e_neuron_j"] >= lo) & (df["e_neuron_j"] <= hi)).all(), (df["e_neuron_j"], lo, hi)


def test_cache_key_follows_the_generators_source(monkeypatch):
    """A change to the circuit generators (here netlist/stimulus.py, as read by the
    fingerprint) changes every cache key: a sweep never reuses results of another circuit."""
    from pathlib import Path

    fp = fingerprint()
    real = Path.read_bytes

    def edited(self):
        data = real(self)
        return data + b"\n# edited" if self.name == "stimulus.py" else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert fingerprint() != fp


def test_cache_rejects_altered_and_truncated_files(tmp_path):
    fp = fingerprint()
    key = point_key("cell_iv", {"gap_nm": 0.5}, fp)
    assert key != point_key("cell_iv", {"gap_nm": 0.6}, fp)
    assert key != point_key("cell_iv", {"gap_nm": 0.5}, {**fp, "ngspice": "ngspice-47"})
    p = tmp_path / f"{key}.json"
    store(p, key, "cell_iv", {"gap_nm": 0.5}, {"rows": [{"i_a": 1.5}], "summary": {}}, 0.1)
    assert load_cached(p, key) == {"rows": [{"i_a": 1.5}], "summary": {}}
    assert load_cached(p, "0" * 64) is None  # another point's file
    text = p.read_text()
    p.write_text(text.replace("1.5", "1.6"))  # valid JSON, altered value
    assert load_cached(p, key) is None
    p.write_text(text[: len(text) // 2])  # truncated
    assert load_cached(p, key) is None


def test_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    real = kinds_mod.COMPUTE["cell_iv"]

    def flaky(p):
        if p["gap_nm"] == 0.5:
            raise SimulationError("ngspice: timestep too small", "log line 1\nlog line 2")
        return real(p)

    monkeypatch.setitem(kinds_mod.COMPUTE, "cell_iv", flaky)
    spec = parse_spec('[[sweep]]\nkind = "cell_iv"\ngap_nm = [0.4, 0.5, 0.6]\nv_step_v = 0.5\n')
    rep = run_sweep(spec, tmp_path, jobs=1, progress=False, plots=False)
    assert rep.count("computed") == 2 and rep.count("failed") == 1
    assert rep.failures[0].message == "ngspice: timestep too small"
    s = pd.read_csv(tmp_path / "summary.csv")
    assert list(s["status"]) == ["ok", "failed", "ok"]
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2  # failures are not cached
    assert sorted(pd.read_parquet(tmp_path / "cell_iv.parquet")["gap_nm"].unique()) == [0.4, 0.6]


RESUME_SPEC = """
[[sweep]]
kind = "cell_iv"
gap_nm = [0.3, 0.6, 0.9, 1.2]
v_step_v = 0.1

[[sweep]]
kind = "mvm_transfer"
n_in = 4
n_out = 3
in_bits = 2
out_bits = 4
batch = 1
seeds = [0, 1, 2]
"""
N_RESUME = 7


def _counts(stdout):
    line = [ln for ln in stdout.splitlines() if " cached, " in ln][-1]
    words = line.replace(",", "").split()
    return {w: int(words[k - 1]) for k, w in enumerate(words) if w in ("cached", "computed", "failed")}


def test_sweep_resumes_after_sigkill(tmp_path):
    spec = tmp_path / "resume.toml"
    spec.write_text(RESUME_SPEC)
    full, part = tmp_path / "full", tmp_path / "part"
    p = subprocess.run(PYCIM + ["sweep", str(spec), "--jobs", "1", "--out", str(full)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert _counts(p.stdout) == {"cached": 0, "computed": N_RESUME, "failed": 0}

    proc = subprocess.Popen(PYCIM + ["sweep", str(spec), "--jobs", "1", "--out", str(part)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    cache = part / "cache"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if len(list(cache.glob("*.json"))) >= 5:  # every cell_iv point and one MVM point
                break
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    cached = sorted(cache.glob("*.json"))
    assert 5 <= len(cached) < N_RESUME
    assert not (part / "summary.csv").exists()
    victim = cached[0]
    victim.write_text(victim.read_text()[:100])  # truncated: must be recomputed
    before = {f.name: f.stat().st_mtime_ns for f in cached if f != victim}

    p = subprocess.run(PYCIM + ["sweep", str(spec), "--jobs", "2", "--out", str(part)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert _counts(p.stdout) == {"cached": len(cached) - 1,
                                 "computed": N_RESUME - len(cached) + 1, "failed": 0}
    for name, mtime in before.items():  # cached points were not recomputed
        assert (cache / name).stat().st_mtime_ns == mtime
    assert json.loads(victim.read_text())["key"] == victim.stem  # recomputed, whole again
    for kind in ("cell_iv", "mvm_transfer"):
        pd.testing.assert_frame_equal(pd.read_parquet(full / f"{kind}.parquet"),
                                      pd.read_parquet(part / f"{kind}.parquet"))
        assert (part / f"{kind}.png").stat().st_size > 0
    assert (full / "summary.csv").read_text() == (part / "summary.csv").read_text()

    p = subprocess.run(PYCIM + ["sweep", str(spec), "--out", str(part)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and _counts(p.stdout) == {"cached": N_RESUME, "computed": 0,
                                                       "failed": 0}


@pytest.mark.parametrize("text,needle", [
    ('[[sweep]]\nkind = "cell_ivv"\ngap_nm = [0.5]\n', "unknown kind 'cell_ivv'"),
    ('[[sweep]]\nkind = "cell_iv"\ngap_nm = ["wide"]\n', "gap_nm must be float"),
    ('[[sweep]]\nkind = "mvm_transfer"\nn_in = 4\nn_out = 3\nin_bits = [1.5]\n', "in_bits must be int"),
    ('[[sweep]]\nkind = "cell_iv"\ngap_nm = 0.5 0.6\n', "line 3"),
    ('[[sweep]]\nkind = "cell_iv"\ngap_nm = 0.5\nvmax = 1\n', "unknown key 'vmax'"),
    ('[[sweep]]\nkind = "cell_iv"\n', "missing key 'gap_nm'"),
    # the spread problem is one vector: mvm_fit's default batch (2) is refused at load
    ('[[sweep]]\nkind = "mvm_fit"\nn_in = 8\nn_out = 8\nspread = true\n',
     "spread = true needs batch = 1"),
    ('[[sweep]]\nkind = "mvm_fit"\nn_in = 8\nn_out = 8\nbatch = 1\nspread = [false, true]\n'
     'density = [1.0, 0.5]\n', "spread = true needs batch = 1 and density = 1"),
])
def test_malformed_spec_exits_2_with_one_line(tmp_path, text, needle):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    out = tmp_path / "out"
    p = subprocess.run(PYCIM + ["sweep", str(spec), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "bad.toml" in lines[0], p.stderr
    assert not out.exists()


def test_parse_errors_in_process():
    with pytest.raises(InputError, match="TOML syntax error"):
        parse_spec("[[sweep]\n")
    with pytest.raises(InputError, match="at least one"):
        parse_spec('title = "x"\n')
    with pytest.raises(InputError, match="ideal must be bool"):
        parse_spec('[[sweep]]\nkind = "energy_per_mac"\nn_in=2\nn_out=2\nin_bits=1\nideal=1\n')


def test_dask_executor_matches_local_and_shares_the_cache(tmp_path):
    """The same spec on a dask LocalCluster (2 worker processes) gives the same tables as the
    local pool, and a rerun with the local executor finds every point cached."""
    import pandas as pd

    from pycim.characterize.runner import run_sweep

    text = ('[[sweep]]\nkind = "cell_iv"\ngap_nm = [0.3, 0.9, 1.5]\n'
            '[[sweep]]\nkind = "adc_transfer"\nout_bits = 3\n')
    spec = parse_spec(text)
    a = run_sweep(spec, tmp_path / "dask", jobs=2, executor="dask", progress=False, plots=False)
    assert a.count("computed") == 4, a.failures
    b = run_sweep(spec, tmp_path / "local", jobs=2, progress=False, plots=False)
    for kind in ("cell_iv", "adc_transfer"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask" / f"{kind}.parquet"),
                                      pd.read_parquet(tmp_path / "local" / f"{kind}.parquet"))
    again = run_sweep(spec, tmp_path / "dask", jobs=1, progress=False, plots=False)
    assert again.count("cached") == 4


def test_bad_scheduler_is_a_clear_input_error(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[[sweep]]\nkind = "cell_iv"\ngap_nm = 0.5\n')
    for extra, msg in ((["--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"], "cannot connect"),
                       (["--executor", "dask", "--scheduler", "x;rm"], "--scheduler"),
                       (["--scheduler", "tcp://127.0.0.1:1"], "needs --executor dask")):
        p = subprocess.run(PYCIM + ["sweep", str(spec), *extra, "--out", str(tmp_path / "o")],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and msg in p.stderr, p.stderr
        assert "Traceback" not in p.stderr


def test_spec_points_are_the_cartesian_product_in_order():
    spec = parse_spec('[[sweep]]\nkind = "mvm_transfer"\nn_in = 4\nn_out = 3\n'
                      'in_bits = [1, 2]\nseeds = [5, 6, 7]\nideal = [true, false]\n')
    pts = [p for _, p in spec.points()]
    assert len(pts) == 12
    assert [(p["in_bits"], p["ideal"], p["seed"]) for p in pts[:4]] == \
        [(1, True, 5), (1, True, 6), (1, True, 7), (1, False, 5)]
    assert spec.points() == parse_spec('[[sweep]]\nkind = "mvm_transfer"\nn_in = 4\nn_out = 3\n'
                                       'in_bits = [1, 2]\nseeds = [5, 6, 7]\n'
                                       'ideal = [true, false]\n').points()


def test_smoke_spec_is_valid():
    from pycim.characterize import load_spec
    from pycim.toolchain import ROOT

    spec = load_spec(ROOT / "characterization" / "smoke.toml")
    from pycim.characterize.spec import KINDS

    from pycim.characterize.kinds_fit import COMPUTE_FIT

    # the smoke spec touches every characterization kind (the fit kinds have fit.toml)
    assert {s.kind for s in spec.sweeps} == set(KINDS) - set(COMPUTE_FIT)
    assert len(spec.points()) <= 24  # small: 15 s on 2 cores (measured); ir_drop/settling ~0.1 s


def test_adc_transfer_kind_linearity(tmp_path):
    """The neuron ADC alone: every code within 1 LSB of the ideal staircase, |INL|, |DNL| < 0.5."""
    from pycim.characterize.runner import run_sweep
    from pycim.characterize.spec import parse_spec

    spec = parse_spec('title = "t"\n[[sweep]]\nkind = "adc_transfer"\nout_bits = [2, 3]\n')
    rep = run_sweep(spec, tmp_path, jobs=2, progress=False, plots=True)
    assert rep.count("computed") == 2, rep.failures
    import pandas as pd

    s = pd.read_csv(tmp_path / "summary.csv")
    assert (s["within_1lsb_frac"] == 1.0).all()
    assert (s["max_abs_inl_lsb"].abs() < 0.5).all() and (s["max_abs_dnl_lsb"].abs() < 0.5).all()
    t = pd.read_parquet(tmp_path / "adc_transfer.parquet")
    assert set(t["out_bits"]) == {2, 3}
    for bits, g in t.groupby("out_bits"):  # the sweep spans the range: most codes appear
        assert g["code"].nunique() >= 0.7 * 2 ** bits
        assert g["code"].min() == -(2 ** (bits - 1)) and g["code"].max() == 2 ** (bits - 1) - 1
    assert (tmp_path / "adc_transfer.png").stat().st_size > 10_000


def test_ir_drop_and_settling_kinds(tmp_path):
    """IR drop: zero without wire R, growing with rows and wire R. Settling of a floating line:
    t = tau ln(1/tol) with tau = C / sum(G) (single pole), shorter for larger sum(G)."""
    import pandas as pd

    from pycim.characterize.runner import run_sweep

    spec = parse_spec('[[sweep]]\nkind = "ir_drop"\nrows = [16, 64]\ncols = 8\n'
                      'wire_r_ohm_per_um = [0.0, 0.9, 5.0]\n'
                      '[[sweep]]\nkind = "settling"\nrows = [16, 64]\ncols = 2\n'
                      'g_cell_us = [5.0, 40.0]\nwire_r_ohm_per_um = 0.0\n')
    rep = run_sweep(spec, tmp_path, jobs=1, progress=False)
    assert rep.count("failed") == 0, rep.failures
    s = pd.read_csv(tmp_path / "summary.csv")
    ir = s[s.kind == "ir_drop"].set_index(["rows", "wire_r_ohm_per_um"])["max_abs_err_frac_vread"]
    assert ir[(16, 0.0)] < 1e-9 and ir[(64, 0.0)] < 1e-9
    assert ir[(16, 0.9)] < ir[(64, 0.9)] and ir[(16, 0.9)] < ir[(16, 5.0)] < ir[(64, 5.0)]
    st_ = s[s.kind == "settling"]
    t = st_["t_settle_max_s"].to_numpy()
    expected = np.log(1 / 1e-3) * st_["tau_rc_estimate_s"].to_numpy()
    np.testing.assert_allclose(t, expected, rtol=0.1)
    assert (tmp_path / "settling.png").exists() and (tmp_path / "ir_drop.png").exists()


def test_settling_ss_slower_than_ff_and_mc_spread_grows_with_sigma(tmp_path):
    """With SKY130 access FETs, the ss corner (higher Ron) settles slower than ff; the MVM error
    against the target weights grows with the programming-noise tolerance and with the
    transistor-mismatch sigma (Monte Carlo); the MC and corner plots are written."""
    from pycim.characterize.runner import run_sweep

    # 6 cells per sensed line: a 200 ns read pulse settles them onto the neuron's hold capacitor
    mvm = ('[[sweep]]\nkind = "mvm_transfer"\nn_in = 3\nn_out = 2\nin_bits = 4\n'
           'out_bits = 6\nbatch = 2\nseeds = [0, 1]\nread_pulse_ns = 200\n')
    spec = parse_spec('[[sweep]]\nkind = "settling"\nrows = 16\ncols = 2\ng_cell_us = 40.0\n'
                      'access = "sky130"\ncorner = ["ff", "ss"]\nwire_r_ohm_per_um = 0.0\n'
                      'c_sense_f = 500e-15\n'
                      + mvm + 'prog_tol_us = [0.0, 8.0]\n'
                      + mvm + 'prog_tol_us = 0.0\nmismatch = 3.0\n')
    rep = run_sweep(spec, tmp_path, jobs=2, progress=False, plots=True)
    assert rep.count("failed") == 0, rep.failures
    assert rep.count("computed") == 2 + 6
    s = pd.read_csv(tmp_path / "summary.csv")
    st_ = s[s.kind == "settling"].set_index("corner")["t_settle_max_s"]
    assert st_["ss"] > st_["ff"] * 1.02, st_
    m = s[s.kind == "mvm_transfer"]
    ref = m[(m.prog_tol_us == 0) & (m.mismatch == 0)]["rms_err_vs_target_lsb"]
    mism = m[(m.prog_tol_us == 0) & (m.mismatch == 3)]["rms_err_vs_target_lsb"]
    assert ref.max() <= 1.0, ref  # no noise, no mismatch: within 1 LSB of the target
    # programming noise against its own closed form: y_ideal is the closed form on the
    # programmed conductances, y_target on the targets, so d = y_ideal - y_target is what the
    # noise should do to each code (independent of the circuit). Per row,
    # code - floor(y_target) = (code - floor(y_ideal)) + (floor(y_ideal) - floor(y_target)),
    # the first within the 1-LSB budget of the noise-free runs, the second within 1 of d:
    # |code - floor(y_target) - d| <= 2. A noise applied to the circuit but not to the closed
    # form (or scaled differently) breaks it once d reaches a few LSB.
    rows = pd.read_parquet(tmp_path / "mvm_transfer.parquet")
    rn = rows[(rows.prog_tol_us == 8) & (rows.mismatch == 0)]
    rr = rows[(rows.prog_tol_us == 0) & (rows.mismatch == 0)]
    d = rn["y_ideal"] - rn["y_target"]
    assert np.abs(rr["y_ideal"] - rr["y_target"]).max() < 1e-9  # no noise, no shift
    assert np.abs(d).max() > 0.5, d  # the noise moved the closed form (sigma 4 uS on G)
    assert np.abs(rn["code"] - np.floor(rn["y_target"]) - d).max() <= 2.0
    # Mismatch against the PDK's Pelgrom sigma, not a run. The OTA input pair (nfet_01v8,
    # m_in fingers of n_unit_w_um x ota_ln_um, emitted as one W x L FET each) has an input
    # offset sigma sqrt(2) sigma_vth per neuron; the request scales it by `mismatch` (3.0). The
    # offset enters every input window's charge transfer as (C_s / C_i) V_os: 7 windows at
    # 4-bit input, i.e. an output shift windows (C_s / C_i) V_os / LSB_int, LSB_int = 2 fs /
    # 2^out_bits. That is the expectation's floor (e_win, sqrt(E[shift^2]) over neurons); the
    # DAC packets of the conversion, the comparator and every other FET (switches, mirrors,
    # access FETs) add independent terms, so the ceiling takes every transfer (windows +
    # out_bits - 1 packets) plus the threshold once (e_all). The 4 neurons (2 seeds x 2
    # outputs) draw 4 offsets: their RMS falls below e_win / 3 with probability
    # P(chi2_4 < 4/9) = 2 %, hence the lower bound on the excess over the no-mismatch runs
    # (a mismatch not applied fails it); 3 e_all is the upper bound (a sigma in mV taken as
    # V x 10 or a 10x scale fails it). With auto-zero the windows' part is cancelled: below.
    from pycim.specs.neuron import NeuronSpec
    from pycim.tech.sky130 import vth_mismatch_sigma_v

    ns = NeuronSpec()
    sig_pair_v = np.sqrt(2) * vth_mismatch_sigma_v("nfet_01v8", ns.n_unit_w_um * ns.m_in * 1e-6,
                                                   ns.ota_ln_um * 1e-6)
    k, lsb_int_v, n_win = ns.c_sample_f / ns.c_integ_f, 2 * ns.adc_fs_v / 2 ** 6, 2 ** 3 - 1
    e_win = 3.0 * sig_pair_v * n_win * k / lsb_int_v
    e_all = 3.0 * sig_pair_v * (1 + (n_win + 6 - 1) * k) / lsb_int_v
    rms_ref = float(np.sqrt(np.mean(ref ** 2)))  # equal codes per point: pooled RMS
    rms_mism = float(np.sqrt(np.mean(mism ** 2)))
    excess = float(np.sqrt(max(rms_mism ** 2 - rms_ref ** 2, 0.0)))
    print(f"\nmismatch x3: sigma_pair {sig_pair_v * 1e3:.2f} mV, expected {e_win:.2f} (windows) "
          f"..{e_all:.2f} (all transfers) LSB rms; measured {rms_mism:.2f}, no mismatch "
          f"{rms_ref:.2f}, excess {excess:.2f} LSB")
    # The neuron auto-zeroes its OTA (issue 17): the offset that would enter every window
    # (e_win) is stored on C_az and cancelled; what is left (switch and mirror mismatch, the
    # stored offset's charge injection) is not zero, so a mismatch that was not applied at all
    # (excess 0) fails. This run's 4 offsets cannot tell that remainder (0.50 LSB at C_s/C_i =
    # 0.5, 0.61 at 0.25) from e_win (2.0, now 1.0 LSB): auto-zero itself is asserted against
    # the same neuron with it switched off by tests/test_mvm.py::test_auto_zero_*.
    assert 0 < excess < e_all, (excess, e_all, ref, mism)
    assert rms_mism <= 3 * e_all, (rms_mism, e_all, mism)
    assert (tmp_path / "mvm_transfer_mc.png").stat().st_size > 10_000
    assert (tmp_path / "settling.png").stat().st_size > 10_000


def test_every_committed_spec_parses():
    from pycim.characterize import load_spec
    from pycim.toolchain import ROOT

    specs = sorted((ROOT / "characterization").glob("*.toml"))
    assert len(specs) >= 4
    for p in specs:
        assert load_spec(p).points(), p


def test_write_verify_reaches_targets_within_1us(tmp_path):
    """Write-verify of one 1T1R cell in ngspice with the chip's scheme (SET BL ladder at WL
    2.5 V, RESET SL ladder at WL 5 V, 1 us pulses) lands every target within +-1 uS, at 27 and
    85 C; a SET never lowers G and a RESET never raises it; a cell above its target is RESET
    first. The verify read (cell current / simulated cell voltage) is the model's read
    conductance at the simulated gap. At 85 C (Arrhenius: faster switching at the same field)
    the first SET pulse that moves the cell comes at a BL voltage no higher than at 27 C."""
    spec = parse_spec('[[sweep]]\nkind = "write_verify"\ntargets_us = [3.0, 10.0]\n'
                      'temp_c = [27.0, 85.0]\n'
                      '[[sweep]]\nkind = "write_verify"\ng_init_us = 20.0\ntargets_us = 3.0\n')
    rep = run_sweep(spec, tmp_path, jobs=2, progress=False, plots=True)
    assert rep.count("failed") == 0, rep.failures
    s = pd.read_csv(tmp_path / "summary.csv").set_index(["temp_c", "g_init_us", "target_us"])
    t = pd.read_parquet(tmp_path / "write_verify.parquet")
    first_move = {}
    for temp in (27.0, 85.0):
        for tgt in (3.0, 10.0):
            r = s.loc[(temp, 0.5, tgt)]
            assert r["converged"] and abs(r["g_final_us"] - tgt) <= 1.0, r
            g = t[(t.temp_c == temp) & (t.g_init_us == 0.5) & (t.target_us == tgt)]
            g = g.sort_values("pulse")
            assert len(g) == r["pulses"] + 1
            dg = np.diff(g["g_read_us"].to_numpy())
            op = g["op"].to_numpy()[1:]
            assert np.all(dg[op == "set"] > -1e-3) and np.all(dg[op == "reset"] < 1e-3), dg
            # the verify read against the model equation at the simulated gap: the chord
            # conductance at v_read (sinh(x)/x, x = v_read / V0); the cell sees less (the FET's
            # drop, up to ~10 % at 55 uS), and d ln(sinh x / x) = (coth x - 1/x) dx with
            # dx = 0.1 x: 0.18 % at 0.1 V, 0.68 % at 0.2 V; 1.5x that, at least 0.3 %
            v_rd = assumptions.value("v_read_v")
            x = v_rd / 0.43
            rtol = max(3e-3, 1.5 * (1 / np.tanh(x) - 1 / x) * 0.1 * x)
            g_model = rram.read_conductance_s(g["gap_nm"].to_numpy() * 1e-9, v_rd) * 1e6
            np.testing.assert_allclose(g["g_read_us"], g_model, rtol=rtol)
            assert (g["g_1t1r_us"] < g["g_read_us"]).all()  # the access FET's Ron is in series
            moved = g[(g.op == "set") & (np.r_[0.0, dg] > 0.05)]
            first_move[(temp, tgt)] = float(moved["v_bl_v"].iloc[0])
    for tgt in (3.0, 10.0):
        assert first_move[(85.0, tgt)] <= first_move[(27.0, tgt)]
    back = s.loc[(27.0, 20.0, 3.0)]
    assert back["converged"] and abs(back["err_us"]) <= 1.0
    b = t[(t.g_init_us == 20.0)].sort_values("pulse")
    assert b["op"].iloc[1] == "reset"
    assert (tmp_path / "write_verify.png").stat().st_size > 10_000


def test_mismatch_delvto_is_seeded_per_instance():
    """Per-instance delvto: reproducible for a seed, independent between seeds and instances,
    scaled by the PDK's Pelgrom sigma, added to a corner's own delvto, written to the netlist."""
    from pycim.netlist.mismatch import apply_mismatch, instance_normal, instance_shifts
    from pycim.netlist.circuit import Circuit, ngspice_lines
    from pycim.netlist.sky130_cards import card_model, card_mosfet
    from pycim.tech import sky130

    def circuit(corner):
        c = Circuit("mm")
        card = sky130.flat_card("nfet_g5v0d10v5", 1e-6, 0.5e-6, corner)
        c.add_model(card_model(card))
        c.add_stream(lambda: (card_mosfet(card, f"M{k}", "d", "g", "0", "0") for k in range(400)))
        return c, dict(card.instance_params).get("delvto", 0.0)

    sigma = sky130.vth_mismatch_sigma_v("nfet_g5v0d10v5", 1e-6, 0.5e-6)
    assert 5e-3 < sigma < 30e-3  # Pelgrom A_vt / sqrt(W L) of a 1 x 0.5 um 5 V FET
    a = instance_shifts(apply_mismatch(circuit("tt")[0], seed=7, scale=2.0))
    b = instance_shifts(apply_mismatch(circuit("tt")[0], seed=7, scale=2.0))
    c = instance_shifts(apply_mismatch(circuit("tt")[0], seed=8, scale=2.0))
    assert a == b
    va, vc = np.array(list(a.values())), np.array(list(c.values()))
    assert abs(np.corrcoef(va, vc)[0, 1]) < 0.2  # another seed: an independent sample
    assert np.std(va) == pytest.approx(2.0 * sigma, rel=0.15)  # 400 samples: ~4 % sd error
    assert abs(np.mean(va)) < 0.3 * sigma
    assert a["M3"] == pytest.approx(2.0 * sigma * instance_normal(7, "M3"), rel=1e-12)
    ss, own = circuit("ss")
    assert own > 0.01  # the ss card carries its own threshold shift
    shifted = instance_shifts(apply_mismatch(ss, seed=7, scale=2.0))
    assert shifted["M3"] == pytest.approx(own + a["M3"], rel=1e-12)
    line = next(ln for ln in ngspice_lines(ss) if ln.startswith("M3 "))
    assert "delvto=" in line
    assert instance_shifts(apply_mismatch(circuit("tt")[0], seed=7, scale=0.0))["M3"] == 0.0


def test_every_kind_has_a_plot():
    from pycim.characterize.kinds import COMPUTE
    from pycim.characterize.kinds_fit import COMPUTE_FIT
    from pycim.characterize.plots import PLOTS

    assert set(COMPUTE) - set(COMPUTE_FIT) <= set(PLOTS)


def test_device_read_voltage_is_the_mvm_read_voltage():
    """The device layer's default read point (pycim.tech.rram, which imports no assumptions)
    is the MVM's and write-verify's read voltage: conductance targets mean the same thing in
    the programming, the verify read and the MVM."""
    assert rram.V_READ_DEFAULT_V == assumptions.value("v_read_v")

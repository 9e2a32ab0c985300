"""Command line against hostile input: every argument checked before any work, options that do
not apply refused, a sweep never damaging a directory it was pointed at."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pycim.cli import main

#: one cell_iv point, a few DC steps: a second of ngspice
ONE_POINT = '[[sweep]]\nkind = "cell_iv"\ngap_nm = 0.4\nv_step_v = 0.5\n'
TWO_POINTS = '[[sweep]]\nkind = "cell_iv"\ngap_nm = [0.4, 0.6]\nv_step_v = 0.5\n'


def cli(capsys, *args):
    """(exit code, stdout, stderr) of ``pycim ARGS`` run in this process."""
    try:
        rc = main([str(a) for a in args])
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def _snapshot(d: Path) -> dict:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file()}


def _fake_results(d: Path, kind="mvm_fit", point=None) -> None:
    """A results directory of another spec: its summary lists one point this test's specs do
    not have, its manifest lists a table."""
    d.mkdir()
    point = point or {"n_in": 2, "n_out": 2, "seed": 3}
    (d / f"{kind}.parquet").write_bytes(b"PAR1 not really")
    (d / "summary.csv").write_text(
        "kind,status,point,message\n" + f'{kind},ok,"{json.dumps(point).replace(chr(34), 2 * chr(34))}",\n')
    (d / "sweep.json").write_text(json.dumps({"spec": "other.toml", "points": 1}))
    (d / "manifest.json").write_text(json.dumps({"schema": "pycim.results/1", "files": {}}))


# --- 1. sweep --out: never another spec's results or unrelated files -------------------------

def test_sweep_refuses_out_holding_another_specs_results(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(ONE_POINT)
    out = tmp_path / "other"
    _fake_results(out)
    before = _snapshot(out)
    rc, _, err = cli(capsys, "sweep", spec, "--out", out, "--jobs", "1")
    assert rc == 2, err
    line, = err.strip().splitlines()
    assert "another sweep" in line and "other.toml" in line and "mvm_fit" in line
    assert "--out" in line and "remove" in line
    assert _snapshot(out) == before  # nothing rewritten, nothing added


def test_sweep_refuses_a_non_results_directory(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(ONE_POINT)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    (out / "summary.csv").write_text("my,own,table\n")
    before = _snapshot(out)
    rc, _, err = cli(capsys, "sweep", spec, "--out", out, "--jobs", "1")
    assert rc == 2 and "notes.txt" in err and "not a sweep's results directory" in err, err
    assert _snapshot(out) == before


def test_sweep_refuses_a_cache_of_other_points(tmp_path, capsys):
    """An unfinished run (only cache/) of another spec is refused too."""
    from pycim.characterize.runner import fingerprint, point_key, store

    spec = tmp_path / "s.toml"
    spec.write_text(ONE_POINT)
    out = tmp_path / "o"
    (out / "cache").mkdir(parents=True)
    pt = {"gap_nm": 1.0, "v_max_v": 1.0, "v_step_v": 0.5}
    key = point_key("cell_iv", pt, fingerprint())
    store(out / "cache" / f"{key}.json", key, "cell_iv", pt, {"rows": [], "summary": {}}, 0.0)
    rc, _, err = cli(capsys, "sweep", spec, "--out", out, "--jobs", "1")
    assert rc == 2 and "cached points of another sweep" in err and "gap_nm=1.0" in err, err
    assert not (out / "summary.csv").exists()


@pytest.mark.slow  # three one-point sweeps: a few seconds of ngspice
def test_sweep_rerun_resumes_after_the_spec_moved_and_may_grow(tmp_path, capsys):
    spec = tmp_path / "a" / "s.toml"
    spec.parent.mkdir()
    spec.write_text(ONE_POINT)
    out = tmp_path / "out"
    rc, so, err = cli(capsys, "sweep", spec, "--out", out, "--jobs", "1")
    assert rc == 0, err
    assert "0 cached, 1 computed" in so
    assert json.loads((out / "sweep.json").read_text())["spec"] == str(spec)
    moved = tmp_path / "b" / "renamed.toml"
    moved.parent.mkdir()
    shutil.move(spec, moved)
    rc, so, err = cli(capsys, "sweep", moved, "--out", out, "--jobs", "1")
    assert rc == 0 and "1 cached, 0 computed" in so, so + err
    grown = tmp_path / "b" / "grown.toml"
    grown.write_text(TWO_POINTS)  # a superset: nothing the directory lists is dropped
    rc, so, err = cli(capsys, "sweep", grown, "--out", out, "--jobs", "1")
    assert rc == 0 and "1 cached, 1 computed" in so, so + err
    before = _snapshot(out)
    rc, so, err = cli(capsys, "sweep", moved, "--out", out, "--jobs", "1")  # would drop 0.6
    assert rc == 2 and "another sweep" in err and "gap_nm=0.6" in err, err
    assert _snapshot(out) == before


# --- 2. a spec that validates runs: the MVM's own checks at load, in the spec's terms --------

from pycim.characterize import parse_spec  # noqa: E402
from pycim.errors import InputError  # noqa: E402


@pytest.mark.parametrize("table,needle", [
    ('kind = "ir_drop"\nrows = [2, 3]\ncols = 1', "rows must be even (G+/G- row pairs), got 3"),
    ('kind = "mvm_transfer"\nn_in = 4\nn_out = 3\nin_bits = 8\nout_bits = 1',
     "with in_bits 8 converts each phase with out_bits - 3 bits: out_bits must be >= 4, got 1"),
    ('kind = "energy_per_mac"\nn_in = 4\nn_out = 3\nin_bits = [4, 6]\nout_bits = 2',
     "in_bits 6 converts each phase with out_bits - 2 bits: out_bits must be >= 3, got 2"),
    ('kind = "mvm_fit"\nn_in = 2\nn_out = 2\nread_pulse_s = 2e-9', "read_pulse_s must be in"),
    ('kind = "mvm_transfer"\nn_in = 2\nn_out = 2\nread_pulse_ns = 3.9', "read_pulse_ns must be in"),
    ('kind = "mvm_fit"\nn_in = 2\nn_out = 2\nin_bits = 8\nadc_full_scale_v = 0.2',
     "adc_full_scale_v 0.2 V with a two-phase MVM"),
    ('kind = "mvm_fit"\nn_in = 2\nn_out = 2\nout_bits = 10\nadc_full_scale_v = [0.4, 0.2]',
     "adc_full_scale_v 0.2 V at out_bits 10 gives a 0.391 mV LSB"),
])
def test_spec_refuses_points_that_would_fail_at_run_time(table, needle):
    with pytest.raises(InputError) as ei:
        parse_spec(f"[[sweep]]\n{table}\n", "s.toml")
    msg = str(ei.value)
    assert needle in msg and msg.startswith("s.toml: [[sweep]] #1"), msg
    assert "--" not in msg  # the spec's keys, not command-line options


def test_spec_mvm_widths_agree_with_the_request():
    """Every in/out width and full scale the spec accepts, the MVM accepts, and vice versa."""
    from pycim.cim.request import MvmRequest

    w, x = np.zeros((2, 2)), np.zeros((1, 2), int)
    for ib in range(1, 9):
        for ob in range(1, 11):
            for fs in (0.05, 0.2, 0.4, 0.8):
                text = (f'[[sweep]]\nkind = "mvm_fit"\nn_in = 2\nn_out = 2\nin_bits = {ib}\n'
                        f'out_bits = {ob}\nadc_full_scale_v = {fs}\n')
                try:
                    parse_spec(text)
                    spec_ok = True
                except InputError:
                    spec_ok = False
                try:
                    MvmRequest(w, x, in_bits=ib, out_bits=ob, adc_full_scale_v=fs)
                    req_ok = True
                except InputError:
                    req_ok = False
                assert spec_ok == req_ok, (ib, ob, fs)
    # at least one of each kind
    parse_spec('[[sweep]]\nkind = "mvm_fit"\nn_in = 2\nn_out = 2\nin_bits = 8\nout_bits = 4\n')


@pytest.mark.parametrize("ns", [4.0, 1000.0])
def test_mvm_transfer_read_pulse_bounds_reach_the_request(monkeypatch, ns):
    """The spec's read_pulse_ns bounds are the request's: both ends pass through the kind."""
    from pycim.characterize import kinds
    from pycim.flows import mvm as flow

    spec = parse_spec(f'[[sweep]]\nkind = "mvm_transfer"\nn_in = 2\nn_out = 2\n'
                      f'read_pulse_ns = {ns}\n')
    (_, point), = spec.points()
    seen = {}
    monkeypatch.setattr(flow, "run_mvm", lambda req, **kw: seen.setdefault("req", req))
    kinds._mvm(point, 1)
    assert seen["req"].read_pulse_s == pytest.approx(ns * 1e-9, rel=1e-15)


# --- 3. set_reset: the last pulse of each ramp is its maximum, one pulse included -------------

def test_pulse_ramp_ends_at_the_maximum():
    from pycim.characterize.kinds import pulse_ramp

    assert pulse_ramp(3.0, 1) == (3.0,)
    assert pulse_ramp(3.0, 2) == (1.5, 3.0)
    assert pulse_ramp(2.0, 5) == (1.0, 1.25, 1.5, 1.75, 2.0)


@pytest.mark.slow  # two one-pulse transients
def test_set_reset_one_pulse_applies_the_maxima():
    from pycim.characterize.kinds import set_reset

    spec = parse_spec('[[sweep]]\nkind = "set_reset"\nn_pulses = 1\nv_set_max_v = 3.0\n'
                      'v_reset_max_v = 1.5\n')
    (_, point), = spec.points()
    rows = set_reset(point)["rows"]
    assert [(r["phase"], r["amplitude_v"]) for r in rows] == [("set", 3.0), ("reset", -1.5)]


# --- 4, 5, 8, 9, 10. pycim netlist: options that do not apply are refused -----------------------

@pytest.fixture
def wx(tmp_path):
    w = np.random.default_rng(0).uniform(-1, 1, (16, 16))
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "x.npy", np.arange(16) % 7 - 3)
    return tmp_path / "w.npy", tmp_path / "x.npy"


@pytest.mark.parametrize("args,needle", [
    (["core", "--weights", "{w}", "--rows", "64", "--cols", "64"],
     "--rows, --cols do not apply with --weights"),
    (["cell", "--rows", "4", "--cols", "8"], "--rows, --cols do not apply to a cell netlist"),
    (["cell", "--rows", "16"], "--rows does not apply to a cell netlist"),  # the default, given
    (["array", "--driver", "ideal", "--direction", "backward"],
     "--driver, --direction do not apply to an array netlist"),
    (["array", "--access", "ideal", "--corner", "ss"],
     "--corner does not apply to an array netlist with --access ideal"),
    (["--check", "--rows", "4"], "--rows does not apply to --check"),
    (["--all", "--corner", "ss"], "--corner does not apply to --all"),
    (["--all", "--standalone", "--name", "n"], "--name, --standalone do not apply to --all"),
    (["--check", "--weights", "{w}"], "--weights does not apply to --check"),
    (["--all", "--check"], "give one of them"),
    (["cell", "--in-bits", "3"], "pycim netlist: error: --in-bits needs --weights"),
    (["array", "--x", "{x}", "--out-bits", "5"], "--x, --out-bits need --weights"),
    (["core", "--weights", "{w}", "--in-bits", "3"], "--in-bits does not apply without --x"),
    (["core", "--weights", "{w}", "--x", "{x}", "--in-bits", "8", "--out-bits", "1"],
     "add --phases 1"),
    (["core", "--weights", "{w}", "--x", "{x}", "--in-bits", "5"], "two phases from --in-bits 5"),
    (["core", "--weights", "{w}", "--x", "{x}", "--in-bits", "6", "--phases", "2"],
     "a two-phase MVM is two transients"),
    (["array", "--rows", "4_0"], "--rows: must be an integer in 1..256, got '4_0'"),
    (["array", "--rows", " 40"], "got ' 40'"),
    (["array", "--cols", "\u0664\u0660"], "--cols: must be an integer"),  # Arabic-Indic 40
    (["array", "--temp-c", "2_7"], "--temp-c: must be a decimal number, got '2_7'"),
])
def test_netlist_refuses_options_that_do_not_apply(tmp_path, capsys, wx, args, needle):
    w, x = wx
    out = tmp_path / "n.cir"
    argv = [a.format(w=w, x=x) for a in args]
    if not any(a in ("--all", "--check") for a in argv):
        argv += ["-o", str(out)]
    ref = Path(__file__).resolve().parents[1] / "netlists"
    before = {p.name: p.stat().st_mtime_ns for p in ref.iterdir()}
    rc, so, err = cli(capsys, "netlist", *argv)
    assert rc == 2, so + err
    line, = err.strip().splitlines()
    assert needle in line and line.startswith("pycim netlist: error:"), line
    assert not out.exists()
    assert {p.name: p.stat().st_mtime_ns for p in ref.iterdir()} == before


def test_netlist_mvm_deck_with_explicit_one_phase(tmp_path, capsys, wx):
    """--phases 1 writes the one-phase deck (what `pycim mvm --phases 1` runs); 4-bit inputs,
    one phase by default in pycim mvm too, need no --phases; a default 16 given explicitly
    to an array is accepted."""
    w, x = wx
    for extra in (["--in-bits", "8", "--out-bits", "1", "--phases", "1"], ["--in-bits", "4"]):
        out = tmp_path / f"d{len(extra)}.cir"
        rc, so, err = cli(capsys, "netlist", "core", "--weights", w, "--x", x, *extra, "-o", out)
        assert rc == 0 and out.stat().st_size > 0, err
    rc, so, err = cli(capsys, "netlist", "array", "--rows", "16", "-o", tmp_path / "a.cir")
    assert rc == 0, err
    assert (tmp_path / "a.cir").read_bytes() == (
        Path(__file__).resolve().parents[1] / "netlists" / "array_16x16.cir").read_bytes()


def test_standalone_hint_is_shell_quoted(tmp_path, capsys, monkeypatch):
    import shlex

    monkeypatch.chdir(tmp_path)
    rc, so, err = cli(capsys, "netlist", "cell", "--standalone", "-o", "sa dir/deck.cir")
    assert rc == 0, err
    hint = so.strip().splitlines()[-1]
    assert hint == "run: cd 'sa dir' && ngspice -b deck.cir"
    assert shlex.split(hint[len("run: "):])[:2] == ["cd", "sa dir"]


# --- 6. pycim mvm --engine macro: the transient's options refused, --jobs' real cause named ---

@pytest.fixture
def wx8(tmp_path):
    np.save(tmp_path / "w.npy", np.random.default_rng(1).uniform(-1, 1, (8, 8)))
    np.save(tmp_path / "x.npy", np.arange(8) % 5 - 2)
    return ["--weights", str(tmp_path / "w.npy"), "--x", str(tmp_path / "x.npy")]


@pytest.mark.parametrize("extra,needle", [
    (["--engine", "macro", "--partition"], "--partition applies to a transistor-level"),
    (["--engine", "macro", "--full-deck"], "--full-deck applies to a transistor-level"),
    (["--engine", "macro", "--wire-segment-cells", "1"], "--wire-segment-cells applies"),
    (["--engine", "macro", "--jobs", "4"], "--jobs applies to a transistor-level"),
    (["--engine", "vacask", "--jobs", "2"], "--engine vacask runs one deck of the whole core by "
                                            "default: add --partition or drop --jobs"),
    (["--full-deck", "--jobs", "2"], "drop --full-deck or --jobs"),
])
def test_mvm_refuses_options_the_engine_does_not_use(tmp_path, capsys, wx8, extra, needle):
    js = tmp_path / "m.json"
    rc, so, err = cli(capsys, "mvm", *wx8, *extra, "--json", js)
    assert rc == 2, so + err
    line, = err.strip().splitlines()
    assert needle in line, line
    if "macro" in extra:
        assert "--full-deck" not in line or "--full-deck" in extra
    assert not js.exists()


def test_mvm_macro_engine_runs_without_them(tmp_path, capsys, wx8):
    js = tmp_path / "m.json"
    rc, so, err = cli(capsys, "mvm", *wx8, "--engine", "macro", "--json", js)
    assert rc == 0, err
    assert json.loads(js.read_text())["partition"] is False


# --- 7. pycim fit on a table missing columns: one line naming the table and the columns ------

def _results_missing(d: Path, drop: tuple[str, ...]) -> None:
    import pandas as pd

    from pycim.characterize.tables import write_manifest
    from pycim.fit.fits import FIT_COLUMNS

    d.mkdir()
    row = {c: 0 for c in FIT_COLUMNS["mvm_fit"] if c not in drop}
    pd.DataFrame([row]).to_parquet(d / "mvm_fit.parquet", index=False)
    (d / "summary.csv").write_text("kind,status,point,message\n")
    write_manifest(d, [d / "mvm_fit.parquet", d / "summary.csv"])


def test_fit_refuses_a_table_missing_columns(tmp_path, capsys):
    d = tmp_path / "res"
    _results_missing(d, ("e_total_j", "v_settled_v"))
    out = tmp_path / "model.json"
    rc, so, err = cli(capsys, "fit", d, "-o", out)
    assert rc == 2, so + err
    line, = err.strip().splitlines()
    assert line == f"pycim fit: error: {d}: mvm_fit table lacks columns " \
                   f"['v_settled_v', 'e_total_j']"
    assert not out.exists()


def test_fit_results_api_refuses_it_too(tmp_path):
    from pycim.fit import fit_results

    d = tmp_path / "res"
    _results_missing(d, ("e_total_j",))
    with pytest.raises(InputError, match=r"mvm_fit table lacks columns \['e_total_j'\]"):
        fit_results(d)

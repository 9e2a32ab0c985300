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

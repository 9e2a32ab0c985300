"""Reliability, round two (issue 19): one parametrized group per class of broken promise.

Every row runs a CLI command (in this process, or as a real subprocess where signals or a
second process matter) and asserts

* the exit code (2 bad input, 1 fault, 0 where the command must now succeed; 130 / 143 for
  Ctrl-C / SIGTERM);
* exactly one stderr line for a refusal or a fault, matching ``needle``; no ``Traceback``;
* the exact set of files before and after (sha256 of every regular file, so an input that
  was overwritten shows; device nodes and fifos by type), apart from the row's declared
  outputs, and an empty simulator temp directory (``TMPDIR``).

Simulators are fakes named by ``PYCIM_NGSPICE`` (shell scripts): one that logs every deck it
is given into ``calls`` (so "no work started" is the file being unchanged), one that SIGKILLs
itself, one that hangs on ``--version``, one that sleeps on chosen decks and hands the rest to
the real ngspice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PYCIM = [sys.executable, "-m", "pycim.cli"]
REAL_NGSPICE = shutil.which("ngspice")
ROOT = Path(__file__).resolve().parent.parent
ENV_SUB = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

# ---------------------------------------------------------------------------------------------
# fixtures


from test_reliability import _VERSION, _script, invoke  # noqa: E402  (the same fakes and runner)


def fake_logging(t: Path) -> None:
    """Logs each deck it is asked to simulate into ``calls``, then crashes."""
    _script(t, "ngspice", _VERSION + f"echo run >> '{t / 'calls'}'\nkill -KILL $$\n")


def fake_kill(t: Path) -> None:
    _script(t, "ngspice", _VERSION + "echo 'about to die'\nkill -KILL $$\n")


def fake_noconv(t: Path) -> None:
    _script(t, "ngspice", _VERSION + "echo 'Error: no convergence in DC operating point'\n"
            "echo 'doAnalyses: TRAN:  Timestep too small'\nexit 1\n")


def fake_version_hangs(t: Path) -> None:
    _script(t, "ngspice", 'if [ "$1" = --version ]; then exec sleep 60; fi\nexit 1\n')


def fake_version_garbage(t: Path) -> None:
    _script(t, "ngspice", 'echo "this is not a simulator"\nexit 0\n')


def fake_not_executable(t: Path) -> None:
    p = _script(t, "ngspice", "exit 0\n")
    p.chmod(0o644)


def fake_sleep(t: Path) -> None:
    """Records its pid in ``pids`` and sleeps: a long simulation."""
    _script(t, "ngspice", _VERSION + f"echo $$ >> '{t / 'pids'}'\nexec sleep 60\n")


def fake_hang_on(t: Path, gap: str = "5e-10") -> None:
    """Sleeps on the deck of one cell_iv point while ``t/hang`` exists (pid into ``pids``);
    every other deck goes to the real ngspice."""
    _script(t, "ngspice", f'if [ "$1" = --version ]; then exec "{REAL_NGSPICE}" --version; fi\n'
            f'if [ -e "{t / "hang"}" ] && grep -q "gap_init={gap}" "$2"; then\n'
            f'  echo $$ >> "{t / "pids"}"; exec sleep 60; fi\n'
            f'exec "{REAL_NGSPICE}" "$@"\n')


def _good_inputs(t: Path) -> None:
    np.save(t / "w.npy", np.array([[0.5, -0.25], [-1.0, 1.0]]))
    np.save(t / "x.npy", np.array([3, -2]))
    (t / "calls").write_text("")


def _fake_results(t: Path, name: str = "res", parquet: bytes | None = None,
                  manifest=None) -> Path:
    """A results directory that verifies: one small cell_iv table, summary, manifest (or the
    given ``manifest`` object / garbage ``parquet`` bytes with a matching manifest entry)."""
    from pycim.characterize.tables import write_manifest

    d = t / name
    d.mkdir()
    if parquet is None:
        pd.DataFrame({"gap_nm": [0.4, 0.5], "v_v": [0.1, 0.1], "i_a": [1e-6, 2e-6]}).to_parquet(
            d / "cell_iv.parquet", engine="pyarrow", index=False)
    else:
        (d / "cell_iv.parquet").write_bytes(parquet)
    (d / "summary.csv").write_text("kind,status\ncell_iv,ok\n")
    write_manifest(d, [d / "cell_iv.parquet", d / "summary.csv"])
    if manifest is not None:
        (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def _setup(*fns) -> Callable[[Path], None]:
    def run(t: Path) -> None:
        for f in fns:
            f(t)
    return run


def _spec(text: str, name: str = "s.toml") -> Callable[[Path], None]:
    def run(t: Path) -> None:
        (t / name).write_text(text)
    return run


def _npy(name: str, arr) -> Callable[[Path], None]:
    def run(t: Path) -> None:
        np.save(t / name, arr)
    return run


def _link(src: str, dst: str, hard: bool = False) -> Callable[[Path], None]:
    def run(t: Path) -> None:
        (os.link if hard else os.symlink)(t / src, t / dst)
    return run


def _mknod(name: str, kind: str = "chr") -> Callable[[Path], None]:
    """A device node (or fifo) of the case's own: the real /dev/null is never named, so a
    regression cannot replace the machine's device node."""
    def run(t: Path) -> None:
        if kind == "fifo":
            os.mkfifo(t / name)
        else:  # a char device with /dev/null's numbers
            os.mknod(t / name, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return run


def _results_with(*files: tuple[str, bytes]) -> Callable[[Path], None]:
    def run(t: Path) -> None:
        d = _fake_results(t)
        for name, data in files:
            (d / name).write_bytes(data)
    return run


CELL2 = '[[sweep]]\nkind = "cell_iv"\ngap_nm = [0.4, 0.5]\nv_step_v = 0.5\n'
CELL3 = '[[sweep]]\nkind = "cell_iv"\ngap_nm = [0.4, 0.5, 0.6]\nv_step_v = 0.5\n'
LONG = "L" * 245  # + ".json" = 250 bytes: the example
MVM = ("mvm", "--weights", "{t}/w.npy", "--x", "{t}/x.npy", "--ideal", "--json", "{t}/o.json")
MACRO = ("mvm", "--weights", "{t}/w.npy", "--x", "{t}/x.npy", "--engine", "macro")


def mvm(json_path: str = "{t}/o.json", **repl) -> tuple[str, ...]:
    args = list(MVM)
    args[args.index("--json") + 1] = json_path
    for k, v in repl.items():
        flag = "--" + k.replace("_", "-")
        if flag in args:
            args[args.index(flag) + 1] = v
        else:
            args += [flag, v]
    return tuple(args)


def fit(*extra: str, res: str = "{t}/res") -> tuple[str, ...]:
    return ("fit", res, *extra)


# ---------------------------------------------------------------------------------------------
# the harness


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    code: int = 2
    needle: str = ""
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()    # files the run must create (exact relative names)
    mode: str = "inproc"             # inproc | subproc
    check: Callable[[Path, str, str], None] | None = None


def _snapshot(root: Path) -> dict[str, str]:
    """{relative path: sha256 (regular file) | type (dir, link, chr, fifo, ...)}."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = os.lstat(p)
        m = st.st_mode
        if stat.S_ISLNK(m):
            v = "link:" + os.readlink(p)
        elif stat.S_ISREG(m):
            v = hashlib.sha256(p.read_bytes()).hexdigest()
        elif stat.S_ISDIR(m):
            v = "dir"
        elif stat.S_ISCHR(m):
            v = f"chr:{st.st_rdev}"
        elif stat.S_ISFIFO(m):
            v = "fifo"
        else:
            v = "other"
        out[str(p.relative_to(root))] = v
    return out


def _run_case(case: Case, tmp_path: Path, monkeypatch, capsys) -> tuple[Path, str, str]:
    t = tmp_path / "case"
    t.mkdir()
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    monkeypatch.setenv("TMPDIR", str(systmp))
    monkeypatch.setenv("PYCIM_NGSPICE", str(t / "bin" / "ngspice"))
    _good_inputs(t)
    fake_logging(t)  # default: any simulation shows in t/calls
    if case.setup:
        case.setup(t)
    for k, v in case.env.items():
        monkeypatch.setenv(k, v.replace("{t}", str(t)))
    argv = [a.replace("{t}", str(t)) for a in case.argv]
    before = _snapshot(t)
    capsys.readouterr()
    code, out, err = invoke(argv, case.mode, t, {**ENV_SUB, **{
        k: os.environ[k] for k in ("TMPDIR", "PYCIM_NGSPICE", *case.env)}}, capsys)
    assert code == case.code, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert "Traceback" not in out + err, err
    if case.code:
        lines = _messages(err)
        if case.code == 1:  # a fault: one error line, then the simulator's log excerpt
            assert [ln for ln in lines if "error:" in ln] == lines[:1], err
        else:
            assert len(lines) == 1, err  # exactly one line
        assert re.search(case.needle, lines[0]), lines[0]
    after = _snapshot(t)
    made = {k for k in after.keys() - before.keys()}
    assert made == set(case.outputs), f"created {sorted(made)}, expected {case.outputs}"
    changed = {k for k in before if after.get(k) != before[k]}
    assert not changed, f"changed or removed: {sorted(changed)}"
    assert list(systmp.iterdir()) == [], "simulator temp directory left behind"
    if case.check:
        case.check(t, out, err)
    return t, out, err


def _messages(err: str) -> list[str]:
    """stderr lines apart from progress output (tqdm bars, the sweep's work estimate) and
    warnings (one line each, ``pycim CMD: warning: ...``; e.g. a tiny array's read pulse)."""
    return [ln for ln in err.strip().splitlines()
            if ln.strip() and "%|" not in ln and not re.match(r"sweep .*: \d+ points", ln)
            and not re.match(r"pycim \w+: warning: ", ln)]


def _no_sign_wrap(t: Path, out: str, err: str) -> None:
    assert "-9223372036854775808" not in err and "-1]" not in err


# ---------------------------------------------------------------------------------------------
# 1. data loss through output paths: an output never replaces an input, a results file or
#    anything that is not a regular file; refused (exit 2) before any work


OUTPUT_PATHS = [
    Case("json-is-weights", mvm("{t}/w.npy"), 2, r"--json: .*w\.npy is the input --weights"),
    Case("json-is-x", mvm("{t}/x.npy"), 2, r"--json: .*x\.npy is the input --x"),
    Case("json-hardlink-to-weights", mvm("{t}/wl.json"), 2, r"is the input --weights",
         setup=_link("w.npy", "wl.json", hard=True)),
    Case("json-symlink-to-x", mvm("{t}/xl.json"), 2, r"is the input --x",
         setup=_link("x.npy", "xl.json")),
    Case("json-char-device", mvm("{t}/null"), 2, r"--json: .*null exists and is not a regular",
         setup=_mknod("null")),
    Case("netlist-char-device", ("netlist", "cell", "-o", "{t}/null"), 2,
         r"-o: .*null exists and is not a regular", setup=_mknod("null")),
    Case("netlist-symlink-to-device", ("netlist", "cell", "-o", "{t}/nl"), 2,
         r"-o: .*nl exists and is not a regular",
         setup=_setup(_mknod("null"), _link("null", "nl"))),
    Case("netlist-own-char-device", ("netlist", "cell", "-o", "{t}/dev"), 2,
         r"-o: .*dev exists and is not a regular", setup=_mknod("dev")),
    Case("json-fifo", mvm("{t}/pipe"), 2, r"--json: .*pipe exists and is not a regular",
         setup=_mknod("pipe", "fifo")),
    Case("fit-o-other-manifest", fit("-o", "{t}/res2/manifest.json"), 2,
         r"-o: .*inside the results directory .*res2",
         setup=_setup(_fake_results, lambda t: _fake_results(t, "res2"))),
    Case("fit-o-own-parquet", fit("-o", "{t}/res/cell_iv.parquet"), 2,
         r"-o: .*inside the input directory RESULTS_DIR", setup=_fake_results),
    Case("json-into-results-cache", mvm("{t}/res/cache/x.json"), 2,
         r"--json: .*inside the results directory",
         setup=_setup(_fake_results, lambda t: (t / "res" / "cache").mkdir())),
    Case("fit-va-is-weights", fit("-o", "{t}/m.json", "--verilog-a", "{t}/w.npy",
                                  "--weights", "{t}/w.npy"), 2,
         r"--verilog-a: .*w\.npy is the input --weights", setup=_fake_results),
    Case("fit-two-outputs-same-file", fit("-o", "{t}/m.json", "--verilog-a", "{t}/m.json",
                                          "--weights", "{t}/w.npy"), 2,
         r"--verilog-a: .*m\.json is also -o", setup=_fake_results),
    Case("report-out-is-results", ("report", "--out", "{t}/res", "--results", "{t}/res"), 2,
         r"--out: .*overlaps the input --results", setup=_fake_results),
    Case("netlist-o-dir-symlink", ("netlist", "cell", "-o", "{t}/d"), 2, r"-o: .*is a directory",
         setup=lambda t: (t / "realdir").mkdir() or os.symlink(t / "realdir", t / "d")),
]


@pytest.mark.parametrize("case", OUTPUT_PATHS, ids=[c.id for c in OUTPUT_PATHS])
def test_output_paths_never_clobber(case, tmp_path, monkeypatch, capsys):
    _run_case(case, tmp_path, monkeypatch, capsys)


# ---------------------------------------------------------------------------------------------
# 2. the temp file is created before the work (an unwritable place is refused before any
#    simulation: ``calls`` stays empty), and its name fits whatever the final name allows

WRITABLE_FIRST = [
    Case("json-into-proc", mvm("/proc/pycim-o.json"), 2, r"--json: cannot create a file in /proc"),
    Case("json-into-proc-self", mvm("/proc/self/o.json"), 2, r"--json: cannot create a file in"),
    Case("json-into-sys", mvm("/sys/pycim-o.json"), 2, r"--json: cannot create a file in /sys"),
    Case("netlist-into-proc", ("netlist", "cell", "-o", "/proc/n.cir"), 2,
         r"-o: cannot create a file in /proc"),
    Case("fit-into-proc", fit("-o", "/proc/m.json"), 2, r"-o: cannot create a file in /proc",
         setup=_fake_results),
    Case("report-into-proc", ("report", "--out", "/proc/pycim-report"), 2,
         r"--out: cannot create a file in /proc"),
    Case("json-name-256-bytes", mvm("{t}/" + "N" * 251 + ".json"), 2,
         r"--json: file name .* is 256 bytes, more than the 255"),
    Case("json-trailing-slash", mvm("{t}/newdir/"), 2, r"--json: .*is a directory"),
    Case("json-parent-missing", mvm("{t}/no/o.json"), 2, r"--json: directory .*/no does not exist"),
    # names at the limit now work: the temp name is shortened, never longer than allowed
    Case("macro-json-250-bytes", (*MACRO, "--json", "{t}/" + LONG + ".json"), 0,
         outputs=(LONG + ".json",)),
    Case("macro-json-255-bytes", (*MACRO, "--json", "{t}/" + "M" * 250 + ".json"), 0,
         outputs=("M" * 250 + ".json",)),
    Case("netlist-255-bytes", ("netlist", "cell", "-o", "{t}/" + "C" * 251 + ".cir"), 0,
         outputs=("C" * 251 + ".cir",)),
    Case("macro-json-unicode-254-bytes", (*MACRO, "--json", "{t}/" + "\u00e9" * 125 + ".json"), 0,
         outputs=("\u00e9" * 125 + ".json",)),
]


@pytest.mark.parametrize("case", WRITABLE_FIRST, ids=[c.id for c in WRITABLE_FIRST])
def test_output_reserved_before_work(case, tmp_path, monkeypatch, capsys):
    _run_case(case, tmp_path, monkeypatch, capsys)


# ---------------------------------------------------------------------------------------------
# 3. all arguments first, then all writes: a later bad argument leaves no earlier output

ARGS_FIRST = [
    Case("fit-weights-missing", fit("-o", "{t}/model.json", "--verilog-a", "{t}/c.va",
                                    "--weights", "{t}/missing.npy"), 2,
         r"--weights: file not found", setup=_fake_results),
    Case("fit-va-without-weights", fit("-o", "{t}/model.json", "--verilog-a", "{t}/c.va"), 2,
         r"--verilog-a needs --weights", setup=_fake_results),
    Case("fit-weights-bad-shape", fit("-o", "{t}/model.json", "--verilog-a", "{t}/c.va",
                                      "--weights", "{t}/w3.npy"), 2,
         r"--weights: need a 2-D", setup=_setup(_fake_results, _npy("w3.npy", np.zeros(3)))),
    Case("fit-weights-without-va", fit("-o", "{t}/model.json", "--weights", "{t}/w.npy"), 2,
         r"--weights is only used with --verilog-a", setup=_fake_results),
    Case("fit-va-char-device", fit("-o", "{t}/model.json", "--verilog-a", "{t}/null",
                                   "--weights", "{t}/w.npy"), 2,
         r"--verilog-a: .*null exists and is not a regular",
         setup=_setup(_fake_results, _mknod("null"))),
    Case("fit-results-missing", fit("-o", "{t}/model.json", res="{t}/nores"), 2,
         r"RESULTS_DIR: not a directory"),
    Case("mvm-x-bad-after-json", mvm("{t}/new.json", x="{t}/xr.npy"), 2,
         r"--x: values must lie in", setup=_npy("xr.npy", np.array([9, 0]))),
    Case("mvm-weights-bad-after-json", mvm("{t}/new.json", weights="{t}/wr.npy"), 2,
         r"--weights: values must lie in", setup=_npy("wr.npy", np.array([[2.0, 0], [0, 0]]))),
    Case("netlist-core-odd-rows", ("netlist", "core", "--rows", "15", "-o", "{t}/n.cir"), 2,
         r"--rows must be even"),
    Case("report-results-missing", ("report", "--out", "{t}/rep", "--results", "{t}/nores"), 2,
         r"results directory not found"),
    Case("report-jobs-without-resimulate", ("report", "--out", "{t}/rep", "--jobs", "2"), 2,
         r"--jobs is only used with --resimulate"),
    Case("sweep-scheduler-after-out", ("sweep", "{t}/s.toml", "--out", "{t}/out",
                                       "--scheduler", "tcp://h:1"), 2,
         r"--scheduler needs --executor dask", setup=_spec(CELL2)),
]


@pytest.mark.parametrize("case", ARGS_FIRST, ids=[c.id for c in ARGS_FIRST])
def test_all_arguments_before_any_write(case, tmp_path, monkeypatch, capsys):
    _run_case(case, tmp_path, monkeypatch, capsys)


# ---------------------------------------------------------------------------------------------
# 4. no silent wrong input: ranges checked in the input's own dtype, before any cast

SILENT = [
    Case("x-uint64-max", mvm(x="{t}/xu.npy"), 2, r"--x: values must lie in \[-7, 7\] .*"
         r"18446744073709551615", setup=_npy("xu.npy", np.array([2**64 - 1, 0], np.uint64)),
         check=_no_sign_wrap),
    Case("x-float-1e300", mvm(x="{t}/xf.npy"), 2, r"--x: values must lie in .*1e\+300",
         setup=_npy("xf.npy", np.array([1e300, 0.0])), check=_no_sign_wrap),
    Case("x-float-minus-inf", mvm(x="{t}/xi.npy"), 2, r"--x: values must be integers, got -inf",
         setup=_npy("xi.npy", np.array([-np.inf, 0.0]))),
    Case("x-int64-min", mvm(x="{t}/xm.npy"), 2, r"--x: .*-9223372036854775808",
         setup=_npy("xm.npy", np.array([np.iinfo(np.int64).min, 0]))),
    Case("x-float-2p63", mvm(x="{t}/x63.npy"), 2, r"--x: values must lie in",
         setup=_npy("x63.npy", np.array([2.0**63, 0.0])), check=_no_sign_wrap),
    Case("x-uint8-8", mvm(x="{t}/x8.npy"), 2, r"--x: values must lie in \[-7, 7\] .*8\]",
         setup=_npy("x8.npy", np.array([8, 0], np.uint8))),
    Case("x-longdouble-8", mvm(x="{t}/xl.npy"), 2, r"--x: values must lie in",
         setup=_npy("xl.npy", np.array([8, 0], np.longdouble))),
    Case("x-almost-integer", mvm(x="{t}/xa.npy"), 2, r"--x: values must be integers",
         setup=_npy("xa.npy", np.array([3.0000001, 0.0]))),
    Case("w-uint64-max", mvm(weights="{t}/wu.npy"), 2, r"--weights: .*max \|W\| = 1\.845e\+19",
         setup=_npy("wu.npy", np.array([[2**64 - 1, 0], [0, 0]], np.uint64))),
    Case("w-int64-min", mvm(weights="{t}/wm.npy"), 2, r"--weights: .*max \|W\| = 9\.223e\+18",
         setup=_npy("wm.npy", np.array([[np.iinfo(np.int64).min, 0], [0, 0]]))),
    Case("w-longdouble-beyond-float64", mvm(weights="{t}/wl.npy"), 2,
         r"--weights: values must lie in \[-1, 1\]",
         setup=_npy("wl.npy", np.array([[np.longdouble("1e4000"), 0], [0, 0]]))),
    Case("w-just-above-one", mvm(weights="{t}/w1.npy"), 2, r"--weights: values must lie in",
         setup=_npy("w1.npy", np.array([[1 + 1e-12, 0], [0, 0]]))),
    Case("temp-c-nan", mvm(temp_c="nan"), 2, r"--temp-c must be in -55\.\.150"),
    Case("temp-c-inf", mvm(temp_c="inf"), 2, r"--temp-c must be in -55\.\.150"),
]


@pytest.mark.parametrize("case", SILENT, ids=[c.id for c in SILENT])
def test_no_silent_wrong_input(case, tmp_path, monkeypatch, capsys):
    _run_case(case, tmp_path, monkeypatch, capsys)


# ---------------------------------------------------------------------------------------------
# 5. malformed structure: exit 2 (bad input) or 1 (fault), one line, never a traceback

_SWEEP = ("sweep", "{t}/s.toml", "--jobs", "1", "--out", "{t}/out")
_GARBAGE = b"PAR1" + bytes(range(256)) * 4 + b"PAR1"
_T1 = {"PYCIM_PROBE_TIMEOUT_S": "1"}

MALFORMED = [
    Case("spec-kind-list", _SWEEP, 2, r"s\.toml: \[\[sweep\]\] #1: unknown kind \['cell_iv'\]",
         setup=_spec('[[sweep]]\nkind = ["cell_iv"]\n')),
    Case("spec-kind-table", _SWEEP, 2, r"unknown kind \{'a': 1\}",
         setup=_spec('[[sweep]]\nkind = {a = 1}\n')),
    Case("spec-kind-int", _SWEEP, 2, r"unknown kind 3", setup=_spec('[[sweep]]\nkind = 3\n')),
    Case("spec-value-table", _SWEEP, 2, r"gap_nm must be float",
         setup=_spec('[[sweep]]\nkind = "cell_iv"\ngap_nm = {x = 1}\n')),
    Case("spec-nested-list", _SWEEP, 2, r"gap_nm must be float",
         setup=_spec('[[sweep]]\nkind = "cell_iv"\ngap_nm = [[0.4]]\n')),
    Case("spec-not-utf8", _SWEEP, 2, r"cannot read sweep spec",
         setup=lambda t: (t / "s.toml").write_bytes(b"\xff\xfe\x00garbage")),
    Case("manifest-files-list", fit("-o", "{t}/m.json"), 2, r"malformed manifest",
         setup=lambda t: _fake_results(t, manifest={"schema": "pycim.results/1", "files": []})),
    Case("manifest-files-null", fit("-o", "{t}/m.json"), 2, r"malformed manifest",
         setup=lambda t: _fake_results(t, manifest={"schema": "pycim.results/1", "files": None})),
    Case("manifest-is-list", fit("-o", "{t}/m.json"), 2, r"malformed manifest",
         setup=lambda t: _fake_results(t, manifest=["pycim.results/1"])),
    Case("manifest-entry-string", ("report", "--out", "{t}/rep", "--results", "{t}/res"), 2,
         r"malformed entry 'a\.parquet'", setup=lambda t: _fake_results(
             t, manifest={"schema": "pycim.results/1", "files": {"a.parquet": "x"}})),
    Case("manifest-bytes-string", fit("-o", "{t}/m.json"), 2, r"malformed entry",
         setup=lambda t: _fake_results(t, manifest={"schema": "pycim.results/1", "files": {
             "summary.csv": {"sha256": "0" * 64, "bytes": "12"}}})),
    Case("manifest-path-escape", fit("-o", "{t}/m.json"), 2, r"malformed entry '\.\./w\.npy'",
         setup=lambda t: _fake_results(t, manifest={"schema": "pycim.results/1", "files": {
             "../w.npy": {"sha256": "0" * 64, "bytes": 1}}})),
    Case("parquet-garbage-fit", fit("-o", "{t}/m.json"), 2,
         r"cell_iv\.parquet: not a readable table", setup=lambda t: _fake_results(t, parquet=_GARBAGE)),
    Case("parquet-empty-report", ("report", "--out", "{t}/rep", "--results", "{t}/res"), 2,
         r"cell_iv\.parquet: not a readable table", setup=lambda t: _fake_results(t, parquet=b"")),
    Case("scheduler-port-not-numeric", (*_SWEEP, "--executor", "dask", "--scheduler",
                                        "tcp://localhost:abc"), 2,
         r"--scheduler must look like tcp://host:port", setup=_spec(CELL2)),
    Case("scheduler-port-too-big", (*_SWEEP, "--executor", "dask", "--scheduler",
                                    "tcp://127.0.0.1:99999"), 2, r"port 1\.\.65535",
         setup=_spec(CELL2)),
    Case("scheduler-no-protocol", (*_SWEEP, "--executor", "dask", "--scheduler",
                                   "localhost:8786"), 2, r"--scheduler must look like",
         setup=_spec(CELL2)),
    Case("scheduler-path-junk", (*_SWEEP, "--executor", "dask", "--scheduler",
                                 "tcp://h:1/../../x"), 2, r"--scheduler must look like",
         setup=_spec(CELL2)),
    Case("version-hangs-sweep", _SWEEP, 1, r"--version did not answer within 1 s",
         setup=_setup(_spec(CELL2), fake_version_hangs), env=_T1),
    Case("version-hangs-resimulate", ("report", "--resimulate", "--out", "{t}/rep", "--jobs",
                                      "1"), 1, r"--version did not answer within 1 s",
         setup=fake_version_hangs, env=_T1),
    Case("version-garbage", _SWEEP, 1, r"cannot read the version of",
         setup=_setup(_spec(CELL2), fake_version_garbage)),
    Case("simulator-not-executable", _SWEEP, 1, r"cannot run .*ngspice",
         setup=_setup(_spec(CELL2), fake_not_executable)),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[c.id for c in MALFORMED])
def test_malformed_structure_is_one_line(case, tmp_path, monkeypatch, capsys):
    _run_case(case, tmp_path, monkeypatch, capsys)


# ---------------------------------------------------------------------------------------------
# 6. concurrency and signals: one writer per results directory; no process outlives a killed
#    pycim; Ctrl-C / SIGTERM stop a --jobs 2 sweep within 2 s and the sweep resumes

_HELD: dict[str, int] = {}


def _hold_lock(rel: str) -> Callable[[Path], None]:
    """Hold ``rel/.pycim.lock`` (flock, as a running sweep does) for the duration of the case."""
    def run(t: Path) -> None:
        d = t / rel
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / ".pycim.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"4242\n")
        _HELD[str(t)] = fd
    return run


def _release(t: Path, out: str, err: str) -> None:
    os.close(_HELD.pop(str(t)))


LOCKED = [
    Case("sweep-into-locked-out", _SWEEP, 2,
         r"--out: .*out is being written by another pycim process \(pid 4242\)",
         setup=_setup(_spec(CELL2), _hold_lock("out")), check=_release),
    Case("resimulate-into-locked-sweep", ("report", "--resimulate", "--out", "{t}/rep"), 2,
         r"rep/sweep is being written by another pycim process", setup=_hold_lock("rep/sweep"),
         check=_release),
    Case("json-into-dir-being-swept", mvm("{t}/out/o.json"), 2,
         r"--json: .*inside the results directory", setup=_hold_lock("out"), check=_release),
    Case("fit-o-into-dir-being-swept", fit("-o", "{t}/out/m.json"), 2,
         r"-o: .*inside the results directory",
         setup=_setup(_fake_results, _hold_lock("out")), check=_release),
]


@pytest.mark.parametrize("case", LOCKED, ids=[c.id for c in LOCKED])
def test_one_writer_per_results_directory(case, tmp_path, monkeypatch, capsys):
    _run_case(case, tmp_path, monkeypatch, capsys)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _pids(t: Path) -> list[int]:
    p = t / "pids"
    return [int(x) for x in p.read_text().split()] if p.exists() else []


def _wait(cond, timeout_s: float = 60.0) -> None:
    t_end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > t_end:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _proc_state(pid: int) -> str:
    """``pid``: its state and kernel wait channel, or gone."""
    try:
        st = Path(f"/proc/{pid}/status").read_text().splitlines()
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return f"{pid} gone"
    state = next((ln.split(":", 1)[1].strip() for ln in st if ln.startswith("State:")), "?")
    return f"{pid} {state} in {wchan or '-'}"


def _kill_all(p: subprocess.Popen, t: Path) -> None:
    """Test hygiene, whatever the code under test does: SIGKILL pycim's process group (it and
    its pool workers) and every fake simulator that recorded its pid."""
    for q in _pids(t):
        with contextlib.suppress(OSError):
            os.kill(q, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(p.pid, signal.SIGKILL)
    if p.poll() is None:
        p.kill()
        p.wait()


def _sigint_default() -> None:
    """In the child before exec: SIGINT at its default, as a terminal starts a command. An
    ignored SIGINT is inherited across exec, and Python then installs no KeyboardInterrupt
    handler; the pytest worker may have SIGINT ignored (measured: with SIGINT ignored in the
    launching process, the three SIGINT cases below hang until their 30 s timeout)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(t: Path, argv, systmp: Path, env: dict | None = None) -> subprocess.Popen:
    e = {**ENV_SUB, "TMPDIR": str(systmp), "PYCIM_NGSPICE": str(t / "bin" / "ngspice"),
         **(env or {})}
    return subprocess.Popen(PYCIM + [a.replace("{t}", str(t)) for a in argv], cwd=t, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_sigint_default)


@dataclass(frozen=True)
class Sig:
    id: str
    argv: tuple[str, ...]
    sig: int                    # signal sent to pycim once ``ready`` holds
    code: int | None            # expected exit code (None: SIGKILL, not waited for)
    fake: Callable[[Path], None]
    ready: Callable[[Path], bool]
    group: bool = False         # signal the whole process group (a terminal's Ctrl-C)
    resume: bool = False        # rerun after removing t/hang: every point, nothing recomputed


_J2 = ("sweep", "{t}/s.toml", "--jobs", "2", "--out", "{t}/out")


def _two_sleeping(t: Path) -> bool:
    return len(_pids(t)) >= 2


def _hang_and_rest_cached(t: Path) -> bool:
    return len(_pids(t)) >= 1 and len(list((t / "out" / "cache").glob("*.json"))) >= 2


def _hang_fake(t: Path) -> None:
    (t / "hang").write_text("")
    fake_hang_on(t)


SIGNALS = [
    Sig("sigint-jobs2-stops-now", _J2, signal.SIGINT, 130, fake_sleep, _two_sleeping),
    Sig("sigterm-jobs2-stops-now", _J2, signal.SIGTERM, 143, fake_sleep, _two_sleeping),
    Sig("ctrl-c-group-jobs2", _J2, signal.SIGINT, 130, fake_sleep, _two_sleeping, group=True),
    Sig("sigint-jobs2-resumes", _J2, signal.SIGINT, 130, _hang_fake, _hang_and_rest_cached,
        resume=True),
    Sig("sigkill-jobs2-resumes", _J2, signal.SIGKILL, None, _hang_fake, _hang_and_rest_cached,
        resume=True),
    Sig("sigterm-jobs1-resumes", _SWEEP, signal.SIGTERM, 143, _hang_fake,
        lambda t: len(_pids(t)) >= 1, resume=True),
    Sig("sigterm-mvm", mvm(), signal.SIGTERM, 143, fake_sleep, lambda t: len(_pids(t)) >= 1),
]


@pytest.mark.parametrize("case", SIGNALS, ids=[c.id for c in SIGNALS])
def test_signals_stop_everything(case: Sig, tmp_path: Path):
    t = tmp_path / "case"
    t.mkdir()
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    _good_inputs(t)
    (t / "s.toml").write_text(CELL3)
    case.fake(t)
    before = _snapshot(t)
    p = _start(t, case.argv, systmp)
    workers: list[int] = []
    try:
        _wait(lambda: case.ready(t) or p.poll() is not None)
        assert p.poll() is None, p.communicate()
        time.sleep(0.3)  # let the pool hand out what it queues
        workers = _children(p.pid)
        sims = _pids(t)
        t0 = time.monotonic()
        if case.group:
            os.killpg(p.pid, case.sig)
        else:
            os.kill(p.pid, case.sig)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # say who kept pycim's output pipes open, and where
            raise AssertionError("pycim's stdout/stderr still open 30 s after the signal: "
                                 + "; ".join(_proc_state(q) for q in workers + sims)) from None
        stop_s = time.monotonic() - t0
        # nothing outlives pycim: pool workers and simulators gone, no simulator started later
        _wait(lambda: not any(_alive(q) for q in workers + sims), 3.0)
        time.sleep(0.3)
        assert len(_pids(t)) == len(sims), "a new simulator started after the signal"
    finally:
        _kill_all(p, t)  # whatever the outcome, nothing of this case runs on
    if case.code is not None:
        assert p.returncode == case.code, err
        assert stop_s < 2.0, f"took {stop_s:.2f} s to stop"
        assert "Traceback" not in out + err, err
        msgs = _messages(err)
        assert len(msgs) == 1 and "interrupted" in msgs[0], err
    if case.code is not None or case.argv[0] == "sweep":
        # pool workers unwind on their parent's death too (SIGTERM): their temp dirs go
        with contextlib.suppress(AssertionError):
            _wait(lambda: list(systmp.iterdir()) == [], 10.0)  # 3 s ran out once under load
        assert list(systmp.iterdir()) == [], sorted(str(q.relative_to(systmp))
                                                    for q in systmp.rglob("*"))
        after = _snapshot(t)
        made = {k for k in after.keys() - before.keys() if k != "pids"}
        allowed = {"out", "out/cache"} | {k for k in after if k.startswith("out/cache/")}
        if case.code is None:  # SIGKILL: the lock file stays (unlocked: the kernel drops flock)
            allowed.add("out/.pycim.lock")
        assert made <= allowed, sorted(made - allowed)  # cache only: no tables, no --json
        assert all(after[k] == v for k, v in before.items() if k != "pids")
    if case.resume:
        cached = len(list((t / "out" / "cache").glob("*.json")))
        (t / "hang").unlink()
        r = subprocess.run(PYCIM + [a.replace("{t}", str(t)) for a in case.argv], cwd=t,
                           env={**ENV_SUB, "TMPDIR": str(systmp),
                                "PYCIM_NGSPICE": str(t / "bin" / "ngspice")},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert f"3 points: {cached} cached, {3 - cached} computed, 0 failed" in r.stdout


def test_a_killed_pool_worker_leaves_no_temp_files(tmp_path: Path):
    """A pool worker killed outright (SIGKILL: no unwinding, as when pycim's grace period for
    stopping runs out) leaves its simulator's temp directory behind; the pool's own temp
    directory, which pycim removes whatever its workers did, takes it away. The sweep reports
    the lost points as failed (exit 1) and finishes."""
    t = tmp_path / "case"
    t.mkdir()
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    (t / "s.toml").write_text(CELL3)
    fake_sleep(t)
    p = _start(t, _J2, systmp)
    try:
        _wait(lambda: _two_sleeping(t) or p.poll() is not None)
        assert p.poll() is None, p.communicate()
        busy = [w for w in _children(p.pid) if _children(w)]  # a worker running a simulator
        assert busy and any(systmp.rglob("pycim-ng-*")), sorted(systmp.rglob("*"))
        os.kill(busy[0], signal.SIGKILL)
        out, err = p.communicate(timeout=60)
    finally:
        _kill_all(p, t)
    assert p.returncode == 1, err
    assert "Traceback" not in out + err, err
    assert list(systmp.iterdir()) == [], sorted(str(q.relative_to(systmp))
                                                for q in systmp.rglob("*"))


_ORPHAN = """
import os, signal, sys, tempfile, time
from pycim.characterize import runner
root = tempfile.mkdtemp(prefix=runner.POOL_TMP_PREFIX, dir=sys.argv[1])
open(os.path.join(root, "point-temp"), "w").close()
parent = os.getpid()
if os.fork() == 0:  # a pool worker whose SIGTERM can never run (blocked: the worst case)
    runner._worker_init(parent, root)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    print(os.getpid(), flush=True)
    time.sleep(120)
    os._exit(0)
time.sleep(120)
"""


def test_an_orphaned_pool_worker_exits_even_if_its_sigterm_cannot_run(tmp_path: Path):
    """The fallback behind PR_SET_PDEATHSIG (runner._orphan_watch): a pool worker whose
    parent is SIGKILLed, and in which the SIGTERM that should unwind it never runs, still exits
    within the grace period and takes the pool's temp directory with it."""
    from pycim.characterize.runner import ORPHAN_GRACE_S

    p = subprocess.Popen([sys.executable, "-c", _ORPHAN, str(tmp_path)], env=ENV_SUB,
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        child = int(p.stdout.readline())
        assert any(tmp_path.iterdir())
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        t0 = time.monotonic()
        _wait(lambda: not _alive(child), ORPHAN_GRACE_S + 3.0)
        assert time.monotonic() - t0 >= ORPHAN_GRACE_S - 0.5  # the SIGTERM's turn came first
        assert list(tmp_path.iterdir()) == []
    finally:
        with contextlib.suppress(OSError):
            os.killpg(p.pid, signal.SIGKILL)


def test_two_sweeps_into_one_directory(tmp_path: Path):
    """A second sweep into a directory being written is refused (exit 2, one line) and leaves
    it untouched; the first finishes and its manifest lists only its own tables."""
    t = tmp_path / "case"
    t.mkdir()
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    _hang_fake(t)
    (t / "s.toml").write_text(CELL2)
    (t / "other.toml").write_text('[[sweep]]\nkind = "set_reset"\nn_pulses = 1\n')
    a = _start(t, _SWEEP, systmp)
    try:
        _wait(lambda: len(_pids(t)) >= 1 or a.poll() is not None)
        before = _snapshot(t / "out")
        b = subprocess.run(PYCIM + ["sweep", str(t / "other.toml"), "--jobs", "1", "--out",
                                    str(t / "out")], cwd=t, capture_output=True, text=True,
                           env={**ENV_SUB, "TMPDIR": str(systmp)}, timeout=60)
        assert b.returncode == 2, b.stderr
        assert _messages(b.stderr) == [ln for ln in b.stderr.splitlines()
                                       if "is being written by another pycim process" in ln]
        assert _snapshot(t / "out") == before
        (t / "hang").unlink()
        os.kill(_pids(t)[0], signal.SIGKILL)  # the hung point fails; the sweep finishes
        _, err = a.communicate(timeout=60)
    finally:
        _kill_all(a, t)
    assert a.returncode == 1, err  # one failed point
    man = json.loads((t / "out" / "manifest.json").read_text())
    assert "set_reset.parquet" not in man["files"] and "cell_iv.parquet" in man["files"]
    assert not (t / "out" / ".pycim.lock").exists()


# ---------------------------------------------------------------------------------------------
# 7. unbounded work: the total over all tables is capped before any point is enumerated


def _big_spec(tables: int, gaps: int, vmax: int, same: bool = False) -> str:
    g = ", ".join(f"{0.1 + 1.5 * i / gaps:.6f}" for i in range(gaps))
    v = ", ".join(f"{0.05 + 1.9 * i / vmax:.6f}" for i in range(vmax))
    return "".join(f'[[sweep]]\nkind = "cell_iv"\ngap_nm = [{g}]\nv_max_v = [{v}]\n'
                   f'v_step_v = {0.01 if same else 0.01 + 0.001 * k:.4f}\n'
                   for k in range(tables))


UNBOUNDED = [
    Case("ten-tables-just-under-cap", _SWEEP, 2,
         r"999000 points over 10 \[\[sweep\]\] tables; more than 100000 in one spec",
         setup=_spec(_big_spec(10, 333, 300))),
    Case("two-tables-60k", _SWEEP, 2, r"120000 points over 2 .*more than 100000",
         setup=_spec(_big_spec(2, 300, 200))),
    Case("duplicate-tables-count", _SWEEP, 2, r"120000 points over 2 ",
         setup=_spec(_big_spec(2, 300, 200, same=True))),
    Case("cap-plus-one", _SWEEP, 2, r"100001 points over 2 ",
         setup=_spec(_big_spec(1, 1000, 100) + '[[sweep]]\nkind = "cell_iv"\ngap_nm = 0.4\n')),
    Case("one-table-over-cap", _SWEEP, 2, r"100100 points; more than 100000 in one sweep",
         setup=_spec(_big_spec(1, 1001, 100))),
    Case("cap-applies-to-resimulate-memory", _SWEEP, 2, r"estimated peak memory .* exceeds",
         setup=_spec(CELL2), env={"PYCIM_MEM_AVAILABLE_B": "1e6"}),
    Case("dask-cap-before-scheduler", (*_SWEEP, "--executor", "dask", "--scheduler",
                                       "tcp://127.0.0.1:1"), 2, r"more than 100000",
         setup=_spec(_big_spec(3, 300, 200))),
]


@pytest.mark.parametrize("case", UNBOUNDED, ids=[c.id for c in UNBOUNDED])
def test_sweep_size_is_capped(case, tmp_path, monkeypatch, capsys):
    t0 = time.perf_counter()
    _run_case(case, tmp_path, monkeypatch, capsys)
    assert time.perf_counter() - t0 < 10.0  # refused up front, not after enumerating


def test_sweep_cap_boundary_and_estimate(tmp_path, monkeypatch):
    """Exactly the cap is accepted (and its size counted without enumerating); the estimate
    names the points, the parallelism and the peak memory of the largest point."""
    from pycim.characterize import parse_spec
    from pycim.resources import MAX_SWEEP_POINTS, sweep_plan, sweep_size

    monkeypatch.setenv("PYCIM_MEM_AVAILABLE_B", "1e15")
    spec = parse_spec(_big_spec(1, 1000, 100), "cap.toml")
    assert sweep_size(spec) == MAX_SWEEP_POINTS == 100_000
    plan = sweep_plan(spec, 2)
    assert plan.points == 100_000 and plan.jobs == 2
    assert re.fullmatch(r"100000 points, 2 at once, peak memory \d\.\d\d GB per point "
                        r"\(\d\.\d\d GB at once\)", str(plan))


# ---------------------------------------------------------------------------------------------
# 8. exit codes and leftovers: a failed resimulation is a fault (1); nothing left in TMPDIR

_RESIM = ("report", "--resimulate", "--out", "{t}/rep", "--jobs", "1")
_RESIM_OUT = ("rep", "rep/sweep", "rep/sweep/cache", "rep/sweep/summary.csv",
              "rep/sweep/sweep.json", "rep/sweep/manifest.json")
_RESIM_NEEDLE = r"--resimulate: \d+ sweep points failed \(first: ngspice"

FAULTS = [
    Case("resimulate-crashing-simulator", _RESIM, 1, _RESIM_NEEDLE, setup=fake_kill,
         outputs=_RESIM_OUT),
    Case("resimulate-version-garbage", _RESIM, 1, r"cannot read the version of",
         setup=fake_version_garbage),
    Case("mvm-crashing-simulator", mvm(), 1, r"ngspice died with SIGKILL", setup=fake_kill),
    Case("mvm-no-convergence", mvm(), 1, r"ngspice: no convergence", setup=fake_noconv),
    Case("sweep-simulator-missing", _SWEEP, 1, r"cannot run .*ngspice: No such file",
         setup=_setup(_spec(CELL2), lambda t: shutil.rmtree(t / "bin"))),
]


@pytest.mark.parametrize("case", FAULTS, ids=[c.id for c in FAULTS])
def test_faults_exit_1_and_leave_nothing(case, tmp_path, monkeypatch, capsys):
    _run_case(case, tmp_path, monkeypatch, capsys)

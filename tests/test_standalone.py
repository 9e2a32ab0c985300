"""Decks users run elsewhere: the circuit `pycim mvm` simulates is the circuit `pycim netlist core`
writes (same assembler, byte for byte), and a `--standalone` deck runs in stock ngspice, from a
copy of its directory, with no pycim on PATH and a clean environment, giving the same settled
line voltages (and, for an MVM deck, the same codes) as pycim's own runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pycim.cim.request import MvmRequest
from pycim.cli import main
from pycim.dispatch import run_mvm
from pycim.measure.neuron import read_neuron
from pycim.netlist.core import STIMULUS_MARK
from pycim.netlist.neuron import settled_read_times
from pycim.netlist.reference import NetlistRequest
from pycim.sim import NgspiceEngine, Op
from pycim.sim.ngspice import NgspiceEngine as _Engine
from pycim.sim.rawfile import read_raw
from pycim.sim.result import SimResult


def circuit_part(text: str) -> list[str]:
    """The lines from the first model card up to the stimulus mark (title, header comments,
    engine options and temperature excluded)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(".model"))
    end = lines.index(f"* {STIMULUS_MARK}")
    return lines[start:end]


def _problem(seed=3, n_in=4, n_out=3, bits=3):
    rng = np.random.default_rng(seed)
    lim = 2 ** (bits - 1) - 1
    return rng.uniform(-1, 1, (n_in, n_out)), rng.integers(-lim, lim + 1, n_in)


def _stock_ngspice(deck_dir: Path, name: str, tmp_path: Path) -> dict:
    """Copy the deck's directory, run stock ngspice there with a clean environment (no pycim on
    PATH, HOME empty), return the raw file's last plot."""
    copy = tmp_path / "elsewhere" / deck_dir.name
    shutil.copytree(deck_dir, copy)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    ng = shutil.which("ngspice")
    proc = subprocess.run([ng, "-b", f"{name}.cir"], cwd=copy, capture_output=True, text=True,
                          env={"PATH": str(Path(ng).parent), "HOME": str(home)}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "error" not in proc.stdout.lower() + proc.stderr.lower()
    return read_raw(copy / f"{name}.raw")[-1][1]


def test_mvm_runs_the_circuit_netlist_core_writes(tmp_path, monkeypatch):
    """Capture the deck `pycim mvm` hands ngspice; its circuit part is byte-identical to the
    DC deck `pycim netlist core --weights` writes for the same weights and seed, and its whole
    text (stimulus included) to the transient deck `pycim netlist core --weights --x` writes."""
    w, x = _problem()
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "x.npy", x)
    decks = []
    orig = _Engine.deck

    def spy(self, *a, **k):
        text = orig(self, *a, **k)
        decks.append(text)
        return text
    monkeypatch.setattr(_Engine, "deck", spy)
    run_mvm(MvmRequest(w, x, in_bits=3, out_bits=5, seed=7, partition=False), progress=False)
    monkeypatch.undo()
    assert len(decks) == 1
    args = ["netlist", "core", "--weights", str(tmp_path / "w.npy"), "--seed", "7"]
    assert main(args + ["-o", str(tmp_path / "dc.cir")]) == 0
    assert main(args + ["--x", str(tmp_path / "x.npy"), "--in-bits", "3", "--out-bits", "5",
                        "-o", str(tmp_path / "tr.cir")]) == 0
    ran = decks[0]
    core = circuit_part(ran)
    assert len(core) > 300 and any(ln.startswith("MNsl0_z") for ln in core)
    assert circuit_part((tmp_path / "dc.cir").read_text()) == core
    # the transient deck: everything from the first model card to the last element is the same
    tr = (tmp_path / "tr.cir").read_text().splitlines()
    body = ran.splitlines()
    start_r = next(i for i, ln in enumerate(body) if ln.startswith(".model"))
    start_t = next(i for i, ln in enumerate(tr) if ln.startswith(".model"))
    assert tr[start_t:] == body[start_r:body.index(".control")]


def test_different_weights_change_the_circuit_part(tmp_path):
    """The comparison above is not vacuous: another seed programs other conductances."""
    w, _ = _problem()
    a = NetlistRequest("core", weights=w, seed=1).circuit()
    b = NetlistRequest("core", weights=w, seed=2).circuit()
    from pycim.netlist.circuit import ngspice_lines

    assert circuit_part("\n".join(ngspice_lines(a))) != circuit_part("\n".join(ngspice_lines(b)))


@pytest.mark.parametrize("kind,extra,nodes", [
    ("cell", [], ["bl0", "sl0"]),
    ("array", ["--rows", "20", "--cols", "12"], [f"sl{c}" for c in range(12)]),
    ("core", ["--rows", "16", "--cols", "16"], [f"sl{c}" for c in range(16)]),
])
def test_standalone_op_deck_runs_in_stock_ngspice(tmp_path, kind, extra, nodes):
    out = tmp_path / "deck" / f"{kind}.cir"
    assert main(["netlist", kind, *extra, "--standalone", "-o", str(out)]) == 0
    written = sorted(p.name for p in out.parent.iterdir())
    assert f"{kind}.rebuild.sh" in written and any(n.endswith(".osdi") for n in written) \
        and any(n.endswith(".va") for n in written)
    text = out.read_text()
    assert "pycim-osdi" not in text  # no pycim runner tags: the deck loads itself
    # a core's op goes straight to gmin stepping (its direct solve does not converge); the
    # reference below takes ngspice's default path (direct solve first), so this also checks
    # that both reach the same operating point
    opts = [ln.split()[1:] for ln in text.splitlines() if ln.startswith(".options")]
    assert ("noopiter" in sum(opts, [])) == (kind == "core"), opts
    plot = _stock_ngspice(out.parent, kind, tmp_path)
    rows = 1 if kind == "cell" else int(extra[1])
    cols = 1 if kind == "cell" else int(extra[3])
    req = NetlistRequest(kind, rows=rows, cols=cols)
    ref = NgspiceEngine().run(req.circuit(), Op(), temp_c=req.temp_c)
    for n in nodes:
        assert float(plot[f"v({n})"][0]) == pytest.approx(ref.value(n), abs=1e-9), n
    # the sensed lines are not all at one level: the comparison sees real signal
    vals = [float(plot[f"v({n})"][0]) for n in nodes]
    assert kind == "cell" or np.ptp(vals) > 5e-3


def test_standalone_mvm_deck_gives_pycim_mvm_codes(tmp_path):
    w, _ = _problem(seed=5)
    x = (3 * np.sign(w[:, 0])).astype(np.int64)  # column 0 near full scale: real signal
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "mvmdeck" / "mvm.cir"
    assert main(["netlist", "core", "--weights", str(tmp_path / "w.npy"), "--x",
                 str(tmp_path / "x.npy"), "--in-bits", "3", "--out-bits", "5", "--seed", "2",
                 "--standalone", "-o", str(out)]) == 0
    plot = _stock_ngspice(out.parent, "mvm", tmp_path)
    ref = run_mvm(MvmRequest(w, x, in_bits=3, out_bits=5, seed=2, partition=False),
                  progress=False)  # the stock deck is the whole core
    # decode the stock run's waveforms with pycim's own measurement
    req = NetlistRequest("core", weights=w, x=x, in_bits=3, out_bits=5, seed=2)
    core, setup = req.mvm_core()
    res = SimResult.from_raw("tran", "ngspice", plot, "", 0.0)
    codes = [read_neuron(res, setup.schedule, nd, setup.neuron).code for nd in core.neurons]
    assert codes == ref["code"][0]
    assert max(abs(c) for c in codes) >= 2  # real outputs, not all zero
    t = res["time"]
    t_first = settled_read_times(setup.schedule, setup.neuron)  # where pycim mvm reads them
    v = np.array([[np.interp(t_first[n], t, res[nd.line]) for nd in core.neurons]
                  for n in sorted(t_first)]) - setup.neuron.v_ref_v
    np.testing.assert_allclose(v, np.asarray(ref["v_settled_v"][0]), atol=1e-9)


def test_standalone_refuses_a_bad_deck_name(tmp_path, capsys):
    assert main(["netlist", "cell", "--standalone", "-o", str(tmp_path / "d" / "a b.cir")]) == 2
    assert main(["netlist", "cell", "--standalone", "-o", str(tmp_path / "d" / "deck.sp")]) == 2
    assert not (tmp_path / "d").exists()
    capsys.readouterr()
    assert main(["netlist", "array", "--x", "x.npy", "-o", str(tmp_path / "a.cir")]) == 2
    assert "pycim netlist: error: --x needs --weights" in capsys.readouterr().err


def _tree(d: Path) -> dict:
    import hashlib

    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["sources", "results", "special"])
def test_standalone_deck_never_replaces_what_it_must_not(tmp_path, capsys, monkeypatch, where):
    """Every file a stand-alone deck writes goes through the one output check, before any work:
    not over the Verilog-A sources it copies, not into a results directory, not over a special
    file; refused with one line, exit 2, nothing created or changed."""
    import os

    from pycim import toolchain

    d = tmp_path / "d"
    d.mkdir()
    if where == "sources":  # a copy of circuits/ stands in for the project's own
        src = tmp_path / "circuits"
        shutil.copytree(toolchain.CIRCUITS_DIR, src)
        monkeypatch.setattr(toolchain, "CIRCUITS_DIR", src)
        import pycim.sim.standalone as sa

        monkeypatch.setattr(sa.toolchain, "CIRCUITS_DIR", src)
        d = src
    elif where == "results":
        (d / "manifest.json").write_text('{"schema": "pycim.results/1", "files": {}}')
    else:
        os.mkfifo(d / "rram_skywater.osdi")
    before = _tree(tmp_path)
    capsys.readouterr()
    assert main(["netlist", "cell", "--standalone", "-o", str(d / "deck.cir")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert _tree(tmp_path) == before
    assert not (d / "deck.cir").exists()

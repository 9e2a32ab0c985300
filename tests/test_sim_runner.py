"""The simulation runner's refusals: netlist text, engine settings, analyses, ngspice's errors,
raw files, VACASK sweeps."""

import math

import numpy as np
import pytest

from pycim.errors import ConvergenceError, InputError, SimulationError, SimulatorCrash
from pycim.netlist.circuit import Capacitor, Circuit, Resistor, VSource
from pycim.sim import NgspiceEngine, Op, Tran, VacaskEngine
from pycim.sim.analyses import Dc
from pycim.sim.rawfile import read_raw

def _tiny_step_tran():
    """A transient with a step ngspice refuses (TSTEP 5e-324), past Tran's own checks."""
    t = Tran(1e-9, 1e-6)
    object.__setattr__(t, "step_s", 5e-324)
    return t


EVIL = "x\n.control\nshell touch PWNED\n.endc\n*"
TEXT = "* t\nV1 a 0 1\nR1 a 0 1k\n"


def divider():
    c = Circuit("t")
    c.add(VSource("V1", "a", "0", dc_v=1.0), Resistor("R1", "a", "b", 1e3),
          Resistor("R2", "b", "0", 1e3))
    return c


# ---- engine settings ---------------------------------------------------------------------

@pytest.mark.parametrize("opts", [{EVIL: None}, {"reltol x": 1e-6}, {"reltol": float("nan")},
                                  {"reltol": "1e-6\n.control"}, {"reltol": True}])
def test_bad_option_refused_in_the_constructor(opts):
    with pytest.raises(InputError, match="option"):
        NgspiceEngine(options=opts)


@pytest.mark.parametrize("t", [0, -1, float("nan"), float("inf"), "5", True])
def test_bad_timeout_refused(t):
    for eng in (NgspiceEngine, VacaskEngine):
        with pytest.raises(InputError, match="timeout_s"):
            eng(timeout_s=t)


def test_timeout_accepts_numbers_and_none():
    assert NgspiceEngine(timeout_s=np.float64(2.5)).timeout_s == 2.5
    assert NgspiceEngine(timeout_s=None).timeout_s is None
    assert VacaskEngine(timeout_s=3).timeout_s == 3


# ---- netlist text ------------------------------------------------------------------------

def test_text_deck_keeps_options_and_temp_before_the_control_block():
    deck = NgspiceEngine(options={"reltol": 1e-6}).deck(TEXT, Op(), temp_c=50,
                                                        extra=["print v(a)"])
    head, ctl = deck.split("\n.control\n")
    assert head.splitlines()[:3] == ["* t", ".options klu reltol=1e-06", ".temp 50"]
    assert ".options" not in ctl and ".temp" not in ctl
    assert ctl.splitlines()[-3:] == ["print v(a)", ".endc", ".end"]


def test_text_deck_temperature_is_checked():
    with pytest.raises(InputError, match="temperature"):
        NgspiceEngine().deck(TEXT, Op(), temp_c=-5000)
    with pytest.raises(InputError, match="temperature"):
        NgspiceEngine().deck(TEXT, Op(), temp_c=float("nan"))


def test_extra_commands_are_only_prints():
    with pytest.raises(InputError, match="extra control command"):
        NgspiceEngine().deck(TEXT, Op(), extra=["shell touch x"])
    with pytest.raises(InputError, match="extra control command"):
        NgspiceEngine().deck(divider(), Op(), extra=["print v(a); shell ls"])


@pytest.mark.parametrize("text", ["*ng_script\nshell touch PWNED\n",
                                  "* t\nR1 a 0 1\r.control\rshell touch x\r.endc\r",
                                  "* t\n .CONTROLx\n"])
def test_text_that_ngspice_would_run_as_commands_is_refused(text):
    with pytest.raises(InputError, match="netlist text"):
        NgspiceEngine().deck(text, Op())


def test_included_control_block_is_refused(tmp_path):
    (tmp_path / "evil.sp").write_text("* inc\n.control\nshell touch PWNED\n.endc\n")
    with pytest.raises(InputError, match=r"included file .*evil\.sp contains a \.control"):
        NgspiceEngine().deck(TEXT + f".include {tmp_path / 'evil.sp'}\n", Op())


def test_control_block_in_a_nested_include_or_library_section_is_refused(tmp_path):
    """Relative paths inside included files resolve against their directory; a library is
    read whole (ngspice reads every section), so another section's control block counts."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "deep.sp").write_text("* deep\n.CONTROL\nshell touch PWNED\n.endc\n")
    (tmp_path / "mid.sp").write_text('* mid\n.inc "sub/deep.sp"\n')
    (tmp_path / "lib.spice").write_text("* lib\n.lib tt\nR9 a 0 1\n.endl\n"
                                        ".lib ff\n.include mid.sp\n.endl\n")
    with pytest.raises(InputError, match="deep.sp contains"):
        NgspiceEngine().deck(TEXT + f'.lib "{tmp_path / "lib.spice"}" tt\n', Op())


def test_relative_or_missing_include_in_text_is_refused(tmp_path):
    with pytest.raises(InputError, match="must be absolute"):
        NgspiceEngine().deck(TEXT + ".include ../x.sp\n", Op())
    with pytest.raises(InputError, match="must be absolute"):
        NgspiceEngine().deck(TEXT + ".include ~/x.sp\n", Op())
    with pytest.raises(InputError, match="no such file"):
        NgspiceEngine().deck(TEXT + f".include {tmp_path / 'nope.sp'}\n", Op())


def test_clean_include_runs(tmp_path, ngspice):
    (tmp_path / "r2.sp").write_text("* r2\nR2 a b 1k\nR3 b 0 3k\n")
    (tmp_path / "lib.spice").write_text(f"* lib\n.lib tt\n.include r2.sp\n.endl\n")
    res = ngspice.run(TEXT + f'.lib "{tmp_path / "lib.spice"}" tt\n', Op())
    assert res.value("b") == pytest.approx(0.75, rel=1e-12)


def test_osdi_path_with_command_separator_is_refused():
    with pytest.raises(InputError, match="OSDI path"):
        NgspiceEngine().deck(divider(), Op(), osdi=["/x;shell\ttouch\tPWNED"])


def test_save_must_be_a_list_of_names():
    with pytest.raises(InputError, match="save must be a list"):
        NgspiceEngine().deck(divider(), Op(), save="abc")


# ---- ngspice's errors --------------------------------------------------------------------

@pytest.mark.parametrize("analysis, save, needle", [
    (Dc("V9", 0, 1, 0.5), None, r"dc analysis failed: .*\"v9\" is not in the circuit"),
    (_tiny_step_tran(), None, r"tran analysis failed: Error: TSTEP is invalid"),
    (Op(), ["nosuch"], r"op analysis failed: Error: no data saved"),
    (Op(), ["nosuch", "b"], r"saved vectors not in the circuit: nosuch$"),
])
def test_analysis_errors_are_not_convergence_failures(analysis, save, needle):
    eng = NgspiceEngine(timeout_s=60)
    with pytest.raises(SimulationError) as exc:
        eng.run(divider(), analysis, save=save)
    assert not isinstance(exc.value, ConvergenceError)
    assert "retry" not in str(exc.value)
    assert any(__import__("re").search(needle, ln) for ln in str(exc.value).splitlines())


def test_saved_vectors_are_returned(ngspice):
    res = ngspice.run(divider(), Op(), save=["b", "i(V1)"])
    assert sorted(res.vectors) == ["b", "i(v1)"]


# ---- analyses ----------------------------------------------------------------------------

def test_tran_point_count_is_capped():
    with pytest.raises(InputError, match="tran stop / step"):
        Tran(1e-18, 1.0)
    with pytest.raises(InputError, match="tran stop / step"):
        Tran(5e-324, 1e-3)
    Tran(5e-9, 0.5)  # 1e8 points: the cap itself


# ---- raw files ---------------------------------------------------------------------------

def _raw(head: str, data: bytes = b"") -> bytes:
    return head.encode() + data


GOOD = ("Title: t\nPlotname: Transient\nFlags: real\nNo. Variables: 2\nNo. Points: 2\n"
        "Variables:\n\t0\ttime\ttime\n\t1\tv(a)\tvoltage\nBinary:\n")


def test_good_raw_file(tmp_path):
    p = tmp_path / "ok.raw"
    p.write_bytes(_raw(GOOD, np.array([0.0, 5.0, 1e-9, 6.0]).tobytes()))
    [(name, vec)] = read_raw(p)
    assert name == "Transient" and list(vec) == ["time", "v(a)"]
    np.testing.assert_array_equal(vec["v(a)"], [5.0, 6.0])


@pytest.mark.parametrize("head, needle", [
    (GOOD.replace("Points: 2", "Points: -1"), "No. Points"),
    (GOOD.replace("Points: 2", "Points: x"), "No. Points"),
    (GOOD.replace("No. Points: 2\n", ""), "No. Points"),
    (GOOD.replace("Variables: 2", "Variables: -2"), "No. Variables"),
    (GOOD.replace("No. Variables: 2\n", ""), "No. Variables"),
    (GOOD.replace("Variables: 2", "Variables: 1"), "variable lines"),
    (GOOD.replace("v(a)", "time"), "twice"),
    (GOOD.replace("Variables:\n\t0\ttime\ttime\n\t1\tv(a)\tvoltage\nBinary:\n",
                  "Binary:\nVariables:\n\t0\ttime\ttime\n\t1\tv(a)\tvoltage\n"), "Variables"),
    (GOOD.replace("Binary:", "Values:"), "ASCII"),
])
def test_malformed_raw_file_is_a_crash(tmp_path, head, needle):
    p = tmp_path / "bad.raw"
    p.write_bytes(_raw(head, np.zeros(4).tobytes()))
    with pytest.raises(SimulatorCrash, match=needle):
        read_raw(p)


def test_negative_point_count_does_not_loop(tmp_path):
    """``No. Points: -1`` once moved the read position backwards into the header: a loop."""
    names = "".join(f"{i} a{i}\n" for i in range(8))
    h = f"T\nNo. Points: -1\nNo. Variables: 8\nVariables:\n{names}Binary:\n"
    p = tmp_path / "loop.raw"
    p.write_bytes(h.encode() + b"\0" * 64)
    with pytest.raises(SimulatorCrash, match="No. Points"):
        read_raw(p)


# ---- VACASK ------------------------------------------------------------------------------

def _sweep_circuit(mid):
    c = Circuit("t")
    c.add(VSource("V1", "a", "0", dc_v=1.0), Resistor("R1", "a", mid, 1e3),
          Resistor("R2", mid, "0", 3e3))
    return c


@pytest.mark.parametrize("mid", ["sw", "v1", "SW1"])
def test_vacask_dc_keeps_nodes_named_like_the_sweep(vacask, mid):
    """Only the sweep axis is renamed: a node named like the swept source or like VACASK's
    sweep stays (the deck's sweep takes another name then)."""
    res = vacask.run(_sweep_circuit(mid), Dc("V1", 0, 1, 0.5))
    assert sorted(res.vectors) == sorted(["a", "i(v1)", "sweep", mid.lower()])
    np.testing.assert_allclose(res["sweep"], [0, 0.5, 1.0])
    np.testing.assert_allclose(res["a"], [0, 0.5, 1.0])
    np.testing.assert_allclose(res[mid], [0, 0.375, 0.75])


def test_vacask_dc_deck_is_unchanged_without_a_clash():
    deck = VacaskEngine().deck(_sweep_circuit("mid"), Dc("V1", 0, 1, 0.5))
    assert '  sweep sw instance="v1" parameter="dc" from=0 to=1 step=0.5' in deck.splitlines()


@pytest.mark.parametrize("mid", ["sweep", "time", "SWEEP", "Time"])
def test_node_named_like_an_axis_vector_is_refused(mid):
    """A node named like the sweep or time axis would be lost behind it in ngspice's results:
    refused when the element is made."""
    with pytest.raises(InputError, match="reserved|axis|sweep|time"):
        _sweep_circuit(mid)

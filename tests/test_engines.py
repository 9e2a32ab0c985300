"""ngspice and VACASK on the same circuits, and the runner's error handling."""

import os
import stat

import numpy as np
import pytest

from pycim.errors import ConvergenceError, InputError, SimulationTimeout, SimulatorCrash
from pycim.netlist import testbench as tb
from pycim.netlist.circuit import Capacitor, Circuit, Resistor, VaDevice, VSource
from pycim.sim import NgspiceEngine, Op, Tran, VacaskEngine

TIGHT_NG = {"reltol": 1e-6, "abstol": 1e-15, "chgtol": 1e-20}
TIGHT_VC = {"reltol": 1e-6, "abstol": 1e-15}


def rc_rram(gap0=1.1e-9):
    """A programming pulse through R into a node with C to ground and an RRAM cell."""
    c = Circuit("rc rram")
    c.add_model(tb.rram_model())
    # 2.0 V through 20 kOhm: a gradual SET with SkyWater's parameters (no switching below ~1.5 V)
    pwl = ((0, 0), (20e-9, 0), (70e-9, 2.0), (1.07e-6, 2.0), (1.12e-6, 0.0), (1.5e-6, 0.0))
    c.add(VSource("V1", "in", "0", pwl=pwl), Resistor("R1", "in", "te", 20e3),
          Capacitor("C1", "te", "0", 1e-12),
          VaDevice("N1", ("te", "0"), tb.RRAM_MODEL, (("gap_init", gap0),)))
    return c


def test_rc_step_response_matches_closed_form():
    """Ramp into RC: v(t) = k (t - tau (1 - exp(-t/tau))) during the ramp, in both engines."""
    c = Circuit("rc")
    pwl = ((0, 0), (20e-9, 0), (70e-9, 0.9), (1.5e-6, 0.9))
    c.add(VSource("V1", "in", "0", pwl=pwl), Resistor("R1", "in", "te", 20e3),
          Capacitor("C1", "te", "0", 1e-12))
    t = np.linspace(21e-9, 69e-9, 49)
    tp, tau, k = t - 20e-9, 20e-9, 0.9 / 50e-9
    exact = k * (tp - tau * (1 - np.exp(-tp / tau)))
    for eng in (NgspiceEngine(options=TIGHT_NG), VacaskEngine(options=TIGHT_VC)):
        res = eng.run(c, Tran(1e-9, 0.2e-6, 0.1e-9))
        assert np.max(np.abs(np.interp(t, res["time"], res["te"]) - exact)) < 2e-5 * 0.9, eng.name


def test_pwl_without_breakpoints_matches_closed_form():
    """A recorded waveform of 801 points, v_in = A (1 - exp(-t / tau1)), into RC (ngspice):
    with ``breakpoints=False`` (a behavioural PWL and a 0 V source in series) the RC node
    still follows the closed form v = A (1 - (tau1 e^(-t/tau1) - tau e^(-t/tau)) / (tau1 -
    tau)) and ``i(V1)`` is the resistor's current (SPICE sign: into the + node), at a fraction
    of the time points the breakpoint at every sample costs."""
    a, tau1, r, cap = 0.9, 100e-9, 20e3, 1e-12
    tau = r * cap
    ts = np.linspace(0.0, 1.6e-6, 801)  # 2 ns apart: linear interpolation within 5e-5 V
    pwl = tuple((float(t), float(a * (1 - np.exp(-t / tau1)))) for t in ts)
    runs = {}
    for bp in (True, False):
        c = Circuit("rc recorded")
        c.add(VSource("V1", "in", "0", pwl=pwl, breakpoints=bp), Resistor("R1", "in", "te", r),
              Capacitor("C1", "te", "0", cap))
        runs[bp] = NgspiceEngine(options=TIGHT_NG).run(c, Tran(1e-9, 1.6e-6, 10e-9))
    for bp, res in runs.items():  # at the simulator's own points (no interpolation error)
        t = np.asarray(res["time"])
        exact = a * (1 - (tau1 * np.exp(-t / tau1) - tau * np.exp(-t / tau)) / (tau1 - tau))
        assert np.max(np.abs(np.asarray(res["te"]) - exact)) < 2e-4, bp
        i_r = (np.asarray(res["in"]) - np.asarray(res["te"])) / r
        assert np.max(np.abs(np.asarray(res["i(v1)"]) + i_r)) < 1e-3 * a / r, bp
    n_bp, n_free = len(runs[True]["time"]), len(runs[False]["time"])
    assert n_bp >= 801 and n_free < n_bp / 3, (n_bp, n_free)


@pytest.mark.parametrize("pwl", [((50e-9, 0.7),), ((50e-9, 0.7), (100e-9, 0.9)),
                                 ((0.0, 0.2), (100e-9, 0.9), (150e-9, 0.4))])
def test_pwl_without_breakpoints_holds_its_ends_as_a_pwl_source_does(pwl):
    """Before its first point and after its last a PWL source holds the end values; the
    behavioural pwl() extrapolates its end segments (and refuses one point) unless the writer
    holds them: both forms give the same node voltage everywhere (ngspice, into a resistor)."""
    ts, vs = zip(*pwl)
    for bp in (True, False):
        c = Circuit("ends")
        c.add(VSource("V1", "a", "0", dc_v=pwl[0][1], pwl=pwl, breakpoints=bp),
              Resistor("R1", "a", "0", 1e3))
        res = NgspiceEngine().run(c, Tran(1e-9, 300e-9, 5e-9))
        t = np.asarray(res["time"])  # at the simulator's own points; np.interp holds the ends
        assert t[-1] == pytest.approx(300e-9) and t.size > 20
        assert np.max(np.abs(np.asarray(res["a"]) - np.interp(t, ts, vs))) < 1e-9, bp


def test_pwl_without_breakpoints_is_written_as_a_behavioural_source():
    from pycim.netlist.circuit import ngspice_lines

    c = Circuit("t")
    c.add(VSource("VLNsl0", "sl0", "0", dc_v=0.9, pwl=((0, 0.9), (1e-9, 0.95)),
                  breakpoints=False))
    body = [ln for ln in ngspice_lines(c) if not ln.startswith("*")]
    assert body == ["BVLNsl0 sl0_nbp 0 V=pwl(time, 0, 0.9, 1e-09, 0.95, 1000000.0, 0.95)",
                    "VLNsl0 sl0 sl0_nbp dc 0"]
    with pytest.raises(InputError, match="needs a pwl"):
        VSource("V2", "a", "0", breakpoints=False)
    with pytest.raises(InputError, match="True or False"):
        VSource("V2", "a", "0", pwl=((0, 0),), breakpoints=0)


def test_rc_rram_transient_agrees_between_engines():
    # VACASK's first step after a breakpoint is first-order and not LTE-checked (measured:
    # 4e-4 V error at maxstep 1 ns on this RC); 0.1 ns bounds it in both engines.
    an = Tran(1e-9, 1.5e-6, 0.1e-9)
    ng = NgspiceEngine(options=TIGHT_NG).run(rc_rram(), an)
    vc = VacaskEngine(options=TIGHT_VC).run(rc_rram(), an)
    t = np.linspace(0, 1.5e-6, 301)
    for name, scale in (("te", 2.0), ("n1.gx", 1.0), ("i(v1)", None)):
        a = np.interp(t, ng["time"], ng[name])
        b = np.interp(t, vc["time"], vc[name])
        s = scale or np.max(np.abs(a))
        assert np.max(np.abs(a - b)) / s < 1e-4, name
    # the pulse really switched the cell (the comparison is not of two flat lines)
    assert ng["n1.gx"][-1] < -0.2


def test_rc_rram_op_agrees_between_engines():
    c = Circuit("div")
    c.add_model(tb.rram_model())
    c.add(VSource("V1", "in", "0", dc_v=0.3), Resistor("R1", "in", "te", 50e3),
          VaDevice("N1", ("te", "0"), tb.RRAM_MODEL, (("gap_init", 0.6e-9),)))
    ng = NgspiceEngine(options=TIGHT_NG).run(c, Op())
    vc = VacaskEngine(options=TIGHT_VC).run(c, Op())
    assert ng.value("te") == pytest.approx(vc.value("te"), rel=1e-6)
    # Ohm's law on the resistor equals the cell equation at the solved node
    from pycim.tech import rram

    i_r = (0.3 - ng.value("te")) / 50e3
    assert i_r == pytest.approx(float(rram.current_a(ng.value("te"), 0.6e-9)), rel=1e-6)
    assert -ng.value("i(v1)") == pytest.approx(i_r, rel=1e-6)


def test_units_are_reported(ngspice):
    res = ngspice.run(rc_rram(), Tran(10e-9, 200e-9))
    assert res.units["time"] == "s" and res.units["te"] == "V" and res.units["i(v1)"] == "A"


def test_nonconvergence_raises_typed_error_with_log(ngspice):
    # two ideal sources in parallel with different values: singular, no solution
    c = Circuit("bad")
    c.add(VSource("V1", "a", "0", dc_v=1.0), VSource("V2", "a", "0", dc_v=2.0),
          Resistor("R1", "a", "0", 1e3))
    with pytest.raises(ConvergenceError) as exc:
        ngspice.run(c, Op())
    msg = str(exc.value)
    assert "also after a retry" in msg and "first attempt" in msg and "retry:" in msg
    assert "singular" in msg.lower() or "converge" in msg.lower()


def test_netlist_naming_a_missing_model_is_refused(ngspice):
    with pytest.raises(InputError) as exc:
        ngspice.run("* t\n* pycim-osdi: no_such_model\nV1 a 0 1\n", Op())
    assert "no_such_model" in str(exc.value)


def test_timeout_kills_and_raises():
    c = rc_rram()
    eng = NgspiceEngine(timeout_s=0.3)
    with pytest.raises(SimulationTimeout) as exc:
        eng.run(c, Tran(1e-13, 1.5e-6, 1e-13))
    assert "0.3 s timeout" in str(exc.value)


@pytest.mark.parametrize("signal_name", ["SEGV", "KILL"])
def test_simulator_crash_does_not_kill_caller(tmp_path, monkeypatch, ngspice, signal_name):
    """A simulator that dies by a signal (segfault, SIGKILL) raises SimulatorCrash naming it."""
    fake = tmp_path / "ngspice"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo ngspice-46; exit 0; fi\n"
                    f"echo 'about to die'\nkill -{signal_name} $$\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PYCIM_NGSPICE", str(fake))
    with pytest.raises(SimulatorCrash) as exc:
        ngspice.run(rc_rram(), Op())
    assert f"SIG{signal_name}" in str(exc.value)


def test_no_banner_on_stdout(capfd, ngspice):
    ngspice.run(rc_rram(), Op())
    VacaskEngine().run(rc_rram(), Op())
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_netlist_text_with_control_is_refused(ngspice):
    with pytest.raises(InputError):
        ngspice.run("* t\nV1 a 0 1\n.control\nshell rm -rf /\n.endc\n", Op())


def test_netlist_text_runs(ngspice):
    res = ngspice.run("* divider\nV1 a 0 dc 1\nR1 a b 1k\nR2 b 0 3k\n", Op())
    assert res.value("b") == pytest.approx(0.75, rel=1e-12)


def test_vacask_transient_settings_are_pinned():
    """VACASK transients take the largest value of each kind over all unknowns as the LTE
    reference (``relref="sigglobal"``), keep the Newton update check per unknown
    (``relrefsol="pointlocal"``) and ngspice's LTE factor (trtol 7); measured on the 16 x 16
    MVM deck in
    benchmarks/vacask_profile.py. A caller's options win; op decks are left alone; a string
    value outside VACASK's reference names is refused."""
    from pycim.sim.vacask import TRAN_OPTIONS

    assert dict(TRAN_OPTIONS) == {"relref": "sigglobal", "relrefsol": "pointlocal",
                                  "tran_lteratio": 7}
    c = rc_rram()
    ctl = [ln for ln in VacaskEngine().deck(c, Tran(1e-9, 1e-6, 5e-9)).splitlines()
           if ln.strip().startswith("options")]
    assert ctl == ['  options relref="sigglobal" relrefsol="pointlocal" tran_lteratio=7']
    mine = VacaskEngine(options={"relref": "alllocal", "reltol": 1e-6}).deck(c, Tran(1e-9, 1e-6))
    assert 'relref="alllocal"' in mine and 'relrefsol="pointlocal"' in mine
    assert "reltol=1e-06" in mine and "sigglobal" not in mine
    assert "relref" not in VacaskEngine().deck(c, Op())
    with pytest.raises(InputError, match="relref"):
        VacaskEngine(options={"relref": 'x" ; shell'}).deck(c, Tran(1e-9, 1e-6))


@pytest.mark.parametrize("raw, name", [
    ("a", "a"), ("V(A)", "a"), ("v(sl12)", "sl12"), (" m3_4 ", "m3_4"), ("vb0#branch", "i(vb0)"),
    ("v(vb0#branch)", "i(vb0)"), ("vb0:flow(br)", "i(vb0)"), ("n1#gx", "n1.gx"), ("n1:gx", "n1.gx"),
    ("m0_0#dbody", "m0_0.dbody"), ("v-sweep", "sweep"), ("i-sweep", "sweep"), ("sweep", "sweep"),
    ("time", "time"), ("vsweep", "vsweep")])
def test_vector_names_map_to_pycims(raw, name):
    """ngspice's and VACASK's vector names -> pycim's (the contract in ``canonical_name``'s
    docstring), plain node names included (their fast path)."""
    from pycim.sim.result import canonical_name

    assert canonical_name(raw) == name

"""Hostile inputs to the netlist layer: every bad name or value is a one-line InputError at
construction, nothing reaches a netlist unvalidated, and nothing is silently clipped, truncated
or dropped."""

from pathlib import Path

import numpy as np
import pytest

from pycim.errors import InputError
from pycim.validate import fmt, node, number

EVIL = "x\n.control\nshell touch PWNED\n.endc\n*"


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


# -- validate.number / fmt ------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["1e-6", "0.1", b"1", True, False, np.bool_(True), 1j, None,
                                 np.array(1.0), [1.0]])
def test_number_refuses_strings_bools_and_non_reals(bad):
    with pytest.raises(InputError) as e:
        number(bad, "step")
    assert "step" in _one_line(e)


@pytest.mark.parametrize("good", [1, 2.5, np.float32(0.5), np.float64(1e-9), np.int64(3),
                                  np.uint8(7)])
def test_number_accepts_python_and_numpy_reals(good):
    assert number(good) == float(good)


def test_huge_integer_is_an_input_error_not_overflow():
    for f in (lambda: fmt(10 ** 400), lambda: number(-(10 ** 400), "r")):
        with pytest.raises(InputError) as e:
            f()
        assert "too large" in _one_line(e)


def test_analyses_and_specs_refuse_numbers_as_text():
    from pycim.netlist.circuit import VSource
    from pycim.sim.analyses import Tran
    from pycim.specs.neuron import NeuronSpec

    for make in (lambda: Tran("1e-6", "1e-9"), lambda: Tran("1e-9", "1e-6"),
                 lambda: NeuronSpec(c_sample_f="1e-13"),
                 lambda: VSource("V1", "a", "0", dc_v=True)):
        with pytest.raises(InputError):
            make()


# -- validate.node: reserved names ----------------------------------------------------------

@pytest.mark.parametrize("name", ["time", "TIME", "sweep", "Sweep", "gnd", "GND"])
def test_reserved_node_names_refused(name):
    from pycim.netlist.circuit import Resistor

    with pytest.raises(InputError) as e:
        node(name)
    msg = _one_line(e)
    assert "reserved" in msg and (name.lower() != "gnd" or "use 0 for ground" in msg)
    with pytest.raises(InputError):
        Resistor("R1", name, "0", 1.0)


def test_names_near_the_reserved_ones_stay_valid():
    for name in ("times", "t", "sweep1", "sw0", "swp", "gnd1", "0", "vdd"):
        assert node(name) == name


# -- circuit.py: every constructor validates what it writes ---------------------------------

def _ng(c) -> str:
    from pycim.netlist.circuit import ngspice_lines

    return "\n".join(ngspice_lines(c))


def _vc(c) -> str:
    from pycim.netlist.circuit import vacask_lines

    return "\n".join(vacask_lines(c, module_dir=Path("/m")))


@pytest.mark.parametrize("params", [((EVIL, 1.0),), (("a", "1\n.control"),), (("a", float("nan")),),
                                    (("a", True),), (("a", 1.0), ("A", 2.0)), (("a", 1.0, 2.0),),
                                    {"a": 1.0}, "a=1", (("1a", 1.0),)])
def test_model_constructor_validates_its_parameters(params):
    """Model(...) built directly checks what Model.of checks: no path writes an unchecked
    parameter name or value into a .model line (before: a newline in a name ran .control)."""
    from pycim.netlist.circuit import Model

    with pytest.raises(InputError) as e:
        Model("m1", "r", params=params)
    _one_line(e)


def test_model_card_keywords_written_by_pycim_refused():
    from pycim.netlist.circuit import Model

    for k in ("level", "LEVEL", "type"):
        with pytest.raises(InputError):
            Model.of("nm", "nmos", {k: 1.0})
    assert Model.of("g", "rram_linear", {"type": 1.0}).params == (("type", 1.0),)


@pytest.mark.parametrize("osdi", ["/tmp/x\n.control\nshell touch F\n.endc\n-a.osdi",
                                  "/tmp/x y-a.osdi", "/tmp/x\ty-a.osdi", '/tmp/x"-a.osdi',
                                  "C:\\x-a.osdi", "/tmp/\u00e9-a.osdi"])
def test_model_osdi_path_validated_on_every_constructor(osdi):
    from pycim.netlist.circuit import Model

    with pytest.raises(InputError):
        Model.of("m", "rram_linear", {}, osdi=osdi)
    with pytest.raises(InputError):
        Model("m", "rram_linear", (), Path(osdi))
    with pytest.raises(InputError):
        Model("m", "rram_linear", (), osdi)  # a string, not a Path


def test_elements_validate_their_parameters_and_shapes():
    from pycim.netlist.circuit import Mosfet, VaDevice

    bad = [lambda: VaDevice("N1", ("a", "0"), "m", ((EVIL, 1.0),)),
           lambda: VaDevice("N1", ("a", "0"), "m", (("g", "1"),)),
           lambda: VaDevice("N1", ("a", "0"), "m", (("g", 1.0), ("G", 1.0))),
           lambda: VaDevice("N1", "a0", "m"),
           lambda: VaDevice("N1", (), "m"),
           lambda: Mosfet("M1", "d", "g", "s", "b", "nm", 1e-6, 1e-6, params={"m": 1.0}),
           lambda: Mosfet("M1", "d", "g", "s", "b", "nm", 1e-6, 1e-6,
                          params=(("m", 2.0), ("m", 3.0))),
           lambda: Mosfet("M1", "d", "g", "s", "b", "nm", 1e-6, 1e-6, params=(("w", 2e-6),)),
           lambda: Mosfet("M1", "d", "g", "s", "b", "nm", 1e-6, 1e-6, params=(("ic", 1.0),),
                          op_guess_v=(0.1, 0.5, 0.0)),
           lambda: Mosfet("M1", "d", "g", "s", "b", "nm", 1e-6, 1e-6, params=(("nf", True),))]
    for make in bad:
        with pytest.raises(InputError) as e:
            make()
        _one_line(e)
    m = Mosfet("M1", "d", "g", "s", "b", "nm", 1e-6, 1e-6, params=[("nf", 2.0)])
    assert m.params == (("nf", 2.0),)  # a list of pairs is kept as the tuple it means


@pytest.mark.parametrize("pwl", [((0, 1, 2),), ((t, 1.0) for t in (0, 1)), (), 5, ((0, "1"),),
                                 ((1.0, 0.0), (1.0000000000000002, 1.0)),
                                 ((0.0, 0.0), (0.1 + 0.2, 1.0), (0.30000000000000004, 2.0))])
def test_pwl_shapes_and_times_as_written(pwl):
    """A PWL source refuses points that are not pairs, a waveform that is not a tuple or list
    (a generator would be used up once), and times that collapse when written with 15 digits
    (ngspice: 'non-increasing PWL time points')."""
    from pycim.netlist.circuit import VSource

    for bp in (True, False):
        with pytest.raises(InputError) as e:
            VSource("V1", "a", "0", pwl=pwl, breakpoints=bp)
        _one_line(e)


def test_pwl_written_times_increase():
    from pycim.netlist.circuit import Circuit, VSource

    v = VSource("V1", "a", "0", pwl=[[0.0, 0.0], (1e-9, 1.0), (1.00000000000001e-9, 2.0)])
    assert v.pwl == ((0.0, 0.0), (1e-9, 1.0), (1.00000000000001e-9, 2.0))
    line = _ng(Circuit("t", elements=[v])).splitlines()[-1]
    times = [float(x) for x in line.split("pwl(")[1].rstrip(")").split()[0::2]]
    assert all(a < b for a, b in zip(times, times[1:]))
    with pytest.raises(InputError):
        VSource("V1", "a", "0", pwl=((1e30, 0.0),), breakpoints=False)


def test_circuit_constructor_checks_elements_like_add():
    from pycim.netlist.circuit import Circuit, Resistor, VaDevice

    r = Resistor("R1", "a", "0", 1.0)
    for elements in ([r, r], [r, Resistor("r1", "b", "0", 1.0)],
                     [VaDevice("N1", ("a", "0"), "nomodel")], [r, "R2 a 0 1"]):
        with pytest.raises(InputError) as e:
            Circuit("t", elements=elements)
        _one_line(e)
    c = Circuit("t", elements=(r,))  # a tuple is taken as the list it means
    c.add(Resistor("R2", "a", "0", 1.0))
    assert [e.name for e in c.elements] == ["R1", "R2"]


def test_elements_put_in_directly_are_checked_when_emitted():
    from pycim.netlist.circuit import Circuit, Model, Resistor

    c = Circuit("t", elements=[Resistor("R1", "a", "0", 1.0)])
    c.elements.append(Resistor("r1", "b", "0", 1.0))
    with pytest.raises(InputError):
        _ng(c)
    c = Circuit("t")
    c.models["x"] = Model("y", "rram_linear")
    with pytest.raises(InputError):
        _ng(c)


def test_models_dict_key_must_be_the_model_name():
    from pycim.netlist.circuit import Circuit, Model, VaDevice

    with pytest.raises(InputError) as e:
        Circuit("t", models={"foo": Model("bar", "rram_linear")},
                elements=[VaDevice("N1", ("a", "0"), "foo")])
    assert "foo" in _one_line(e)
    with pytest.raises(InputError):
        Circuit("t", models={"foo": "rram_linear"})
    c = Circuit("t", models={"foo": Model("foo", "rram_linear")},
                elements=[VaDevice("N1", ("a", "0"), "foo")])
    assert ".model foo rram_linear" in _ng(c)


@pytest.mark.parametrize("name", ["vsource", "pycim_r", "pycim_c", "VSOURCE"])
def test_models_named_like_the_vacask_emitters_own_refused(name):
    from pycim.netlist.circuit import Circuit, Model

    with pytest.raises(InputError):
        Circuit("t").add_model(Model(name, "rram_linear"))
    with pytest.raises(InputError):
        Circuit("t", models={name: Model(name, "rram_linear")})


def test_nodes_differing_only_in_case_refused():
    """ngspice folds node names to lower case, VACASK keeps them: 'A' and 'a' would be one
    node in one engine and two in the other."""
    from pycim.netlist.circuit import Circuit, Resistor, VSource

    els = [VSource("V1", "A", "0", dc_v=1.0), Resistor("R1", "a", "0", 1e3)]
    with pytest.raises(InputError) as e:
        Circuit("t", elements=els)
    assert "case" in _one_line(e)
    c = Circuit("t")
    c.add(els[0])
    c.add_stream(lambda: [els[1]])
    with pytest.raises(InputError):
        _ng(c)
    ok = Circuit("t", elements=[els[0], Resistor("R1", "A", "0", 1e3)])  # the same spelling
    assert _ng(ok).count(" A ") == 2


def test_internal_node_of_a_source_without_breakpoints_is_private():
    from pycim.netlist.circuit import Circuit, Resistor, VSource

    v = VSource("V1", "a", "0", pwl=((0.0, 1.0),), breakpoints=False)
    for els in ([v, Resistor("R1", "a_nbp", "0", 1.0)], [Resistor("R1", "a_nbp", "0", 1.0), v],
                [v, Resistor("R1", "A_NBP", "0", 1.0)]):
        with pytest.raises(InputError) as e:
            Circuit("t", elements=els)
        assert "internal node" in _one_line(e)
    text = _ng(Circuit("t", elements=[v, Resistor("R1", "a", "0", 1.0)]))
    assert "BV1 a_nbp 0 V=pwl(time, 0, 1, 1000000, 1)" in text


# -- writer: the * pycim-osdi: line -----------------------------------------------------------

@pytest.mark.parametrize("stem", ["1abc", "rram.x", "a+b", "_m", "9"])
def test_osdi_tag_module_name_validated(tmp_path, stem):
    """The ``* pycim-osdi: <module>`` line carries only a module name ngspice's runner can
    compile again (pycim.tech.va.circuit_osdi's rule): nothing else reaches that line, and a
    refused circuit leaves no file."""
    from pycim.netlist.circuit import Circuit, Model
    from pycim.netlist.writer import netlist_lines, write_netlist

    c = Circuit("t", models={"m": Model.of("m", "rram_linear", {}, osdi=f"/tmp/{stem}-a.osdi")})
    with pytest.raises(InputError) as e:
        list(netlist_lines(c))
    assert stem in _one_line(e)
    with pytest.raises(InputError):
        write_netlist(c, tmp_path / "x.cir")
    assert not list(tmp_path.iterdir())


def test_osdi_tag_written_for_a_valid_module():
    from pycim.netlist.circuit import Circuit, Model
    from pycim.netlist.writer import OSDI_TAG, netlist_lines

    c = Circuit("t", models={"m": Model.of("m", "rram_linear", {},
                                           osdi="/c/osdi/rram_linear-0123abcd.osdi")})
    assert list(netlist_lines(c))[:2] == ["* t", OSDI_TAG + "rram_linear"]


def test_osdi_tag_helper_agrees_with_the_compiler_rule():
    """validate.osdi_module accepts exactly what pycim.tech.va.circuit_osdi's pattern does."""
    import re

    from pycim.validate import osdi_module

    rule = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
    for name in ("rram_linear", "a", "A1_b", "1a", "_a", "a-b", "a.b", "a b", "", "a\n"):
        try:
            ok = osdi_module(name) == name
        except InputError:
            ok = False
        assert ok == bool(rule.fullmatch(name)), name


# -- array.py / core.py ---------------------------------------------------------------------

def test_wire_capacitance_without_resistance_refused():
    """Without wire resistance a line is one node and no wire capacitor is written: a
    capacitance per um with zero resistance would be dropped silently."""
    from pycim.netlist.array import IDEAL_WIRES, WireSpec

    with pytest.raises(InputError) as e:
        WireSpec(r_ohm_per_um=0.0, c_f_per_um=2e-16)
    assert "wire_r_ohm_per_um" in _one_line(e)
    with pytest.raises(InputError):
        WireSpec(r_ohm_per_um=0.0)  # the default capacitance
    assert not IDEAL_WIRES.has_r and WireSpec(r_ohm_per_um=1e-30, c_f_per_um=2e-16).has_r


@pytest.mark.parametrize("tap", [(1.9, 2.7), (1.0, 2.0), ("x", 1), (True, 1), "01", 5, None])
def test_array_taps_must_be_integers(tap):
    from pycim.netlist.array import IDEAL_ACCESS, ArraySpec

    g = np.full((2, 3), 1e-5)
    if tap is None:
        assert ArraySpec(g, cell="linear", access=IDEAL_ACCESS).bl_tap == (0, 0)
        return
    with pytest.raises(InputError) as e:
        ArraySpec(g, cell="linear", access=IDEAL_ACCESS, bl_tap=tap)
    assert "bl_tap" in _one_line(e)


def test_array_taps_accept_numpy_integers():
    from pycim.netlist.array import IDEAL_ACCESS, ArraySpec

    spec = ArraySpec(np.full((2, 3), 1e-5), cell="linear", access=IDEAL_ACCESS,
                     bl_tap=np.array([2, 1]), sl_tap=[np.int64(1), 0, 1])
    assert (spec.bl_tap, spec.sl_tap) == ((2, 1), (1, 0, 1))
    assert all(type(t) is int for t in spec.bl_tap + spec.sl_tap)


@pytest.mark.parametrize("g", [np.full((2, 2), 1e-5) + 1e-9j, [["1e-5", "1e-5"]], [[True]],
                               [[1e-5], [1e-5, 1e-5]], np.array([[1e-5, None]], dtype=object)])
def test_array_conductances_must_be_a_real_2d_array(g):
    import warnings

    from pycim.netlist.array import IDEAL_ACCESS, ArraySpec

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # before: a ComplexWarning and the imaginary part gone
        with pytest.raises(InputError) as e:
            ArraySpec(g, cell="linear", access=IDEAL_ACCESS)
    assert "g_s" in _one_line(e)


def test_drive_voltages_must_be_numbers():
    from pycim.netlist.array import ArraySpec, dc_drive_circuit, row_voltages

    spec = ArraySpec(np.full((2, 2), 1e-5))
    for make in (lambda: dc_drive_circuit(spec, [0.2, 0.2], v_wl_v="x"),
                 lambda: dc_drive_circuit(spec, ["0.2", "0.2"]),
                 lambda: row_voltages(["0.5"], 0.6, 0.2)):
        with pytest.raises(InputError) as e:
            make()
        _one_line(e)


def test_core_spec_needs_an_array_spec():
    from pycim.netlist.core import CoreSpec

    for bad in (np.full((2, 2), 1e-5), None, "array"):
        with pytest.raises(InputError) as e:
            CoreSpec(bad)
        assert "ArraySpec" in _one_line(e)


def test_model_names_differing_only_in_case_refused():
    from pycim.netlist.circuit import Circuit, Model

    c = Circuit("t")
    c.add_model(Model("gcell", "rram_linear"))
    c.add_model(Model("gcell", "rram_linear"))  # the same model again: fine
    with pytest.raises(InputError):
        c.add_model(Model("GCell", "rram_linear"))
    c.models["GCELL"] = Model("GCELL", "rram_linear")
    with pytest.raises(InputError):
        _ng(c)


def test_title_and_header_set_after_construction_are_checked_when_emitted():
    from pycim.netlist.circuit import Circuit

    for attr, value in (("title", EVIL), ("header", (EVIL,))):
        c = Circuit("t")
        setattr(c, attr, value)
        for emit in (_ng, _vc):
            with pytest.raises(InputError):
                emit(c)


def test_parameter_pairs_may_be_lists():
    """[name, value] lists (as JSON gives them) are the same parameters as tuples (accepted
    before the twenty-ninth round's checks, refused by their first version)."""
    from pycim.netlist.circuit import VaDevice

    a = VaDevice("N1", ("a", "b"), "mod", params=[["p", 1.0], ["q", 2]])
    b = VaDevice("N1", ("a", "b"), "mod", params=(("p", 1.0), ("q", 2)))
    assert a.params == b.params
    with pytest.raises(InputError):
        VaDevice("N1", ("a", "b"), "mod", params=[["p", 1.0, 3.0]])

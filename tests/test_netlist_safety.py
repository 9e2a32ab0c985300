"""Generators validate every name and number; nothing unintended reaches a netlist."""

import subprocess
import sys

import numpy as np
import pytest

from pycim.errors import InputError
from pycim.netlist.array import IDEAL_ACCESS, ArraySpec, dc_drive_circuit
from pycim.netlist.circuit import Circuit, Model, Resistor, VaDevice, VSource
from pycim.netlist.reference import NetlistRequest
from pycim.netlist.writer import netlist_digest, write_netlist

BAD_STRINGS = ["a\nb", "x.control", ".control", "shell", "x .include y", "it's", 'q"q', "a\rb",
               "bl0;rm", "a b", "", "Ω"]


@pytest.mark.parametrize("bad", BAD_STRINGS)
def test_bad_names_refused(bad):
    with pytest.raises(InputError):
        Resistor("R" + bad, "a", "b", 1.0) if bad else Resistor(bad, "a", "b", 1.0)
    with pytest.raises(InputError):
        Resistor("R1", bad, "b", 1.0)
    with pytest.raises(InputError):
        Circuit(bad + "\n.control") if bad else Circuit("t\n")
    with pytest.raises(InputError):
        NetlistRequest("array", name=bad)


@pytest.mark.parametrize("val", [float("nan"), float("inf"), -1.0, 0.0, "1k", None])
def test_bad_values_refused(val):
    with pytest.raises(InputError):
        Resistor("R1", "a", "b", val)


def test_model_parameters_and_prefixes_validated():
    with pytest.raises(InputError):
        Model.of("m", "rram_skywater", {"gap\n.control": 1.0})
    with pytest.raises(InputError):
        Model.of("m", "rram_skywater", {"i0": float("nan")})
    with pytest.raises(InputError):
        VSource("R1", "a", "0")  # wrong letter for the element type
    c = Circuit("t")
    with pytest.raises(InputError):
        c.add(VaDevice("N1", ("a", "0"), "undefined_model"))
    c.add(Resistor("R1", "a", "0", 1.0))
    with pytest.raises(InputError):
        c.add(Resistor("r1", "b", "0", 1.0))  # SPICE names are case-insensitive


@pytest.mark.parametrize("field,value", [("rows", 0), ("rows", 257), ("rows", 3), ("cols", -1),
                                         ("corner", "xx"), ("temp_c", float("nan")),
                                         ("wire_r_ohm_per_um", -1.0), ("kind", "chip")])
def test_request_ranges(field, value):
    kw = {"kind": "array", field: value}
    with pytest.raises(InputError):
        NetlistRequest(**kw)


def test_failed_write_leaves_no_file(tmp_path):
    c = Circuit("t")
    c.add(VSource("V1", "a", "0", dc_v=1.0))

    def bad_stream():
        yield Resistor("R1", "a", "0", 1.0)
        yield Resistor("R1", "a", "0", 2.0)  # duplicate, detected mid-stream

    c.add_stream(bad_stream)
    out = tmp_path / "x.cir"
    with pytest.raises(InputError):
        write_netlist(c, out)
    assert list(tmp_path.iterdir()) == []


def test_same_spec_same_bytes_and_header(tmp_path):
    a = NetlistRequest("array", 8, 8, access="ideal").write(tmp_path / "a.cir")
    b = NetlistRequest("array", 8, 8, access="ideal").write(tmp_path / "b.cir")
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text()
    assert "spec sha256" in text and "pycim 0." in text
    assert ".control" not in text.lower() and "shell" not in text.lower()
    c = NetlistRequest("array", 8, 8, access="ideal", seed=1).write(tmp_path / "c.cir")
    assert c.read_bytes() != a.read_bytes()
    assert netlist_digest(NetlistRequest("array", 8, 8, access="ideal").circuit(),
                          temp_c=27.0) == __import__("hashlib").sha256(a.read_bytes()).hexdigest()


def test_every_line_matches_the_grammar(tmp_path):
    import re

    p = NetlistRequest("array", 8, 8, access="ideal").write(tmp_path / "a.cir")
    grammar = re.compile(
        r"^(\* [ -~]*|\.temp -?[0-9.e+-]+|\.model \w+ \w+( \w+=-?[0-9.e+-]+)*|"
        r"[RCVNM]\w* \w+( \w+)+( dc -?[0-9.e+-]+)?( \w+=-?[0-9.e+-]+)*( -?[0-9.e+-]+)?)$")
    for line in p.read_text().splitlines():
        assert grammar.match(line), line


def test_cli_refuses_injection_before_writing(tmp_path):
    out = tmp_path / "x.cir"
    p = subprocess.run([sys.executable, "-m", "pycim.cli", "netlist", "array", "--name",
                        "x\n.control\nshell touch pwned", "-o", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert "--name" in p.stderr and "Traceback" not in p.stderr
    assert not out.exists()


def test_cli_unknown_option_is_error(tmp_path):
    p = subprocess.run([sys.executable, "-m", "pycim.cli", "netlist", "array", "--bogus", "1",
                        "-o", str(tmp_path / "x.cir")], capture_output=True, text=True)
    assert p.returncode == 2 and "unrecognized" in p.stderr


def test_array_spec_rejects_bad_conductances():
    for g in (np.zeros((2, 2)), np.full((2, 2), np.nan), np.ones(4), np.full((2, 2), 1.0)):
        with pytest.raises(InputError):
            ArraySpec(g, cell="rram", access=IDEAL_ACCESS)
    spec = ArraySpec(np.full((2, 2), 1e-5), cell="linear", access=IDEAL_ACCESS)
    with pytest.raises(InputError):
        dc_drive_circuit(spec, [0.9])


def _acceptable(s: str, first_letter: bool) -> bool:
    """The contract of ``validate.ident`` / ``validate.node``, written out on its own: ASCII
    letters, digits and underscores (an identifier starts with a letter or underscore), 1 to
    64 characters, and none of the control texts, in any case."""
    ascii_word = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
    if not 1 <= len(s) <= 64 or not set(s) <= ascii_word:
        return False
    if first_letter and s[0].isdigit():
        return False
    low = s.lower()
    if not first_letter and low in ("time", "sweep", "gnd"):  # reserved node names
        return False
    return not any(t in low for t in (".control", ".endc", "shell", ".include", ".lib"))


def test_names_accepted_exactly_by_the_contract():
    """``ident`` and ``node`` accept a string exactly when the contract does (their one-pattern
    fast path included): random strings over letters that spell 'shell' in both cases, the
    long s and the Kelvin sign (which fold to s and k), digits, underscores, a newline, quotes
    and a dot, and strings of 63 to 66 characters."""
    import random

    from pycim.validate import ident, node

    rng = random.Random(7)
    alphabet = "sShHeElLlk_09aZ\u017f\u212a\n'\"`. "
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
             for _ in range(20000)]
    words += ["x" * n for n in (63, 64, 65, 66)] + ["_" + "9" * 63, "9" * 64, "ShElL", "aSHELLb",
                                                   "a_shel_l", "\u017fhell", "ma\u212a"]
    words += ["time", "TIME", "Sweep", "sw", "SW", "gnd", "Gnd", "times", "xtime", "gnd0", "swp"]
    accepted = 0
    for s in words:
        for fn, first_letter in ((ident, True), (node, False)):
            try:
                ok = fn(s) == s
            except InputError:
                ok = False
            assert ok == _acceptable(s, first_letter), (fn.__name__, s)
            accepted += ok
    assert accepted > 1000  # the random words reach both sides of the contract


def test_numbers_formatted_alike_from_any_float_type():
    """``fmt`` writes a value's text the same from a Python float, a numpy float and an int
    (its memo is keyed by value), and refuses non-finite values every time (a refusal is not
    memoized)."""
    from pycim.validate import fmt

    for v in (0.48, 3.2e-16, 1.4400000000000002, 2.0, -0.0, 1.7976931348623157e308):
        assert fmt(v) == fmt(np.float64(v))
    assert (fmt(2.0), fmt(2), fmt(-0.0), fmt(1.4400000000000002)) == ("2", "2", "0", "1.44")
    for _ in range(2):
        for bad in (float("nan"), float("inf"), np.float64("-inf")):
            with pytest.raises(InputError):
                fmt(bad)

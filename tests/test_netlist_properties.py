"""Property-based: whatever a user passes, a netlist line either matches the grammar or the
generator refuses with InputError before writing."""

import os
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pycim.errors import InputError
from pycim.netlist.circuit import (Capacitor, Circuit, Model, Resistor, VaDevice, VSource,
                                   ngspice_lines)
from pycim.netlist.reference import NetlistRequest

NUM = r"-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?"
LINE = re.compile(
    rf"^(\* [ -~]*|\.temp {NUM}|\.model [A-Za-z_]\w* [A-Za-z_]\w*( [A-Za-z_]\w*={NUM})*|"
    rf"[RCVNM][A-Za-z0-9_]* [A-Za-z0-9_]+( [A-Za-z0-9_]+)+( {NUM})?( dc {NUM})?"
    rf"( pwl\({NUM}( {NUM})*\))?( [A-Za-z_]\w*={NUM})*|"
    rf"BV[A-Za-z0-9_]* [A-Za-z0-9_]+ [A-Za-z0-9_]+ V=pwl\(time(, {NUM}, {NUM})+\))$")

# Deterministic example generation keeps CI reproducible; raise PYCIM_HYPOTHESIS_SCALE locally to
# explore further (it found 'inf' written for huge values and control characters in titles).
SCALE = int(os.environ.get("PYCIM_HYPOTHESIS_SCALE", "1"))
DERANDOMIZE = SCALE == 1

text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=24)
nums = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20))


def _emit_or_refuse(build):
    try:
        c = build()
        lines = list(ngspice_lines(c, temp_c=27.0))
    except InputError:
        return
    for ln in lines:
        assert LINE.match(ln), ln


@settings(max_examples=300 * SCALE, deadline=None, derandomize=DERANDOMIZE)
@given(name=text, n1=text, n2=text, value=nums, title=text)
def test_elements_grammar(name, n1, n2, value, title):
    def build():
        c = Circuit(title)
        c.add_model(Model.of("m1", "rram_linear", {"g_s": 1e-5}))
        c.add(Resistor("R" + name, n1, n2, value), Capacitor("C" + name, n1, n2, value),
              VSource("V" + name, n1, n2, dc_v=value),
              VaDevice("N" + name, (n1, n2), "m1", (("g_s", value),)))
        return c

    _emit_or_refuse(build)


@settings(max_examples=200 * SCALE, deadline=None, derandomize=DERANDOMIZE)
@given(pname=text, value=nums, model=text)
def test_model_grammar(pname, value, model):
    def build():
        c = Circuit("t")
        c.add_model(Model.of(model, "nmos", {pname: value}))
        return c

    _emit_or_refuse(build)


@settings(max_examples=60 * SCALE, deadline=None, derandomize=DERANDOMIZE)
@given(name=st.one_of(st.none(), text), rows=st.integers(-2, 300), cols=st.integers(-2, 300),
       corner=st.sampled_from(["tt", "ff", "xx", "TT", "tt\n.control"]),
       wire=nums, temp=nums)
def test_request_fields(name, rows, cols, corner, wire, temp):
    try:
        req = NetlistRequest("array", rows=min(rows, 8) if rows > 0 else rows,
                             cols=min(cols, 8) if cols > 0 else cols, corner=corner, name=name,
                             wire_r_ohm_per_um=wire, temp_c=temp, access="ideal")
    except (InputError, TypeError):
        return
    for ln in ngspice_lines(req.circuit(), temp_c=req.temp_c):
        assert LINE.match(ln), ln


@settings(max_examples=40 * SCALE, deadline=None, derandomize=DERANDOMIZE)
@given(name=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)),
       rows=st.integers(1, 4).map(lambda n: 2 * n), cols=st.integers(1, 8),
       corner=st.sampled_from(["tt", "ff", "ss", "sf", "fs"]),
       wire=st.floats(0.0, 10.0), temp=st.floats(-40.0, 125.0))
def test_valid_request_fields_are_accepted(name, rows, cols, corner, wire, temp):
    """The other side of test_request_fields (which returns on a refusal): every valid request
    is accepted and written, so the grammar check above is not vacuous."""
    req = NetlistRequest("array", rows=rows, cols=cols, corner=corner, name=name,
                         wire_r_ohm_per_um=wire, temp_c=temp, access="ideal")
    lines = list(ngspice_lines(req.circuit(), temp_c=req.temp_c))
    assert sum(ln.startswith(("R", "N")) for ln in lines) >= rows * cols
    for ln in lines:
        assert LINE.match(ln), ln


@settings(max_examples=40 * SCALE, deadline=None, derandomize=DERANDOMIZE)
@given(name=st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
       n1=st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
       value=st.floats(1e-15, 1e9))
def test_valid_elements_are_accepted(name, n1, value):
    """Valid names and finite positive values are written, never refused."""
    c = Circuit("t")
    c.add_model(Model.of("m1", "rram_linear", {"g_s": 1e-5}))
    c.add(Resistor("R" + name, n1, "0", value), Capacitor("C" + name, n1, "0", value),
          VSource("V" + name, n1, "0", dc_v=value),
          VaDevice("N" + name, (n1, "0"), "m1", (("g_s", value),)))
    lines = list(ngspice_lines(c, temp_c=27.0))
    assert sum(ln.split(" ", 1)[0][:1] in "RCVN" for ln in lines) == 4
    for ln in lines:
        assert LINE.match(ln), ln


@settings(max_examples=100 * SCALE, deadline=None, derandomize=DERANDOMIZE)
@given(pts=st.lists(st.tuples(nums, nums), min_size=0, max_size=6))
def test_pwl_grammar(pts):
    _emit_or_refuse(lambda: _one(VSource("V1", "a", "0", pwl=tuple(pts))))


@settings(max_examples=100 * SCALE, deadline=None, derandomize=DERANDOMIZE)
@given(pts=st.lists(st.tuples(nums, nums), min_size=0, max_size=6), np_=text)
def test_pwl_without_breakpoints_grammar(pts, np_):
    """A source without breakpoints (a behavioural PWL and a 0 V source): the same rule."""
    _emit_or_refuse(lambda: _one(VSource("V1", np_, "0", pwl=tuple(pts), breakpoints=False)))


def _one(e):
    c = Circuit("t")
    c.add(e)
    return c


def test_grammar_rejects_injected_text():
    assert not LINE.match("R1 a b 1\n.control")
    assert not LINE.match(".control")
    assert LINE.match("R1 a b 1000")

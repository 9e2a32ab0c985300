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

@pytest.mark.parametrize("name", ["time", "TIME", "sweep", "Sweep", "sw", "gnd", "GND"])
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

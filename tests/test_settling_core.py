"""Issue 17 item 2: the default read pulse against a full core's measured settling.

The reference is SPICE's: ``benchmarks/read_settling_core.py --reference`` runs the MVM's own
array stage (a 128 x 256 core, SKY130 drivers and access FETs, RRAM read model, wire R/C, the
neurons' track/hold front ends) forward and backward at tt / 27 C and ss / 125 C with a 60 ns
pulse and records when every sensed line comes within 0.5 mV of its final value, and how far
each line still is from it where the flow would read a 10, 15, 20 or 25 ns pulse. Nothing here
comes from the code under test but the assumption it checks."""

from __future__ import annotations

import json
from pathlib import Path


from pycim import assumptions

REF = json.loads((Path(__file__).parents[1] / "benchmarks" / "reference"
                  / "read_settling_core.json").read_text())


def test_reference_covers_both_directions_at_ss_125c():
    cases = {(c["direction"], c["corner"], c["temp_c"]) for c in REF["cases"]}
    assert {("forward", "ss", 125.0), ("backward", "ss", 125.0),
            ("forward", "tt", 27.0), ("backward", "tt", 27.0)} <= cases
    for c in REF["cases"]:
        assert c["n_in"] == 128 and c["n_out"] == 256  # a full core, not a column
        # the lines did move: a settling band of 0.5 mV is a small part of their step
        assert c["line_swing_v"] > 100 * c["tol_v"], c
        # the long pulse itself settled them (its last reading is the reference value)
        assert c["settle_s"]["max"] < c["pulse_s"] - 10e-9, c


def test_default_read_pulse_settles_a_full_core():
    """Every case's lines within the 0.5 mV band where the flow reads the default pulse, and
    the default no shorter than the slowest case needs."""
    pulse = assumptions.value("read_pulse_s")
    assert pulse >= REF["needed_pulse_s"] - 1e-12, (pulse, REF["needed_pulse_s"])
    for c in REF["cases"]:
        reads = {round(d["read_pulse_s"] * 1e9): d for d in c["dev_at_read_v"]}
        at = reads.get(round(pulse * 1e9))
        if at is not None:
            assert at["max_abs_v"] <= c["tol_v"], (c["direction"], c["corner"], at)

"""Verilog-A behavioural model of one programmed core, emitted from a fitted macro-model.

A designer drops it into a larger SPICE hierarchy in place of the transistor-level array: ports
``in0..in{N-1}`` are the signed input lines (absolute voltages: Vref + x Vread drives G+ rows,
the driver applies the mirrored voltage to the G- rows), ``out0..out{M-1}`` the settled
sensed-line voltages of one input window (ideal voltage sources to ground), ``vref`` the
reference. Inputs draw no current. Per output j::

    v_ideal = sum_i (V(in_i) - V(vref)) A_ij
    V(out_j) = V(vref) + MacroModel.settled_line_v(v_ideal, n_rows, g_sum_j)

(gain, settling and offset of each output evaluated at its own n_rows and g_sum_j; one read
pulse, so no held plane weights and no memory of a previous plane). A forward core: the
model's forward line parameters (``MacroModel.line``; ``line_backward`` is not used).

with A = MacroModel.line_operator(G+, G-, "forward") baked in as numbers: the closed form
sum (Ge+ - Ge-) / sum (Ge+ + Ge-) on the effective conductances Ge = MacroModel.effective_g_s(G),
with the driven lines' series resistance solved in (MacroModel.drive_resistance_ohm). Every emitted name is checked with
:func:`pycim.validate.ident` and every number with :func:`~pycim.validate.fmt`.
"""

from __future__ import annotations

import numpy as np

from ..cim.closed_form import line_conductance_s
from ..errors import InputError
from ..macro.model import G_REF_S, ROWS_REF, MacroModel
from ..validate import fmt, ident, number

MAX_INPUTS = 128
MAX_OUTPUTS = 256


def core_verilog_a(model: MacroModel, g_pos_s, g_neg_s, module: str = "pycim_core") -> str:
    """Verilog-A text of the core programmed with ``g_pos_s``/``g_neg_s`` (n_in, n_out)."""
    ident(module, "--module")
    gp, gn = np.asarray(g_pos_s, float), np.asarray(g_neg_s, float)
    if gp.shape != gn.shape or gp.ndim != 2:
        raise InputError("G+ and G- must be 2-D arrays of the same shape")
    n_in, n_out = gp.shape
    if n_in > MAX_INPUTS or n_out > MAX_OUTPUTS:
        raise InputError(f"core of {n_in} x {n_out} exceeds {MAX_INPUTS} x {MAX_OUTPUTS}")
    for g in (gp, gn):
        for v in g.ravel():
            number(v, "conductance", lo=0.0, lo_open=True, hi=1.0)
    if np.any(model.polarity_coefs()):
        raise InputError("--verilog-a: this model has per-polarity drive and series "
                         "resistances (dr_*_ohm), which depend on the inputs' signs; the "
                         "behavioural core is one linear operator: fit without "
                         "--polarity-terms for it")
    ln = model.line
    a = model.line_operator(gp, gn, "forward")  # effective G, driven lines' resistance
    g_sum = line_conductance_s(gp, gn, "forward")
    n_rows = 2 * n_in
    off = np.broadcast_to(model.settled_line_v(0.0, n_rows, g_sum), g_sum.shape)
    ins = [ident(f"in{i}", "port") for i in range(n_in)]
    outs = [ident(f"out{j}", "port") for j in range(n_out)]
    lines = [
        "// pycim behavioural core: settled line voltages from the fitted macro-model",
        f"// model: {_comment(model.source)}",
        f"// {n_in} signed inputs x {n_out} outputs, {n_rows} physical rows",
        '`include "disciplines.vams"',
        "",
        f"module {module}({', '.join(ins + outs + ['vref'])});",
        f"    inout {', '.join(ins + outs + ['vref'])};",
        f"    electrical {', '.join(ins + outs + ['vref'])};",
        "    real vi, u, gain;",
        "    analog begin",
    ]
    for j in range(n_out):
        terms = []
        for i in range(n_in):
            c = float(a[i, j])
            if c != 0.0:
                terms.append(f"({_num(c)})*(V({ins[i]}) - V(vref))")
        vi = " + ".join(terms) if terms else "0.0"
        r, g = n_rows / ROWS_REF, float(g_sum[j]) / G_REF_S
        # the line's settling in the read pulse: a constant factor per output
        s = float(np.ravel(model.settle_fraction(n_rows, g_sum[j]))[0])
        g_lin = 1.0 + ln["a0"] + ln["a_rows"] * r + ln["a_g"] * g + ln["a_rg"] * r * g
        lines += [
            f"        vi = {vi};",
            f"        u = vi / {_num(model.v_read_v)};",
            f"        gain = {_num(s)}*({_num(g_lin)} + ({_num(ln['a_cubic'])})*u*u);",
            f"        V({outs[j]}) <+ V(vref) + gain*vi + ({_num(off[j])});",
        ]
    lines += ["    end", "endmodule", ""]
    return "\n".join(lines)


def _num(v: float) -> str:
    """A Verilog-A real literal (always with a decimal point or exponent)."""
    s = fmt(float(v))
    return s if any(ch in s for ch in ".eE") else f"{s}.0"


def _comment(text: str) -> str:
    """One safe comment line: printable ASCII, no line breaks."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in str(text))[:200]


__all__ = ["core_verilog_a"]

"""Sweep kinds whose tables feed ``pycim fit`` (:mod:`pycim.fit`).

``mvm_fit``: transistor-level MVMs (the ``pycim mvm`` SPICE flow) on seeded random problems,
recording everything a compact model needs per vector: the settled line voltage and its closed
form per plane and output, the per-output conductance sum, the output code, the closed form in
code units, and the energy per group. Rows carry a ``record`` column: ``line`` (vector, output,
plane), ``code`` (vector, output), ``energy`` (vector).

``direction = "backward"`` points run the transposed MVM on the same programmed array (the
inputs, n_out of them, drive the source-lines; every bit-line is sensed by its own neuron). Their
``line`` and ``code`` records are per sensed bit-line (``output`` = physical row r, 0..2 n_in - 1,
row 2i holds G+), before the row-pair difference the MVM reports: what each neuron saw and
converted, with the bit-line's own closed form and conductance sum. ``read_pulse_s`` is the
read pulse per plane (default 20 ns: ``read_pulse_s`` in :mod:`pycim.assumptions`),
``adc_full_scale_v`` the ADC's full scale (default the neuron's, ``neuron_adc_fs_v``).

The problem (weights, inputs, programmed conductances) is a pure function of the point
(:func:`problem`), so the fit recomputes the conductances rather than storing n_in x n_out
matrices in the tables.
"""

from __future__ import annotations

import numpy as np

from .. import assumptions
from ..cim.closed_form import (ideal_output, line_conductance_s, neuron_lines_v,
                                pair_difference)
from ..cim.encoding import bit_planes
from ..cim.request import ADC_FS_RANGE_V, READ_PULSE_RANGE_S
from ..specs.neuron import MAX_OUT_BITS
from ..tech.corners import CORNERS
from .params import Param

DIRECTIONS = ("forward", "backward")

PARAMS = {
    "mvm_fit": (
        Param("n_in", "n_in", int, lo=1, hi=128),
        Param("n_out", "n_out", int, lo=1, hi=256),
        Param("in_bits", "in_bits", int, 4, lo=1, hi=8),
        Param("out_bits", "out_bits", int, 6, lo=1, hi=MAX_OUT_BITS),
        Param("w_scale", "w_scale", float, 1.0, lo=0.0, hi=1.0),
        Param("corner", "corner", str, "tt", choices=CORNERS),
        Param("temp_c", "temp_c", float, 27.0, lo=-55, hi=150),
        Param("batch", "batch", int, 2, lo=1, hi=64),
        Param("seeds", "seed", int, 0, lo=0, hi=2**32 - 1),
        Param("direction", "direction", str, "forward", choices=DIRECTIONS),
        Param("read_pulse_s", "read_pulse_s", float, assumptions.value("read_pulse_s"),
              lo=READ_PULSE_RANGE_S[0], hi=READ_PULSE_RANGE_S[1]),  # the MVM's own bounds
        # full cores: the partitioned transient (pycim.flows.partition) and wire R/C segments
        Param("partition", "partition", bool, False),
        Param("wire_segment_cells", "wire_segment_cells", int, 1, lo=1, hi=256),
        # sparse inputs: the share of inputs left nonzero (the active fraction's leverage)
        Param("density", "density", float, 1.0, lo=0.05, hi=1.0),
        # the ADC full scale (V, integrator-referred; the LSB is 2 FS / 2^out_bits): a small
        # one gives a full core's few-code outputs a fine LSB (the neuron's offsets' leverage)
        Param("adc_full_scale_v", "adc_full_scale_v", float,
              assumptions.value("neuron_adc_fs_v"), lo=ADC_FS_RANGE_V[0], hi=ADC_FS_RANGE_V[1]),
        # outputs spread over the code range (spread_problem) instead of uniformly random
        # weights, whose full-core outputs average down to a few codes
        Param("spread", "spread", bool, False),
    ),
}


def spread_problem(n_in: int, n_out: int, in_bits: int, direction: str, seed: int):
    """(w, x) of one vector whose outputs spread over the code range (a uniformly random
    problem on 128 rows averages them down to a few codes: :func:`problem` gives a full core's
    4/6 outputs within +-3 codes).

    Each weight is ``a_o s_d u``: ``s_d`` the sign of its driven line's input (random where the
    input is 0), ``a_o`` its sensed output's scale, spread evenly over +-[0.1, 1] (alternating
    signs, shuffled), ``u`` uniform in [0.25, 0.75] (column conductance sums inside the default
    model's fitted range). Every driven line then pushes its sensed outputs the same way, by an
    amount set by ``a_o``. Forward, outputs are columns and driven lines rows; backward, the
    other way round. Seeded by ``(seed, 9)``, a stream of its own."""
    rng = np.random.default_rng([seed, 9])
    lim = 1 if in_bits == 1 else 2 ** (in_bits - 1) - 1
    n_drive, n_sense = (n_out, n_in) if direction == "backward" else (n_in, n_out)
    x = rng.integers(0 if in_bits == 1 else -lim, lim + 1, (1, n_drive))
    s = np.sign(x[0]).astype(float)
    s[s == 0] = rng.choice([-1.0, 1.0], int((s == 0).sum()))
    a = rng.permutation(np.linspace(0.1, 1.0, n_sense) * np.resize([1.0, -1.0], n_sense))
    u = rng.uniform(0.25, 0.75, (n_in, n_out))
    w = u * (a[None, :] * s[:, None] if direction == "forward" else a[:, None] * s[None, :])
    return w, x


def problem(p: dict):
    """(w, x) of an ``mvm_fit`` point: weights uniform in [-w_scale, w_scale], inputs uniform
    over the signed in_bits range (0/1 for 1 bit); seeded by ``seed``. Backward points
    (``direction``) draw n_out inputs per vector instead of n_in. ``density`` < 1 zeroes each
    input with probability 1 - density (a second seeded stream). ``spread``: the one-vector
    problem of :func:`spread_problem` (weights times ``w_scale``) instead."""
    direction = p.get("direction", "forward")
    if p.get("spread", False):
        if p["batch"] != 1 or float(p.get("density", 1.0)) != 1.0:
            raise ValueError(f"mvm_fit point with spread = true needs batch = 1 and density = 1 "
                             f"(its weights follow its one vector's signs); got batch = "
                             f"{p['batch']}, density = {p.get('density', 1.0)}")
        w, x = spread_problem(p["n_in"], p["n_out"], p["in_bits"], direction, p["seed"])
        return p["w_scale"] * w, x
    rng = np.random.default_rng([p["seed"], 7])
    w = p["w_scale"] * rng.uniform(-1.0, 1.0, (p["n_in"], p["n_out"]))
    lim = 1 if p["in_bits"] == 1 else 2 ** (p["in_bits"] - 1) - 1
    n_drive = p["n_out"] if direction == "backward" else p["n_in"]
    x = rng.integers(0 if p["in_bits"] == 1 else -lim, lim + 1, (p["batch"], n_drive))
    density = float(p.get("density", 1.0))
    if density < 1.0:  # its own stream: a dense point's problem is unchanged
        x = x * (np.random.default_rng([p["seed"], 8]).random(x.shape) < density)
    return w, x


def mvm_fit(p: dict) -> dict:
    from ..cim.request import MvmRequest
    from ..flows.mvm import run_mvm

    w, x = problem(p)
    direction = p.get("direction", "forward")
    outs, lines = [], []
    for b in range(x.shape[0]):  # one run per vector: per-vector energy (array part varies)
        req = MvmRequest(w, x[b:b + 1], in_bits=p["in_bits"], out_bits=p["out_bits"],
                         corner=p["corner"], temp_c=p["temp_c"], seed=p["seed"],
                         direction=direction,
                         read_pulse_s=p.get("read_pulse_s", assumptions.value("read_pulse_s")),
                         partition=p.get("partition", False),
                         wire_segment_cells=p.get("wire_segment_cells", 1),
                         adc_full_scale_v=p.get("adc_full_scale_v"))
        wf: dict = {}
        outs.append(run_mvm(req, progress=False, waveforms=wf))
        # every sensed neuron's own line and code (backward: each bit-line, before the pair
        # difference the MVM reports)
        lines.append(wf["readout"])
    out = outs[0]
    gp, gn = np.asarray(out["g_pos_s"]), np.asarray(out["g_neg_s"])
    g_sum = line_conductance_s(gp, gn, direction)
    vs = np.stack([v for v, _ in lines])  # (batch, planes, sensed lines)
    code = np.stack([c for _, c in lines])  # (batch, sensed lines)
    vi_out = np.concatenate([np.asarray(o["y_ideal_planes_v"]) for o in outs])
    if direction == "forward":  # the MVM's own report is per sensed line already
        vi = vi_out
        y = np.concatenate([np.asarray(o["y_ideal"]) for o in outs])
    else:  # each bit-line's closed form; its row-pair differences are the MVM's report
        vi = neuron_lines_v(gp, gn, bit_planes(x, p["in_bits"]), float(out["v_read_v"]),
                            direction)
        y = ideal_output(vi, p["in_bits"], float(out["lsb"]))
        if not np.allclose(pair_difference(vi, direction), vi_out, rtol=1e-9, atol=1e-12):
            raise RuntimeError("mvm_fit: the bit-lines' closed form does not difference to "
                               "the MVM's y_ideal_planes_v")
    rows = []
    for b in range(vs.shape[0]):
        for j in range(vs.shape[2]):
            for k in range(vs.shape[1]):
                rows.append({"record": "line", "vector": b, "output": j, "plane": k,
                             "v_settled_v": float(vs[b, k, j]), "v_ideal_v": float(vi[b, k, j]),
                             "g_sum_s": float(g_sum[j])})
            rows.append({"record": "code", "vector": b, "output": j, "code": int(code[b, j]),
                         "y_ideal": float(y[b, j]), "g_sum_s": float(g_sum[j])})
        e = outs[b]["energy_j"]
        rows.append({"record": "energy", "vector": b,
                     **{f"e_{k}_j": float(e.get(k, 0.0))
                        for k in ("array", "drivers", "wordlines", "neuron", "total")}})
    code = np.concatenate([np.asarray(o["code"]) for o in outs])  # the MVM's outputs
    y = np.concatenate([np.asarray(o["y_ideal"]) for o in outs])
    err = code - np.floor(y)
    return {"rows": rows, "summary": {
        "rms_err_vs_floor_lsb": float(np.sqrt(np.mean(err ** 2))),
        "mean_err_vs_floor_lsb": float(np.mean(err)),
        "energy_per_mvm_j": float(np.mean([o["energy_j"]["total"] for o in outs])),
        "latency_s": float(out["latency_s"]),
        # the wires and drivers every run of the point had (the assumptions': a fit's
        # provenance, checked by pycim.fit)
        **{k: float(assumptions.value(k)) for k in assumptions.CIRCUIT_PROVENANCE},
        "wall_s": float(sum(o["wall_s"] for o in outs))}}


COMPUTE_FIT = {"mvm_fit": mvm_fit}

"""The individual fits behind ``pycim fit`` (scipy.optimize), each with residuals and range.

Every fit returns a :class:`Fit`: its parameters, the residual RMS and max (in ``unit``) over
the ``n`` data points it saw, and ``ranges`` ({name: [lo, hi]}) of the inputs it was made on.
The sweep kinds that produce the data: ``mvm_fit`` (line, integrator offset, energy; see
:mod:`pycim.characterize.kinds_fit`), ``adc_transfer`` (ADC), ``cell_iv`` (RRAM read
non-linearity), ``ir_drop`` (wire IR drop alone), ``settling`` (line settling time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize

from .. import assumptions
from ..characterize.kinds_fit import problem
from ..errors import InputError
from ..cim.closed_form import (active_fraction, array_activity, line_conductance_s,
                                neuron_lines_v, pair_difference)
from ..cim.encoding import bit_planes, line_planes
from ..cim.programming import program
from ..macro.model import CELLS_REF, POLARITY_LINE_TERMS, ROWS_REF, MacroModel
from ..cim.mapping import interleave_rows


@dataclass
class Fit:
    name: str
    params: dict
    rms: float
    max: float
    n: int
    unit: str
    ranges: dict = field(default_factory=dict)
    note: str = ""
    #: residuals per MVM direction ({"forward": {"rms", "max", "n"}, ...}) where both occur
    by_direction: dict = field(default_factory=dict)

    def report(self) -> dict:
        out = {"params": self.params, "rms": self.rms, "max": self.max, "n": self.n,
               "unit": self.unit, "ranges": self.ranges, "note": self.note}
        if self.by_direction:
            out["by_direction"] = self.by_direction
        return out


def _rng(a) -> list[float]:
    a = np.asarray(a, dtype=float)
    return [float(np.min(a)), float(np.max(a))]


def _stats(res) -> tuple[float, float]:
    r = np.asarray(res, dtype=float)
    return float(np.sqrt(np.mean(r ** 2))), float(np.max(np.abs(r)))


# -- MVM data, regrouped per point ------------------------------------------------------------
POINT_KEYS = ("n_in", "n_out", "in_bits", "out_bits", "w_scale", "corner", "temp_c", "batch",
              "seed", "direction", "read_pulse_s", "density", "adc_full_scale_v", "spread")
#: values of point keys a table from before they existed does not have
POINT_DEFAULTS = {"direction": "forward", "read_pulse_s": assumptions.value("read_pulse_s"),
                  "density": 1.0, "adc_full_scale_v": assumptions.value("neuron_adc_fs_v"),
                  "spread": False}

#: the columns each table pycim fit reads must have (point keys with a default above may be
#: missing: tables from before they existed)
FIT_COLUMNS = {
    "mvm_fit": (*(k for k in POINT_KEYS if k not in POINT_DEFAULTS), "record", "vector",
                "output", "plane", "v_settled_v", "v_ideal_v", "code", "y_ideal",
                *(f"e_{g}_j" for g in ("array", "drivers", "wordlines", "neuron", "total"))),
    "adc_transfer": ("out_bits", "v_int_v", "code"),
    "cell_iv": ("gap_nm", "v_v", "i_a"),
    "ir_drop": ("rows", "seed", "err_frac_vread"),
    "settling": ("rows", "g_cell_us", "c_sense_f", "tol", "t_settle_s"),
}


def _by_direction(res, dirs) -> dict:
    """{direction: {"rms", "max", "n"}} of residuals ``res`` labelled ``dirs``, when the data
    hold both directions (else empty)."""
    res, dirs = np.asarray(res, dtype=float), np.asarray(dirs)
    if np.unique(dirs).size < 2:
        return {}
    out = {}
    for d in ("forward", "backward"):
        r = res[dirs == d]
        rms, mx = _stats(r)
        out[d] = {"rms": rms, "max": mx, "n": int(r.size)}
    return out


@dataclass
class MvmPoint:
    """One ``mvm_fit`` point: its parameters, programmed conductances, planes and records,
    per sensed line (forward: the n_out source-lines; backward: the 2 n_in bit-lines)."""

    p: dict
    g_pos: np.ndarray
    g_neg: np.ndarray
    planes: np.ndarray  # (batch, planes, n_drive)
    v_settled: np.ndarray  # (batch, planes, n_sense)
    v_ideal: np.ndarray  # (batch, planes, n_sense)
    code: np.ndarray  # (batch, n_sense)
    y_ideal: np.ndarray  # (batch, n_sense)
    energy: pd.DataFrame  # one row per vector
    _ops: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def direction(self) -> str:
        return self.p["direction"]

    @property
    def n_rows(self) -> int:
        """Driven lines: the cells on each sensed line (forward 2 n_in, backward n_out)."""
        return 2 * self.p["n_in"] if self.direction == "forward" else self.p["n_out"]

    @property
    def n_drive_cells(self) -> int:
        """Cells on each driven line (forward n_out, backward 2 n_in)."""
        return self.p["n_out"] if self.direction == "forward" else 2 * self.p["n_in"]

    @property
    def g_sum(self) -> np.ndarray:
        """Programmed conductance on each sensed line."""
        return line_conductance_s(self.g_pos, self.g_neg, self.direction)

    def model(self, m: MacroModel) -> MacroModel:
        """``m`` for this point: its direction's line parameters, its read pulse, its ADC
        full scale (points from before the sweep recorded one: the neuron's default, which
        they ran with, :data:`POINT_DEFAULTS`)."""
        m = m.with_read_pulse(self.p["read_pulse_s"]).for_direction(self.direction)
        fs = self.p.get("adc_full_scale_v", m.adc_fs_v)
        return m if fs == m.adc_fs_v else m.with_(adc_fs_v=fs)

    def v_eff_planes(self, model: MacroModel) -> np.ndarray:
        """Closed form per plane and sensed line on ``model``'s effective conductances
        (``model``: already :meth:`model` of this point)."""
        ln = model.line  # the operator depends on these three only: kept per point, since a
        # fit's Jacobian varies one term at a time (a full core's solve is 256 x 256)
        key = (ln.get("r_series_ohm", 0.0), ln.get("r_drive_ohm", 0.0),
               ln.get("r_drive_cell_ohm", 0.0))
        op = self._ops.get(key)
        if op is None:
            if len(self._ops) > 64:
                self._ops = {k: v for k, v in self._ops.items() if k == "_wire"}
            op = self._ops[key] = model.lumped_operator(self.g_pos, self.g_neg, self.direction)
        v = self.planes @ op
        k = float(ln.get("wire_scale", 0.0))
        if k:
            v = v + k * self.wire_term(model)
        coefs = model.polarity_coefs()
        if np.any(coefs):  # the per-polarity departures: linear in them, kept per reference
            basis = self._ops.get(("_polarity", *key))
            if basis is None:
                basis = self._ops[("_polarity", *key)] = model.polarity_system(
                    self.g_pos, self.g_neg, self.direction).basis(self.planes)
            v = v + np.tensordot(coefs, basis, axes=1)
        return self.v_read * v

    def wire_term(self, model: MacroModel, refresh: bool = False) -> np.ndarray:
        """The wires' share of the planes' lines per unit read (batch, planes, sensed), as
        :meth:`MacroModel.plane_lines` adds it, frozen at the first ``model`` it is asked for
        (or again with ``refresh``): it moves by microvolts over a fit's steps in the drive
        and series resistances, and costs a second per full core."""
        if refresh or "_wire" not in self._ops:
            self._ops["_wire"] = model.wire_lines(self.g_pos, self.g_neg, self.planes,
                                                  self.direction)
        return self._ops["_wire"]

    @property
    def act(self) -> np.ndarray:
        """Stacked active fractions (2, batch, planes, sensed lines) (:func:`active_fraction`)."""
        return active_fraction(self.g_pos, self.g_neg, self.planes, self.direction)

    def summed(self, model: MacroModel) -> tuple[np.ndarray, np.ndarray]:
        """(v, act) summed over the planes with ``model``'s per-line plane weights, what
        :meth:`MacroModel.line_transfer` takes (``model``: :meth:`model` of this point)."""
        w = model.plane_line_weights(self.p["in_bits"], self.n_rows, self.g_sum)
        return (np.einsum("bpn,pn->bn", self.v_eff_planes(model), w),
                np.einsum("kbpn,pn->kbn", self.act, w))

    @property
    def v_read(self) -> float:
        return assumptions.value("v_read_v")



def _check_index(p: dict, g: pd.DataFrame, size: dict[str, int]) -> None:
    """Refuse (InputError) a row of point ``p`` whose ``vector`` / ``output`` / ``plane`` lies
    outside the point's batch, outputs (n_out forward, 2 n_in backward) or input planes."""
    for col, n in size.items():
        rows = g[g["record"].isin(("line",) if col == "plane" else ("line", "code"))
                 if col != "vector" else g["record"].notna()]
        v = rows[col].to_numpy(float)
        bad = (v < 0) | (v >= n)
        if bad.any():
            raise InputError(f"mvm_fit point n_in={p['n_in']} n_out={p['n_out']} "
                             f"seed={p['seed']} {p['direction']}: column {col!r} holds "
                             f"{v[bad][0]:g}, outside 0..{n - 1} for this point")


def mvm_points(df: pd.DataFrame) -> list[MvmPoint]:
    """Regroup an ``mvm_fit`` table per point and recompute its conductances (checked against
    the recorded closed form: the tables and :func:`problem` must agree)."""
    out = []
    df = df.assign(**{k: df[k].fillna(v) if k in df.columns else v
                      for k, v in POINT_DEFAULTS.items()})
    for key, g in df.groupby(list(POINT_KEYS), sort=False):
        p = dict(zip(POINT_KEYS, key))
        p = {k: (int(v) if k in ("n_in", "n_out", "in_bits", "out_bits", "batch", "seed")
                 else v) for k, v in p.items()}
        for k in ("temp_c", "w_scale", "read_pulse_s", "density", "adc_full_scale_v"):
            p[k] = float(p[k])
        p["spread"] = bool(p["spread"])
        if p["direction"] not in ("forward", "backward"):
            raise InputError(f"mvm_fit point {p}: unknown direction {p['direction']!r}")
        w, x = problem(p)
        prog = program(w, p["seed"])
        planes = bit_planes(x, p["in_bits"])
        nb, npl = p["batch"], planes.shape[1]
        no = p["n_out"] if p["direction"] == "forward" else 2 * p["n_in"]
        ln = g[g["record"] == "line"]
        vs = np.full((nb, npl, no), np.nan)
        vi = np.full((nb, npl, no), np.nan)
        _check_index(p, g, {"vector": nb, "output": no, "plane": npl})
        b, j, k = (ln[c].to_numpy().astype(int) for c in ("vector", "output", "plane"))
        vs[b, k, j] = ln["v_settled_v"].to_numpy()
        vi[b, k, j] = ln["v_ideal_v"].to_numpy()
        cd = g[g["record"] == "code"]
        code = np.full((nb, no), np.nan)
        yi = np.full((nb, no), np.nan)
        b, j = (cd[c].to_numpy().astype(int) for c in ("vector", "output"))
        code[b, j] = cd["code"].to_numpy()
        yi[b, j] = cd["y_ideal"].to_numpy()
        v_chk = neuron_lines_v(prog.g_pos_s, prog.g_neg_s, planes,
                               assumptions.value("v_read_v"), p["direction"])
        if np.any(np.isnan(vs)) or np.any(np.isnan(code)) or \
                not np.allclose(v_chk, vi, rtol=1e-9, atol=1e-12):
            raise InputError(f"mvm_fit point {p}: the table does not match its recomputed problem "
                             f"(results from another pycim version?)")
        out.append(MvmPoint(p, prog.g_pos_s, prog.g_neg_s, planes, vs, vi, code, yi,
                            g[g["record"] == "energy"].sort_values("vector")))
    if not out:
        raise InputError("no mvm_fit points in the results")
    return out


# -- line transfer --------------------------------------------------------------------------
LINE_TERMS = ("r_series_ohm", "c_settle_f", "c_settle_row_f", "k_mem", "a0", "a_rows", "a_g",
              "a_rg", "a_cubic", "b_line_v", "b_g_v", "b_ig_v", "b_kick_v", "b_act_v",
              "b_load_v", "b_act_line_v", "r_drive_ohm", "r_drive_cell_ohm",
              *POLARITY_LINE_TERMS)
#: least_squares works on O(1) unknowns: kOhm and mV
_SCALE = {"r_series_ohm": 1e3, "r_drive_ohm": 1e2, "b_line_v": 1e-3, "b_g_v": 1e-3,
          "dr_drive_pos_ohm": 1e2, "dr_drive_neg_ohm": 1e2, "dr_series_pos_ohm": 1e3,
          "dr_series_neg_ohm": 1e3,
          "b_ig_v": 1e-3, "b_kick_v": 1e-3,
          "b_act_v": 1e-3, "b_load_v": 1e-3, "b_act_line_v": 1e-3,
          "c_settle_f": 1e-13, "c_settle_row_f": 1e-15}


#: The line terms fitted per direction (:attr:`MacroModel.line_backward`): all of the line
#: transfer, because the sensed line and its drive differ. Forward, a source-line carries the
#: access FETs (drain junctions, gate overlap to the word lines) and each FET's source sits
#: on that floating line near Vref whatever the input; backward, a bit-line carries only the
#: RRAM ends, and the FETs sit on the driven source-lines, their source at Vref - Vread for a
#: negative input and at the cell's inner node (near Vref + Vread) for a positive one, so
#: their on-resistance depends on the input's sign. Fitted on characterization/fit.toml
#: (``pycim fit``; numbers in the model's ``fits``): the series resistance, the line's
#: capacitance per cell and the memory differ between the two lines (README, "Fitting").
#: ``b_kick_v`` (the held line's unrelaxed kick) is fitted where the data hold two read
#: pulses, ``b_act_v`` and ``b_load_v`` (the active-fraction offsets: the share of a line's
#: conductance driven away from Vref, plain and weighted by the driven lines' load,
#: :func:`pycim.cim.closed_form.active_fraction`; forward in its mean-field form) in both
#: directions; characterization/fit_sparse.toml's sparse inputs give them their leverage;
#: ``b_act_line_v`` (a forward line's own active share against the array's, scaled by the
#: driven rows) forward only, where the mean field leaves it out.
#: ``r_drive_ohm`` and ``r_drive_cell_ohm`` (the driven lines' series resistance,
#: :meth:`MacroModel.line_operator`) are fitted per direction too: a forward drive is a
#: row's driver, a backward one a source-line's. The neuron's terms (``b0_v``,
#: :func:`fit_offset`, and the ADC) are shared.
BACKWARD_LINE_TERMS = LINE_TERMS


def _line_terms(points: list[MvmPoint], kick: bool = False, act: bool = False,
                polarity: bool = False) -> list[str]:
    """The line terms whose regressors vary over ``points`` (``b_kick_v`` if ``kick``,
    ``b_act_v`` and ``b_load_v`` if ``act``, and ``b_act_line_v`` for forward points; the
    per-polarity departures :data:`POLARITY_LINE_TERMS` if ``polarity``)."""
    rows = {pt.n_rows for pt in points}
    free = ["r_series_ohm", "r_drive_ohm", "c_settle_f", "a0", "a_g", "a_cubic", "b_line_v",
            "b_g_v", "b_ig_v"]
    if any(pt.planes.shape[1] > 1 for pt in points):
        free.insert(2, "k_mem")
    if len(rows) > 1:
        free.insert(2, "c_settle_row_f")
        free.insert(4, "a_rows")
    if len(rows) > 2:
        free.insert(6, "a_rg")
    if len({pt.n_drive_cells for pt in points}) > 1:
        free.insert(2, "r_drive_cell_ohm")
    if kick:
        free.append("b_kick_v")
    if act:
        free += ["b_act_v", "b_load_v"]
        if any(pt.direction == "forward" for pt in points):  # 0 backward: per line already
            free.append("b_act_line_v")
    if polarity:
        free += list(POLARITY_LINE_TERMS)
    return free


def check_drop_terms(names) -> tuple[str, ...]:
    """``names`` as a tuple of line terms (:data:`LINE_TERMS`) a fit may hold at 0 (``pycim
    fit --drop-term``); InputError names an unknown one. The terms every model needs (the
    series resistance and the settling capacitance) cannot be dropped."""
    names = tuple(names)
    for k in names:
        if not isinstance(k, str) or k not in LINE_TERMS:
            raise InputError(f"--drop-term: unknown line term {k!r} (one of "
                             f"{', '.join(LINE_TERMS)})")
        if k in ("r_series_ohm", "c_settle_f"):
            raise InputError(f"--drop-term: {k} cannot be dropped (the line transfer needs it)")
    return tuple(dict.fromkeys(names))


def check_size_weight_exp(value) -> float:
    """``value`` as :func:`fit_line`'s ``size_weight_exp`` (``pycim fit --line-size-weight``):
    a number in [0, 1]; InputError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InputError(f"line fit: size_weight_exp (--line-size-weight) must be a number in "
                         f"[0, 1], got {value!r}")
    return float(value)


#: line terms :func:`fit_line` drops (refits at 0) when they explain less than
#: ``IDLE_TERM_REL`` of the weighted RMS residual
IDLE_TERMS = ("a_cubic",)
IDLE_TERM_REL = 0.005

#: the directions whose lines get the active-fraction offsets (BACKWARD_LINE_TERMS' note)
ACT_DIRECTIONS = ("forward", "backward")


def _refresh_wires(points: list[MvmPoint], m: MacroModel) -> None:
    """Every point's frozen wire term (:meth:`MvmPoint.wire_term`) again on ``m``."""
    for pt in points:
        pt.wire_term(pt.model(m), refresh=True)


def fit_line(points: list[MvmPoint], base: MacroModel,
             backward_terms: tuple[str, ...] = BACKWARD_LINE_TERMS,
             act_directions: tuple[str, ...] = ACT_DIRECTIONS,
             drop_terms: tuple[str, ...] = (),
             size_weight_exp: float = 0.0, polarity: bool = False) -> Fit:
    """Settled line voltage per plane against the closed form: effective conductance
    G / (1 + G r_series), the line's settling in the read pulse (capacitance c_settle +
    c_settle_row rows), the gain terms and an offset (module docstring of
    :mod:`pycim.macro.model`). Terms whose regressor does not vary in the data stay 0.

    Backward points (bit-lines sensed) share every term but ``backward_terms``
    (:data:`BACKWARD_LINE_TERMS`), which are fitted on them alone as overrides
    (``params["line_backward"]``); without backward points the fit is forward-only.
    ``act_directions``: the directions fitted with ``b_act_v`` and ``b_load_v``.
    ``drop_terms``: line terms held at 0 in both directions (:func:`check_drop_terms`).
    ``size_weight_exp``: each point's residuals weigh (median size / its size) ** it; 0 (the
    default) weighs every settled line of every plane alike, 0.5 every point about alike.
    ``polarity``: also fit the driven lines' per-polarity departures of their drive and
    series resistances (:data:`POLARITY_LINE_TERMS`, per direction,
    :class:`pycim.cim.polarity.PolaritySystem`); off: they stay 0.

    Until the twentieth round the fit used 0.5, so that a full core's 256 lines x planes did
    not outvote the small arrays in the terms they share. With the 100 um driver pFETs the
    small backward arrays scatter 2-3 mV per plane about any fitted model
    (``benchmarks/line_residuals.py``) and 0.5 let that scatter pull the terms the full
    cores need: on the fit's own data (``pycim fit`` of the five sweeps, ``--line-size-weight
    E``) the code RMS is
    0.266 LSB at 0.5, 0.249 at 0.25, 0.245 at 0 (backward bit-lines 0.320 / 0.294 / 0.287),
    forward lines 0.22 mV at all three; 0 is chosen on that, the fit's own code RMS. On the
    held-out full cores (``benchmarks/full_core_held_out.py eval``) the backward 6/8 core's
    high and low phases read 0.59 / 0.15 LSB at 0.5, 0.48 / 0.18 at 0.25 and 0.41 / 0.23 at
    0; forward 6/8 0.19 / 0.13, 0.17 / 0.13 and 0.19 / 0.13."""
    size_weight_exp = check_size_weight_exp(size_weight_exp)
    fwd = [pt for pt in points if pt.direction == "forward"]
    bwd = [pt for pt in points if pt.direction == "backward"]
    if not fwd:
        raise InputError("line fit: no forward mvm_fit points")
    rows = np.concatenate([np.full(pt.v_settled.size, pt.n_rows) for pt in points])
    gsum = np.concatenate([np.broadcast_to(pt.g_sum, pt.v_settled.shape).ravel()
                           for pt in points])
    dirs = np.concatenate([np.full(pt.v_settled.size, pt.direction) for pt in points])
    bterms = tuple(backward_terms) if bwd else ()
    unknown = set(bterms) - set(LINE_TERMS)
    if unknown:
        raise InputError(f"line fit: unknown backward terms {sorted(unknown)}")
    def kick(pts):  # a kick's relaxation is told from a constant offset by the read pulse
        return len({pt.p["read_pulse_s"] for pt in pts}) > 1

    act_f, act_b = "forward" in act_directions, "backward" in act_directions
    drop = set(check_drop_terms(drop_terms))
    shared = [k for k in _line_terms(points, kick(points), act_f and act_b, polarity)
              if k not in bterms and k not in drop]
    own_f = [k for k in _line_terms(fwd, kick(fwd), act_f, polarity)
             if k in bterms and k not in drop]
    own_b = ([k for k in _line_terms(bwd, kick(bwd), act_b, polarity)
              if k in bterms and k not in drop] if bwd else [])
    names = [*shared, *own_f, *[f"{k}@backward" for k in own_b]]
    target = np.concatenate([pt.v_settled.ravel() for pt in points])

    def model_of(x):
        val = {k: v * _SCALE.get(k.split("@")[0], 1.0) for k, v in zip(names, x)}
        ln = {**base.line, **{k: v for k, v in val.items() if "@" not in k}}
        lb = {k.split("@")[0]: v for k, v in val.items() if "@" in k}
        lb.update({k: 0.0 for k in bterms if k not in lb})  # not in the backward data: 0
        return base.with_(line=ln, line_backward=lb)

    # each point's residuals weighted by (median size / its size) ** size_weight_exp
    # (LINE_SIZE_WEIGHT_EXP: 0, every settled line of every plane alike)
    sizes = np.array([pt.v_settled.size for pt in points], dtype=float)
    wts = np.concatenate([np.full(pt.v_settled.size,
                                  (np.median(sizes) / pt.v_settled.size) ** size_weight_exp)
                          for pt in points])

    def resid(x, weighted=True):
        m = model_of(x)
        v = []
        for pt in points:
            mm = pt.model(m)
            v.append(mm.held_line_v(pt.v_eff_planes(mm), pt.n_rows, pt.g_sum, pt.act).ravel())
        r = (np.concatenate(v) - target) * 1e3  # mV
        return r * wts if weighted else r

    x0 = np.zeros(len(names))
    lo = np.full(len(names), -np.inf)
    for i, k in enumerate(names):
        k0 = k.split("@")[0]
        x0[i] = {"r_series_ohm": 1.0, "c_settle_f": 1.0}.get(k0, 0.0)  # 1 kOhm, 100 fF
        if k0 in ("r_series_ohm", "r_drive_ohm", "r_drive_cell_ohm", "c_settle_f",
                  "c_settle_row_f", "k_mem"):  # physical: >= 0
            lo[i] = 0.0
    sol = optimize.least_squares(resid, x0, bounds=(lo, np.inf))
    if base.line.get("wire_scale", 0.0):  # the wires' term again at the fitted resistances
        _refresh_wires(points, model_of(sol.x))
        sol = optimize.least_squares(resid, sol.x, bounds=(lo, np.inf))
        # (and once more at the end, for the model's own resistances: below)
    x = sol.x
    # a term kept only where it explains the data: the cubic gain term (a_cubic, each
    # direction's) is refitted at 0, and dropped when that raises the weighted residual by
    # less than IDLE_TERM_REL (on the committed sweeps: +0.04 %; it then only costs the Core's
    # fast path four elementwise passes per call)
    idle = [i for i, k in enumerate(names) if k.split("@")[0] in IDLE_TERMS]
    if idle:
        keep = [i for i in range(len(names)) if i not in idle]

        def resid_wo(xk, weighted=True):
            full = np.zeros(len(names))
            full[keep] = xk
            return resid(full, weighted)

        sol_wo = optimize.least_squares(resid_wo, x0[keep], bounds=(lo[keep], np.inf))
        if sol_wo.cost <= sol.cost * (1.0 + IDLE_TERM_REL) ** 2:  # costs: half the squares
            x = np.zeros(len(names))
            x[keep] = sol_wo.x
    m = model_of(x)
    if base.line.get("wire_scale", 0.0):  # the wires' term at the model's own resistances
        _refresh_wires(points, m)
    r = resid(x, False) * 1e-3
    rms, mx = _stats(r)
    r0 = resid(np.zeros(len(names)), False) * 1e-3
    rms0, _ = _stats(r0)
    v_id = np.concatenate([pt.v_ideal.ravel() for pt in points])
    params = {k: float(m.line[k]) for k in LINE_TERMS}
    if bwd:
        params["line_backward"] = {k: float(v) for k, v in m.line_backward.items()}
    by0 = _by_direction(r0, dirs)
    before = ", ".join(f"{d} {v['rms'] * 1e3:.3g}" for d, v in by0.items())
    return Fit("line", params, rms, mx, int(target.size), "V",
               {"n_rows": _rng(rows), "g_sum_s": _rng(gsum),
                "v_window_v": _rng(v_id)},
               note=f"settled line vs closed form: rms {rms0 * 1e3:.3g} mV before the fit"
                    + (f" ({before})" if before else ""),
               by_direction=_by_direction(r, dirs))


# -- ADC -------------------------------------------------------------------------------------
def fit_adc(df: pd.DataFrame | None) -> Fit:
    """ADC alone (``adc_transfer``): code + 1/2 = gain * v_int / lsb + offset on the codes
    not clipped; residuals are the code errors of floor(gain y + offset) against the data."""
    from ..specs.neuron import NeuronSpec

    if df is None or df.empty:
        return Fit("adc", {"gain": 1.0, "offset_lsb": 0.0}, float("nan"), float("nan"), 0,
                   "LSB", note="no adc_transfer data: ideal ADC")
    spec = NeuronSpec()
    ys, cs, bits_all = [], [], []
    for bits, g in df.groupby("out_bits"):
        y = g["v_int_v"].to_numpy() / spec.lsb_v(int(bits))
        c = g["code"].to_numpy().astype(float)
        keep = (c > -(2 ** (bits - 1))) & (c < 2 ** (bits - 1) - 1)
        ys.append(y[keep]), cs.append(c[keep]), bits_all.append(np.full(keep.sum(), bits))
    y, c, bits = np.concatenate(ys), np.concatenate(cs), np.concatenate(bits_all)
    sol = optimize.least_squares(lambda p: c + 0.5 - (p[0] * y + p[1]), [1.0, 0.0])
    gain, off = (float(v) for v in sol.x)
    err = c - np.floor(gain * y + off)
    rms, mx = _stats(err)
    err0 = c - np.floor(y)
    return Fit("adc", {"gain": gain, "offset_lsb": off}, rms, mx, int(c.size), "LSB",
               {"adc_out_bits": _rng(bits)},
               note=f"code error vs floor(y): rms {_stats(err0)[0]:.3g} before, noise not "
                    f"simulated (transient noise off): noise_lsb = 0")


# -- integrator offset (codes) ----------------------------------------------------------------
def _codes(m: MacroModel, points: list[MvmPoint]):
    out_c, out_m = [], []
    for pt in points:
        mm = pt.model(m)
        v, act = pt.summed(mm)
        vl = mm.line_transfer(v, pt.p["in_bits"], pt.n_rows, pt.g_sum, act,
                              n_cells=pt.n_drive_cells)
        out_m.append(mm.output_codes(vl / mm.lsb_v(pt.p["out_bits"]),
                                     pt.p["out_bits"]).ravel())
        out_c.append(pt.code.ravel())
    return np.concatenate(out_c), np.concatenate(out_m)


#: the MVM direction whose codes identify the neuron's per-sample offset b0
B0_DIRECTION = "forward"


#: the hold pedestal is fitted only when the largest forward array has at least this many
#: cells on its sensed times driven lines, as a fraction of a full core's (a 64 x 128 array)
PEDESTAL_MIN_CELLS = 1 / 8


def _with_offsets(m: MacroModel, b0: float, hold_f: float, hold_b: float | None) -> MacroModel:
    """``m`` with the per-sample offset ``b0`` and the hold pedestal ``b_hold_v`` forward and
    backward (``hold_b`` None: the backward line inherits the forward one, as without
    backward data)."""
    lb = dict(m.line_backward)
    if hold_b is not None:
        lb["b_hold_v"] = float(hold_b)
    return m.with_(line={**m.line, "b0_v": float(b0), "b_hold_v": float(hold_f)},
                   line_backward=lb)


def fit_offset(points: list[MvmPoint], m: MacroModel) -> Fit:
    """The offsets the codes show beyond the settled lines, with the line and ADC fits fixed:
    the per-sample offset ``b0`` (the neuron's, the same in both directions; it counts the N
    samples) and the hold pedestal ``b_hold_v`` per direction (what C_hold takes on as the
    track switch opens, scaling with the array's cells and held like the signal:
    :meth:`MacroModel.hold_pedestal_v`). Least squares on code + 1/2 against the model's
    analog value over the unclipped codes (each point weighs as one), in two steps: ``b0`` and
    the forward pedestal on the forward codes (:data:`B0_DIRECTION`: the forward line model
    is the more accurate one; the small arrays, whose pedestal is ~ cells / 256^2 ~ 0, tell
    ``b0`` from the full cores' pedestal), ``b0`` then scanned (scipy.optimize.brute) for the
    least forward code RMS (the code error is piecewise constant); then the backward pedestal
    on the backward bit-lines' own codes with ``b0`` fixed (a row pair's output would cancel
    a common pedestal). The pedestals are checked against their direct measurement on the
    array stage's hold nodes (``tests/test_fit.py``, ``benchmarks/hold_pedestal.py``).

    Residuals are reported over every point (and per direction)."""
    all_points = points
    fwd = [pt for pt in points if pt.direction == B0_DIRECTION] or points
    bwd = [pt for pt in points if pt.direction != B0_DIRECTION] if fwd is not points else []
    has_b = bool(bwd)

    def analog(mm_all, pts):
        ys = []
        for pt in pts:
            mm = pt.model(mm_all)
            v, act = pt.summed(mm)
            vl = mm.line_transfer(v, pt.p["in_bits"], pt.n_rows, pt.g_sum, act,
                                  n_cells=pt.n_drive_cells)
            ys.append((mm.adc["gain"] * vl / mm.lsb_v(pt.p["out_bits"])
                       + mm.adc["offset_lsb"]).ravel())
        return np.concatenate(ys)

    def least_squares(pts, offsets, x0):
        """Least squares of code + 1/2 against the analog value over the unclipped codes of
        ``pts`` (each point weighs as one) in the offsets ``offsets(x)`` (x in mV)."""
        c = np.concatenate([pt.code.ravel() for pt in pts])
        lim = 2.0 ** (np.concatenate([np.full(pt.code.size, pt.p["out_bits"])
                                      for pt in pts]) - 1)
        keep = (c > -lim) & (c < lim - 1)
        w = np.concatenate([np.full(pt.code.size, 1.0 / np.sqrt(pt.code.size)) for pt in pts])
        sol = optimize.least_squares(
            lambda x: ((c + 0.5 - analog(offsets(x * 1e-3), pts)) * w)[keep], x0)
        return sol.x * 1e-3

    # b0 and the forward pedestal on the forward codes (b0 is the neuron's: the forward line
    # model, the more accurate one, identifies it, as before), then the backward pedestal on
    # the backward bit-lines' codes with b0 fixed (a pair's outputs cancel a common pedestal)
    # the pedestal scales with cells on the sensed and driven lines (/ CELLS_REF): on small
    # arrays alone it moves no code and is left at 0 rather than fitted to rounding
    cells_f = max(pt.n_rows * pt.n_drive_cells for pt in fwd) / CELLS_REF
    fit_pedestal = cells_f >= PEDESTAL_MIN_CELLS
    if fit_pedestal:
        b_ls, hold_f = (float(v) for v in least_squares(
            fwd, lambda x: _with_offsets(m, x[0], x[1], None), [0.0, 0.0]))
    else:
        b_ls, hold_f = float(least_squares(fwd, lambda x: _with_offsets(m, x[0], 0.0, None),
                                           [0.0])[0]), 0.0
    lsb_w = m.lsb_v(6) / 7  # a 6-bit LSB spread over 7 samples: the scan's half-width

    points = fwd
    cw = np.concatenate([np.full(pt.code.size, 1.0 / pt.code.size) for pt in points])

    def code_rms(b0_v, hold_v):  # each point's codes weigh as one point
        c, cm = _codes(_with_offsets(m, b0_v, hold_v, None), points)
        return float(np.sqrt(np.sum(cw * (c - cm) ** 2) / np.sum(cw)))

    def scan(f, lo, hi, centre):
        _, _, grid, j_out = optimize.brute(lambda p: f(float(p[0])), [(lo, hi)], Ns=41,
                                           finish=None, full_output=True)
        # the code RMS is flat over intervals of offsets: take the middle of the minimal run
        # nearest ``centre`` (robust against landing on a plateau's edge)
        best = np.isclose(j_out, j_out.min(), rtol=0, atol=1e-12)
        k = int(np.argmin(np.where(best, np.abs(grid - centre), np.inf)))
        lo_k, hi_k = k, k
        while lo_k > 0 and best[lo_k - 1]:
            lo_k -= 1
        while hi_k < best.size - 1 and best[hi_k + 1]:
            hi_k += 1
        step = grid[1] - grid[0]
        return float(0.5 * (grid[lo_k] + grid[hi_k])), grid[lo_k] - step, grid[hi_k] + step

    def scan_b0(hold_v, centre):  # b0 over the scan's half-width, then finer over the best run
        _, lo, hi = scan(lambda b: code_rms(b, hold_v), centre - lsb_w, centre + lsb_w, centre)
        return scan(lambda b: code_rms(b, hold_v), lo, hi, centre)[0]

    b0 = scan_b0(hold_f, b_ls)
    if fit_pedestal and code_rms(b0, hold_f) > 0:
        # the least-squares pedestal comes from quantised codes; where the pedestal is small
        # against an LSB it is poorly determined and b0 alone cannot absorb its error. One
        # round of coordinate descent: the pedestal scanned over the span that moves the
        # largest forward array by the b0 scan's half-width, then b0 again
        span = lsb_w / cells_f
        _, lo, hi = scan(lambda h: code_rms(b0, h), hold_f - span, hold_f + span, hold_f)
        hold_f = scan(lambda h: code_rms(b0, h), lo, hi, hold_f)[0]
        b0 = scan_b0(hold_f, b0)
    hold_b = None
    if has_b:
        hold_b = float(least_squares(bwd, lambda x: _with_offsets(m, b0, hold_f, x[0]),
                                     [0.0])[0])
    points = all_points
    bits = np.concatenate([np.full(pt.code.size, pt.p["out_bits"]) for pt in points])
    mm = _with_offsets(m, b0, hold_f, hold_b)
    c, cm = _codes(mm, points)
    rms, mx = _stats(c - cm)
    c0, cm0 = _codes(_with_offsets(m, 0.0, 0.0, 0.0 if has_b else None), points)
    dirs = np.concatenate([np.full(pt.code.size, pt.direction) for pt in points])
    by_dir = _by_direction(cm - c, dirs)
    if by_dir:  # a backward MVM's outputs: the row pairs' code differences
        e, k = [], 0
        for pt in points:
            d = (cm - c)[k:k + pt.code.size].reshape(pt.code.shape)
            k += pt.code.size
            if pt.direction == "backward":
                e.append(pair_difference(d, "backward").ravel())
        if e:
            r_o, m_o = _stats(np.concatenate(e))
            by_dir["backward_outputs"] = {"rms": r_o, "max": m_o,
                                          "n": int(sum(x.size for x in e))}
    params = {"b0_v": b0, "b0_least_squares_v": b_ls, "b_hold_v": hold_f}
    if has_b:
        params["line_backward"] = {"b_hold_v": hold_b}
    return Fit("codes", params, rms, mx, int(c.size), "LSB",
               {"in_bits": _rng([pt.p["in_bits"] for pt in points]),
                "out_bits": _rng(bits)}, by_direction=by_dir,
               note=f"MVM codes vs model (training): rms {_stats(c0 - cm0)[0]:.3g} LSB with the "
                    f"held line's offset only (b0 = 0, no hold pedestal); mean "
                    f"{np.mean(c - cm):+.3g} LSB after")


# -- energy ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnergyRow:
    """One measured MVM for the energy fit.

    in_bits, out_bits : the MVM's widths; n_rows : driven physical lines (also the word-lines
    pulsed); n_cols : sensed lines (neurons); g_total_s : total conductance of the array cells;
    activity : mean over the read pulses of (V_row - V_line)^2 / v_read^2 per conducting cell
    (None: the model's ``activity_default``); energy_j : the measured joules per group and
    ``total``.
    """

    in_bits: int
    out_bits: int
    n_rows: int
    n_cols: int
    g_total_s: float
    energy_j: dict
    activity: float | None = None
    phases: int = 1  # 2: a two-phase MVM, the sum of its slices (MacroModel.energy_j)
    n_wl: int | None = None  # word lines pulsed (None: n_rows, a forward MVM's)
    read_pulse_s: float | None = None  # the read pulse per plane (None: the model's)
    direction: str = "forward"  # reported only (residuals per direction)


#: a tie a caller may pass to :func:`fit_energy_rows` when its sweep is square (rows and
#: columns collinear): a sensed line's hold switch is 1/3 of a driven line's three switches.
#: The fit stage applied it until the twentieth round; its sweeps now hold 128x256 cores and
#: 8-row backward arrays, which separate rows from columns, and with the 100 um driver pFETs
#: the tie cost the drivers 0.235 relative RMS (0.026 free) and the total 6.3 % max (4.4 %
#: free): ``PYTHONPATH=. python benchmarks/energy_tie.py``
DRIVER_TIE = {"e_drv_col_j": ("e_drv_row_j", 1.0 / 3.0)}
#: coefficients of the energy formula that are not fitted
_NOT_FITTED = ("activity_default",)
#: coefficients whose column is another's times the activity: fitted only on rows of several
#: activities (else held at the base model's value)
ACTIVITY_ONLY = ("e_drv_act_j",)


def energy_design(rows: list[EnergyRow], base: MacroModel,
                  ties: dict | None = None) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Regressors of each energy group, one row per measured MVM, read off the
    :meth:`MacroModel.energy_j` formula itself: it is linear in its coefficients, so the column
    of coefficient c is the formula evaluated with c = 1 and every other coefficient 0.

    ``ties`` ({tied: (free, ratio)}) fixes tied = ratio * free: the free coefficient's column
    then carries both terms and the tied one is not fitted.
    """
    ties = dict(ties or {})
    for t, (f, r) in ties.items():
        if t not in base.energy or f not in base.energy or not r > 0:
            raise InputError(f"energy tie {t} = {r!r} x {f}: unknown coefficient or ratio <= 0")
    keys = [k for k in base.energy if k not in _NOT_FITTED and k not in ties]
    acts = {base.energy["activity_default"] if r.activity is None else r.activity for r in rows}
    if len(acts) < 2:  # one activity for every row: the switched-lines term is e_drv_row's
        keys = [k for k in keys if k not in ACTIVITY_ONLY]
    zero = {k: 0.0 for k in base.energy if k not in _NOT_FITTED}
    groups_all = ("array", "drivers", "wordlines", "neuron")
    cols: dict[str, dict[str, np.ndarray]] = {}
    for k in keys:
        unit = {**zero, k: 1.0, **{t: r for t, (f, r) in ties.items() if f == k}}
        m = base.with_(energy={**base.energy, **unit})
        e = [(m if r.read_pulse_s is None else m.with_read_pulse(r.read_pulse_s)).energy_j(
            r.in_bits, r.out_bits, r.n_rows, r.n_cols, r.g_total_s, activity=r.activity,
            phases=r.phases, n_wl=r.n_wl) for r in rows]
        groups = [g for g in groups_all if any(abs(x[g]) > 0 for x in e)]
        if len(groups) > 1:
            raise InputError(f"macro-model energy coefficient {k} feeds several groups {groups}")
        if groups:
            cols.setdefault(groups[0], {})[k] = np.array([x[groups[0]] for x in e])
    return {g: (np.column_stack(list(cols[g].values())), list(cols[g]))
            for g in groups_all if g in cols}


#: Energy coefficients the fit may make negative: the array rails' per-line term. The rails
#: (Vref +- Vread, Vref) take back, at 0.7-0.9 V, the charge the drivers' switches and the word
#: lines inject into the lines each read pulse (paid in those groups): a credit per line and
#: pulse. Measured on a 2 x 128 core at 0.2 V (4-bit): VPOS delivers 6.35 pJ, VNEG and VREFD
#: take back 5.24 and 1.0 pJ, 2.8 pC more into the rails than out. On the report sweep (default
#: activity) the fitted term is negative and k_array moves from 0.88 to 1.21 (0.2 V); on
#: characterization/fit.toml's MVMs (their own activity, one 10 ns read pulse) the term comes
#: out ~0 and k_array stays 0.70: those rows cannot separate the cells' pulse length from a
#: fixed per-pulse loss (issue 17 note).
SIGNED_ENERGY = frozenset({"e_arr_line_j"})


def fit_energy_rows(rows: list[EnergyRow], base: MacroModel,
                    ties: dict | None = None) -> tuple[dict, list[Fit]]:
    """The energy fit: per group, non-negative linear least squares
    (scipy.optimize.lsq_linear) of the :meth:`MacroModel.energy_j` coefficients on relative
    error (every measured MVM weighs the same; every term is an energy or a power, so >= 0,
    except the array rails' per-line credit, :data:`SIGNED_ENERGY`).

    The ``array`` group's residuals are taken relative to array + drivers (the paper's
    input-pulse group) rather than to the array alone: its rails (Vref +- Vread, Vref) also
    take back the charge the drivers' switches and the word lines inject into the lines, a
    credit of the order of the cells' dissipation on arrays of a few rows, so the group's
    measured energy crosses zero there (-1.8..+10.8 fJ/op in characterization/report.toml's
    sweep) and a fit relative to it alone drove k_array to 0 (the cells' G V^2 t lost at
    every size).

    Returns the fitted coefficients (tied ones and :data:`ACTIVITY_ONLY` ones held at the base
    model's value included) and one :class:`Fit` per group plus
    ``energy_total`` (relative residuals, data ranges).
    """
    if not rows:
        raise InputError("energy fit: no measured MVMs")
    ties = dict(ties or {})
    design = energy_design(rows, base, ties)
    params, fits = {}, []
    totals_meas = np.array([r.energy_j["total"] for r in rows], dtype=float)
    totals_fit = np.zeros(len(rows))
    for grp, (a, names) in design.items():
        y = np.array([r.energy_j[grp] for r in rows], dtype=float)
        scale = np.abs(y)
        if grp == "array":  # relative to the input-pulse energy (the paper's group) instead
            scale = scale + np.abs([r.energy_j.get("drivers", 0.0) for r in rows])
        wgt = 1.0 / np.maximum(scale, 1e-18)
        col = np.maximum(np.abs(a).max(axis=0), 1e-300)
        lower = np.array([-np.inf if n in SIGNED_ENERGY else 0.0 for n in names])
        sol = optimize.lsq_linear(a / col * wgt[:, None], y * wgt, bounds=(lower, np.inf))
        coef = sol.x / col
        pred = a @ coef
        totals_fit += pred
        params.update({n: float(c) for n, c in zip(names, coef)})
        rel = (pred - y) * wgt  # relative to the scale the fit weighs (array: + drivers)
        rms, mx = _stats(rel)
        per = " (residuals relative to array + drivers)" if grp == "array" else ""
        fits.append(Fit(f"energy_{grp}", {n: float(c) for n, c in zip(names, coef)}, rms, mx,
                        len(y), "relative", note=f"measured {y.min():.3g}..{y.max():.3g} J{per}"))
    for t, (f, r) in ties.items():
        params[t] = params[f] * r
    for k in ACTIVITY_ONLY:  # not fitted on rows of one activity: the base model's value
        params.setdefault(k, float(base.energy[k]))
    rel = (totals_fit - totals_meas) / totals_meas
    rng = {"n_rows": _rng([r.n_rows for r in rows]), "n_cols": _rng([r.n_cols for r in rows]),
           "in_bits": _rng([r.in_bits for r in rows]),
           "out_bits": _rng([r.out_bits for r in rows]),
           "g_total_s": _rng([r.g_total_s for r in rows])}
    rms, mx = _stats(rel)
    fits.append(Fit("energy_total", {}, rms, mx, len(rel), "relative", rng,
                    note=f"measured {totals_meas.min():.3g}..{totals_meas.max():.3g} J per MVM",
                    by_direction=_by_direction(rel, [r.direction for r in rows])))
    return params, fits


def energy_rows(points: list[MvmPoint]) -> list[EnergyRow]:
    """One :class:`EnergyRow` per vector of each ``mvm_fit`` point, with its array activity
    computed from its planes and programmed conductances (each plane conducts once, for one
    read pulse: equal plane weights)."""
    out = []
    for pt in points:
        g_phys = interleave_rows(pt.g_pos, pt.g_neg)
        lp = line_planes(pt.planes, pt.direction, "row_pair")
        n_sense = pt.code.shape[1]
        for _, row in pt.energy.iterrows():
            b = int(row["vector"])
            act = array_activity(g_phys, lp[b], pt.direction, np.ones(pt.planes.shape[1]))
            out.append(EnergyRow(
                pt.p["in_bits"], pt.p["out_bits"], pt.n_rows, n_sense,
                float(g_phys.sum()),
                {k: float(row[f"e_{k}_j"]) for k in
                 ("array", "drivers", "wordlines", "neuron", "total")},
                float(act), n_wl=g_phys.shape[0],  # every physical row's word line
                read_pulse_s=pt.p["read_pulse_s"], direction=pt.direction))
    return out


def fit_energy(points: list[MvmPoint], base: MacroModel) -> tuple[dict, list[Fit]]:
    """:func:`fit_energy_rows` on every vector of the ``mvm_fit`` points, every coefficient
    free (the sweeps' non-square cores separate rows from columns; see :data:`DRIVER_TIE`)."""
    return fit_energy_rows(energy_rows(points), base)


# -- reported component fits (cell, IR drop, settling) ----------------------------------------
def fit_cell_iv(df: pd.DataFrame | None) -> Fit | None:
    """RRAM read I-V: I = a sinh(V / v0) per gap (curve_fit), v0 shared. Reports v0 and the
    chord non-linearity I(V)/(G_read V) - 1 at the read voltage and at half of it."""
    if df is None or df.empty:
        return None
    gaps = sorted(df["gap_nm"].unique())
    vs, is_, idx = [], [], []
    for k, gp in enumerate(gaps):
        g = df[df["gap_nm"] == gp]
        vs.append(g["v_v"].to_numpy()), is_.append(g["i_a"].to_numpy())
        idx.append(np.full(len(g), k))
    v, i, ix = np.concatenate(vs), np.concatenate(is_), np.concatenate(idx)
    a0 = np.array([np.max(np.abs(ii)) / np.sinh(np.max(np.abs(vv)) / 0.4)
                   for vv, ii in zip(vs, is_)])

    def f(vx, v0, *a):
        vv, kk = vx
        return np.asarray(a)[kk.astype(int)] * np.sinh(vv / v0)

    scale = np.abs(i).max(axis=None)
    popt, _ = optimize.curve_fit(lambda vx, v0, *a: f(vx, v0, *a) / scale, (v, ix), i / scale,
                                 p0=[0.4, *a0])
    pred = f((v, ix), *popt)
    sig = np.abs(i) > 1e-3 * np.abs(i).max()
    rel = (pred - i)[sig] / i[sig]
    rms, mx = _stats(rel)
    v0 = float(popt[0])
    vr = assumptions.value("v_read_v")

    def chord(u):  # chord conductance at u relative to that at the read voltage, minus 1
        return float(np.sinh(u / v0) / (u / v0) / (np.sinh(vr / v0) / (vr / v0)) - 1)

    return Fit("rram_iv", {"v0_v": v0, "chord_err_at_half_vread": chord(vr / 2),
                           "chord_err_at_2vread": chord(2 * vr)}, rms, mx, int(sig.sum()),
               "relative", {"cell_v_v": _rng(v), "gap_nm": _rng(gaps)})


def fit_ir_drop(df: pd.DataFrame | None) -> Fit | None:
    """Wire IR drop alone (ideal drivers, linear cells): rms error fraction of Vread per point
    = k (rows / 128)^p (curve_fit on the log)."""
    if df is None or df.empty:
        return None
    g = df.groupby(["rows", "seed"])["err_frac_vread"].apply(
        lambda s: float(np.sqrt(np.mean(np.asarray(s) ** 2)))).reset_index()
    r, e = g["rows"].to_numpy(float), g["err_frac_vread"].to_numpy()
    popt, _ = optimize.curve_fit(lambda x, lk, p: lk + p * x, np.log(r / ROWS_REF),
                                 np.log(np.maximum(e, 1e-15)), p0=[np.log(1e-3), 2.0])
    pred = np.exp(popt[0]) * (r / ROWS_REF) ** popt[1]
    rms, mx = _stats((pred - e) / e)
    return Fit("ir_drop", {"k_frac_vread_at_128": float(np.exp(popt[0])),
                           "exponent": float(popt[1])},
               rms, mx, len(e), "relative", {"rows": _rng(r)},
               note="rms line error / Vread from wire R alone = k (rows/128)^exponent")


def fit_settling(df: pd.DataFrame | None, t_window_s: float) -> Fit | None:
    """Line settling time t = k (C_sense + c_row rows) / (rows g_cell) (curve_fit of k and the
    line capacitance per row c_row: wire plus the access FETs' junctions), against the input
    window the schedule gives. A single RC would give k = ln(1 / tol)."""
    if df is None or df.empty:
        return None
    g = df.groupby(["rows", "g_cell_us", "c_sense_f", "tol"])["t_settle_s"].max().reset_index()
    rows = g["rows"].to_numpy(float)
    gc = g["g_cell_us"].to_numpy() * 1e-6
    cs = g["c_sense_f"].to_numpy()
    t = g["t_settle_s"].to_numpy()

    def f(x, k, c_row_ff):
        r, gg, c = x
        return k * (c + c_row_ff * 1e-15 * r) / (r * gg) / 1e-9

    popt, _ = optimize.curve_fit(f, (rows, gc, cs), t / 1e-9, p0=[7.0, 1.0])
    pred = f((rows, gc, cs), *popt) * 1e-9
    rms, mx = _stats((pred - t) / t)
    return Fit("settling", {"k_tau": float(popt[0]), "c_row_f": float(popt[1] * 1e-15),
                            "ln_1_over_tol": float(np.log(1 / g["tol"].iloc[0])),
                            "t_settle_max_s": float(t.max()),
                            "margin_vs_window": float(t_window_s / t.max())},
               rms, mx, len(t), "relative", {"rows": _rng(rows), "g_cell_s": _rng(gc)},
               note="t_settle = k_tau (C_sense + c_row rows) / (rows g_cell)")


__all__ = ["DRIVER_TIE", "EnergyRow", "Fit", "MvmPoint", "check_size_weight_exp",
           "energy_design", "energy_rows", "fit_adc", "fit_cell_iv", "fit_energy",
           "fit_energy_rows", "fit_ir_drop", "fit_line", "fit_offset", "fit_settling",
           "mvm_points"]

"""The compact macro-model of one NeuRRAM core: line transfer, ADC, energy and latency.

A :class:`MacroModel` is what ``pycim fit`` extracts from transistor-level sweeps and what the
numpy core/chip models (:mod:`pycim.macro`) evaluate. It is a frozen dataclass stored as JSON
(``"schema": "pycim.macro/2"``: the chip's held-line scheme; ``/1`` models described a line
re-driven for every integration and are refused); :meth:`MacroModel.ideal` is the closed form
(linear cells, ideal wires, ideal ADC) with energy from first principles, and the packaged
``default_model.json`` is fitted from ``characterization/fit.toml`` (regenerate: see README,
"Fitting").

The scheme (:func:`pycim.specs.neuron.mvm_schedule`): per magnitude plane n = 1..P (LSB first,
P = :func:`n_planes_for`) ONE read pulse settles the line, the neuron's track switch copies it
onto C_hold, and the held value is sampled 2^(n-1) times; sample k sees r^k of it (charge
sharing with C_sample, r = C_hold,eff / (C_hold,eff + C_s,eff)), so plane n weighs
w_n = sum_{k=1..2^(n-1)} r^k (:meth:`MacroModel.plane_weights`, from
:func:`pycim.cim.closed_form.held_plane_weights`; the binary 2^(n-1) when C_s,eff = 0).
An MVM has P read pulses and N = 2^P - 1 samples (:func:`n_windows_for`).

Signal chain per output (line-referred volts, summed over the planes with the held weights,
``sum_n w_n v_n``, W = sum_n w_n):

1. cells: each programmed conductance G conducts as ``G / (1 + G r_series)`` (finite access-FET
   on-resistance plus wire resistance in series, :meth:`MacroModel.effective_g_s`), and each
   driven line reaches its cells through ``r_drive + r_drive_cell n_cells`` (its driver's
   on-resistance and its wire, lumped; :meth:`MacroModel.drive_resistance_ohm`), so a driven
   line sags by the current it sends into the floating lines. The settled resistive network
   on these (:meth:`MacroModel.line_operator`, :func:`pycim.cim.closed_form.line_operator`;
   the closed form sum (G+ - G-) / sum (G+ + G-) when both are 0) gives ``v_ideal``. The
   sag is what halves a full core's line gain: its driven lines carry 256 cells, ~2.7 mS;
   a 16 x 16 array's 16 cells. With ``wire_scale`` = 1 (fitted models) the wires are
   resolved by position on top of it: every line a ladder of wire segments, driven and read
   at its TNSA tap (:func:`pycim.cim.closed_form.wire_correction`; ~1 mV on a full core,
   nothing fitted: the wire's resistance per cell is the assumption's); 0: lumped only.
   A model fitted with ``--polarity-terms`` (the packaged ``polarity`` model,
   :meth:`packaged`) also gives each driven line's drive and series resistance a departure
   per drive polarity (``dr_drive_pos_ohm``, ``dr_drive_neg_ohm``, ``dr_series_pos_ohm``,
   ``dr_series_neg_ohm``: above / below Vref; held lines none), to first order about this
   network (:class:`pycim.cim.polarity.PolaritySystem`, :meth:`polarity_lines`): linear
   in the departures, quadratic in the drives, so added per plane by :meth:`plane_lines`
   and not in :meth:`line_operator`;
2. line (:meth:`MacroModel.line_transfer`)::

       u    = v_ideal / (W v_read)                        (mean drive per plane, |u| <= 1)
       s    = 1 - exp(-t_track g_sum / (c_settle + c_settle_row n_rows))
       gain = s (1 + a0 + a_rows n_rows/128 + a_g g_sum/1 mS + a_rg (n_rows/128)(g_sum/1 mS)
              + a_cubic u^2)
       v    = gain v_ideal + W (b_line + b_g g_sum/1 mS + b_ig 0.1 mS/g_sum
                                + b_hold n_rows n_cells / 256^2) + N b0

   with v_ideal = sum_n w'_n v_n: an unsettled line also keeps c = k_mem (1 - s) of the
   previous plane's held value (the hold capacitor it is tracked onto still carries it), so
   plane j weighs w'_j = sum_{n >= j} w_n c^(n-j) per line
   (:meth:`MacroModel.plane_line_weights`; the held weights w_n when the line settles);

   ``s`` is the line's settling in the read pulse (:meth:`MacroModel.settle_fraction`: it
   starts at Vref and charges the hold capacitor and its own capacitance through its cells,
   whose conductances sum to g_sum, for ``t_track_s``); a small array at low conductance does
   not settle in the default 20 ns pulse (:func:`pycim.cim.request.check_settling`).

   The line's own offset (``b_line``, ``b_g``, ``b_ig``: a current into the floating line, a
   1/g_sum offset, and its counterpart) is held with the plane's value, so it weighs like
   the signal (W). ``b_hold`` is the hold capacitor's pedestal at a full 256 x 256 array
   (:meth:`MacroModel.hold_pedestal_v`): what C_hold holds beyond the
   line the flow reads as "settled" one edge before the track switch opens. On a large array
   the line has not settled then (the word lines' turn-on kick is still relaxing: a full
   core's forward source-lines move -6.5 mV/ns there), and C_hold follows it behind the
   switch (``benchmarks/hold_pedestal.py`` measures it on the array stage's hold nodes:
   -3.2 mV per plane on a full core forward, -1.2 mV backward, -0.2 mV on a 64 x 64
   forward). It scales with the array's cells n_rows
   n_cells (n_cells: the cells on each driven line, i.e. the sensed lines) and is held like
   the signal (W). It is not part of the settled line, so the line fit cannot see it: it is
   fitted on the codes with ``b0`` (:func:`pycim.fit.fits.fit_offset`).
   ``b0`` is the offset each SAMPLE adds (switch charge injection, what auto-zero
   leaves of the OTA offset; fitted on the codes), referred to the line, so it counts N.
   ``line_transfer`` is what the ADC sees; :meth:`MacroModel.settled_line_v` is the line alone
   (one plane, no held weights, no pedestal, no ``b0``);
   Directions: a forward MVM senses the source-lines (n_rows = 2 n_in cells each, G+ and G-),
   a backward MVM every bit-line on its own (n_out cells of one sign; the output is the
   difference of a row pair's codes). The chain is the same; the parameters of the line that
   differ between the two sensed lines (a source-line carries the access FETs' junctions and
   their word-line overlap, a bit-line the RRAM ends) are ``line_backward`` overrides
   (:meth:`MacroModel.for_direction`);
3. ADC (:meth:`MacroModel.output_codes`): ``y' = adc_gain y + adc_offset_lsb + inl[code]``
   (+ Gaussian noise of ``noise_lsb`` when an ``rng`` is given), floor, clip to the signed
   ``out_bits`` range. ``y`` is in code units: line-referred volts / :meth:`lsb_v`.

Energy of one MVM of one core (:meth:`MacroModel.energy_j`), per group of sources as the SPICE
flow reports them (:func:`pycim.measure.energy.energy_by_group`), times ``batch``. Inputs,
drivers and word-lines switch once per plane (one read pulse of ``t_window_s``), so those terms
count P; the neuron's energy is a power over the MVM's latency::

    array     = k_array * activity * g_sum_total * v_read^2 * P * t_window
                + P e_arr_line (n_rows + n_cols) + e_arr_0
    drivers   = P (e_drv_row n_rows + e_drv_act activity n_rows + e_drv_col n_cols) + e_drv_0
    wordlines = P (e_wl_row n_wl + e_wl_cell n_rows n_cols) + e_wl_0
    neuron    = n_cols (p_neuron latency + p_neuron_on t_on + e_neuron_0) + p_shared latency

with n_rows driven lines, n_cols sensed lines and n_wl word lines (every physical row's:
n_rows forward, n_cols backward).
``activity`` is the mean over the read pulses of (V_row - V_line)^2 / v_read^2 over the
conducting cells, weighted by their conductance (0.5 when not given: random signed inputs and
weights). The drivers' ``e_drv_act`` is the part of a driven line's energy that only the
lines whose bit is set pay (their transmission gates switch to a rail and back; an idle line
stays at Vref): the activity stands in for the share of such lines (twentieth round: with the
100 um driver pFETs a row's switching is 0.28 pJ, and without this term the fit overestimated
the 30 %-sparse MVMs by up to 6 %). Latency: ``t_base + P t_read + N t_int_step + (out_bits - 1) t_adc_step``; t_on
(:meth:`MacroModel.on_time_s`): the time the neurons' gated OTA second stage is enabled.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np

from .. import assumptions
from ..cim.closed_form import (WireSystem, held_plane_weights, line_operator, wire_correction,
                                wire_system)
from ..cim.polarity import POLARITY_TERMS, PolaritySystem
from ..errors import InputError
from ..specs.neuron import MAX_OUT_BITS
from ..validate import number
from .inputs import _check_fs, checked_inputs, unmasked

SCHEMA = "pycim.macro/2"
ROWS_REF = 128.0  # row-count normalisation of the line-gain terms
CELLS_REF = 256.0 * 256.0  # the cell count at which ``b_hold_v`` is the hold pedestal
G_REF_S = 1e-3  # conductance normalisation of the line-gain terms
G_INV_REF_S = 1e-4  # conductance normalisation of the 1/g_sum offset term
#: the line parameters weighing the stacked active fractions
#: (:func:`pycim.cim.closed_form.active_fraction`), in its order
ACT_TERMS = ("b_act_v", "b_load_v", "b_act_line_v")
#: the models that ship with pycim (:meth:`MacroModel.packaged`), by name: package files
PACKAGED = {"default": "default_model.json", "polarity": "polarity_model.json"}
#: the line parameters of the per-polarity departures of the driven lines' drive and series
#: resistances (:class:`pycim.cim.polarity.PolaritySystem`), in its basis' order
POLARITY_LINE_TERMS = tuple(f"dr_{t}_ohm" for t in POLARITY_TERMS)
GROUPS = ("array", "drivers", "wordlines", "neuron")
#: convergence of the wires' term per unit drive (0.2 uV at a 0.2 V read; a full core's
#: operator costs ~2/3 of what 1e-8 does)
WIRE_TOL = 1e-6


class OutOfRangeWarning(UserWarning):
    """A model input lies outside the range its fit was made on."""


def _bits(b, what: str, hi: int = 8) -> int:
    """An input width 1..8 (``hi``: 10 for output widths, ``MAX_OUT_BITS``)."""
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 1 <= int(b) <= hi:
        raise InputError(f"{what} must be an integer in 1..{hi}, got {b!r}")
    return int(b)


def check_rng(rng, what: str = "rng"):
    """``rng`` if it is None or a :class:`numpy.random.Generator` (what the ADC noise draws
    from on every path: ``np.random.default_rng(seed)``); InputError for anything else (a
    seed, a legacy ``RandomState``, the ``np.random`` module), also where the model has no
    noise to draw, so a call is refused or accepted alike whatever the model."""
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise InputError(f"{what} must be a numpy Generator (np.random.default_rng(seed)) or "
                         f"None, got {type(rng).__name__}")
    return rng


def n_planes_for(in_bits: int) -> int:
    """Magnitude bit planes (read pulses) of one MVM: in_bits - 1 (1 for 1-bit inputs)."""
    return max(_bits(in_bits, "in_bits") - 1, 1)


def _phase_widths(in_bits: int, out_bits: int) -> list[tuple[int, int]]:
    """(in_bits, out_bits) of a two-phase MVM's slices (high, low)."""
    from ..cim.phases import phase_widths

    return [tuple(p) for p in phase_widths(in_bits, out_bits)]


def n_windows_for(in_bits: int) -> int:
    """Samples (integrations) of one MVM: 2^planes - 1 with planes = :func:`n_planes_for`."""
    return 2 ** n_planes_for(in_bits) - 1


def _en_time_s(spec, sched) -> float:
    """Time the schedule holds the neuron's ``en`` (OTA second stage enabled) high."""
    t = sched.phase_times()
    en = spec.net("en")
    return float(sum(t[p.name][1] - t[p.name][0] for p in sched.phases if en in p.high()))


def _line_defaults() -> dict[str, float]:
    return {"r_series_ohm": 0.0, "c_settle_f": 0.0, "c_settle_row_f": 0.0, "k_mem": 0.0,
            "a0": 0.0, "a_rows": 0.0, "a_g": 0.0, "a_rg": 0.0,
            "a_cubic": 0.0, "b0_v": 0.0, "b_g_v": 0.0, "b_ig_v": 0.0, "b_line_v": 0.0,
            "b_kick_v": 0.0, "b_act_v": 0.0, "b_load_v": 0.0, "b_act_line_v": 0.0,
            "r_drive_ohm": 0.0, "r_drive_cell_ohm": 0.0, "b_hold_v": 0.0, "wire_scale": 0.0,
            **{k: 0.0 for k in POLARITY_LINE_TERMS}}


def _adc_defaults() -> dict:
    return {"gain": 1.0, "offset_lsb": 0.0, "noise_lsb": 0.0, "inl_lsb": {}}


# -- validation of a model's fields ----------------------------------------------------------
#: the keys of :attr:`MacroModel.energy` (the energy formula's coefficients, module docstring)
ENERGY_KEYS = ("k_array", "activity_default", "e_arr_line_j", "e_arr_0_j", "e_drv_row_j",
               "e_drv_col_j", "e_drv_0_j", "e_drv_act_j", "e_wl_row_j", "e_wl_cell_j",
               "e_wl_0_j", "p_neuron_w", "p_neuron_on_w", "e_neuron_0_j", "p_shared_w")
#: the keys of :attr:`MacroModel.timing`
TIMING_KEYS = ("t_base_s", "t_read_s", "t_int_step_s", "t_adc_step_s", "t_window_s",
               "t_track_s", "t_on_int_s", "t_on_base_s", "t_adc_first_extra_s")
#: the keys of :attr:`MacroModel.adc`
ADC_KEYS = ("gain", "offset_lsb", "noise_lsb", "inl_lsb")
#: the largest line reference or read voltage a model may state (V): the chip's highest rail
#: (the word lines' 5 V devices); beyond it a voltage is a typo, not a circuit
V_MAX_V = 5.0
#: the sign each parameter's meaning demands ("pos": > 0, "nonneg": >= 0); a parameter not
#: listed may take any finite value (offsets, the line's gain terms, the per-polarity
#: departures and the array rails' per-line credit ``e_arr_line_j`` are signed)
_BOUNDS = {
    "line": {"r_series_ohm": "nonneg", "r_drive_ohm": "nonneg", "r_drive_cell_ohm": "nonneg",
             "c_settle_f": "nonneg", "c_settle_row_f": "nonneg", "k_mem": "nonneg",
             "wire_scale": "nonneg"},
    "adc": {"gain": "pos", "noise_lsb": "nonneg"},
    "energy": {k: "nonneg" for k in ENERGY_KEYS if k != "e_arr_line_j"},
    "timing": {**{k: "pos" for k in ("t_read_s", "t_int_step_s", "t_adc_step_s", "t_window_s",
                                     "t_track_s")},
               **{k: "nonneg" for k in ("t_base_s", "t_on_int_s", "t_on_base_s",
                                        "t_adc_first_extra_s")}},
}


def _number(v, what: str, bound: str | None = None, hi: float | None = None) -> float:
    """``v`` as a finite float (a JSON or numpy number, not a bool), ``bound`` "pos" (> 0) or
    "nonneg" (>= 0) and at most ``hi`` (:func:`pycim.validate.number`)."""
    return number(v, what, lo=None if bound is None else 0.0, lo_open=bound == "pos", hi=hi)


def _inl(table, what: str) -> dict[str, list[float]]:
    """``adc.inl_lsb``: {str(out_bits): [INL of each code, LSB]} with 2^out_bits finite
    numbers per width (:meth:`MacroModel.output_codes` indexes it by code - lowest code)."""
    if not isinstance(table, dict):
        raise InputError(f"{what} must map output widths to lists, got {table!r}")
    out = {}
    for b, codes in table.items():
        if not (isinstance(b, str) and b.isdigit() and str(int(b)) == b
                and 1 <= int(b) <= MAX_OUT_BITS):
            raise InputError(f"{what}: keys must be output widths '1'..'{MAX_OUT_BITS}', "
                             f"got {b!r}")
        n = 1 << int(b)
        if not isinstance(codes, (list, tuple)) or len(codes) != n:
            raise InputError(f"{what}[{b!r}] must be a list of {n} numbers (one per code), got "
                             f"{len(codes) if isinstance(codes, (list, tuple)) else codes!r}"
                             f"{' numbers' if isinstance(codes, (list, tuple)) else ''}")
        out[b] = [_number(c, f"{what}[{b!r}][{i}]") for i, c in enumerate(codes)]
    return out


def _section(name: str, sec, where: str) -> dict:
    """A checked copy of the parameter dict ``name`` (line, line_backward, adc, energy,
    timing): a dict of known keys, every value a finite number within its bound."""
    if not isinstance(sec, dict):
        raise InputError(f"{where}: {name} must be an object (a dict), got "
                         f"{type(sec).__name__}")
    kind = "line" if name == "line_backward" else name
    known = {"line": _line_defaults(), "adc": ADC_KEYS, "energy": ENERGY_KEYS,
             "timing": TIMING_KEYS}[kind]
    extra = sorted(k for k in sec if k not in known)
    if extra:
        raise InputError(f"{where}: unknown {name} keys {extra} (known: "
                         f"{', '.join(sorted(known))})")
    bounds = _BOUNDS[kind]
    return {k: (_inl(v, f"{where}: {name}.{k}") if k == "inl_lsb"
                else _number(v, f"{where}: {name}.{k}", bounds.get(k)))
            for k, v in sec.items()}


def _ranges(rng, where: str) -> dict[str, list[float]]:
    """``ranges``: {name: [lo, hi]}, finite numbers with lo <= hi."""
    if not isinstance(rng, dict):
        raise InputError(f"{where}: ranges must be an object (a dict), got "
                         f"{type(rng).__name__}")
    out = {}
    for k, v in rng.items():
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise InputError(f"{where}: ranges.{k} must be a list [lo, hi], got {v!r}")
        lo, hi = (_number(x, f"{where}: ranges.{k}") for x in v)
        if lo > hi:
            raise InputError(f"{where}: ranges.{k} must have lo <= hi, got {v!r}")
        out[k] = [lo, hi]
    return out


def _checked_fields(fields: dict, where: str) -> dict:
    """Checked, normalised copies of :class:`MacroModel` fields (any subset, by name): the
    one set of rules :meth:`MacroModel.from_json` and :meth:`MacroModel.with_` apply.

    Parameters
    ----------
    fields : {field name: value} of known fields.
    where : what the messages name first ("model" for a file, "with_").

    Returns
    -------
    dict
        The same keys: numbers as float, parameter dicts as new dicts of floats.

    Raises
    ------
    InputError
        One line naming the field (and key) and the bad value.
    """
    out = {}
    for k, v in fields.items():
        if k in ("line", "line_backward", "adc", "energy", "timing"):
            out[k] = _section(k, v, where)
        elif k == "ranges":
            out[k] = _ranges(v, where)
        elif k == "fits":
            if not isinstance(v, dict):
                raise InputError(f"{where}: fits must be an object (a dict), got "
                                 f"{type(v).__name__}")
            out[k] = v
        elif k == "source":
            if not isinstance(v, str):
                raise InputError(f"{where}: source must be a string, got {type(v).__name__}")
            out[k] = v
        elif k == "schema":
            if v != SCHEMA:
                raise InputError(f"{where}: schema must be {SCHEMA!r}, got {v!r}")
            out[k] = v
        elif k in ("v_read_v", "v_ref_v"):
            out[k] = _number(v, f"{where}: {k}", "pos", V_MAX_V)
        elif k == "adc_fs_v":  # the neuron's range
            out[k] = _check_fs(v, f"{where}: adc_fs_v")
        elif k in ("integ_gain", "c_hold_eff_f"):
            out[k] = _number(v, f"{where}: {k}", "pos")
        elif k == "c_sample_eff_f":
            out[k] = _number(v, f"{where}: {k}", "nonneg")
        else:
            raise InputError(f"{where}: unknown field {k!r}")
    return out


@dataclass(frozen=True)
class PlaneSystem:
    """:meth:`MacroModel.plane_system`'s result: the lumped operator (inputs x sensed lines)
    and the wires' factored network (None when the model lumps them), for one direction and
    mapping of one array's conductances."""

    direction: str
    mapping: str
    lumped: np.ndarray
    wires: WireSystem | None
    #: the per-polarity network (None when the model has no departures)
    polarity: PolaritySystem | None = None


@dataclass(frozen=True)
class MacroModel:
    """Compact model of one core. Parameters are plain JSON values (see the module docstring).

    Attributes
    ----------
    v_read_v, v_ref_v : read voltage and line reference.
    adc_fs_v, integ_gain : the neuron's integrator full scale and C_s / C_i (LSB definition).
    c_hold_eff_f, c_sample_eff_f : the effective hold and sample capacitances whose charge
        sharing sets the held plane weights (:meth:`plane_weights`; defaults
        ``neuron_c_hold_eff_f`` / ``neuron_c_sample_eff_f`` of :mod:`pycim.assumptions`, the
        SPICE flow's closed form).
    line : line-transfer parameters (``r_series_ohm``, ``a0``, ``a_rows``, ``a_g``, ``a_rg``,
        ``a_cubic``, ``b0_v``, ``b_g_v``, ``b_ig_v``; ``b_line_v`` is the constant offset of
        the line alone, ``b0_v`` that of line and integrator together) of a forward MVM
        (sensed source-lines).
    line_backward : the line parameters that differ in a backward MVM (sensed bit-lines), as
        overrides of ``line`` (:meth:`for_direction`); empty: one set for both directions.
    adc : ``gain``, ``offset_lsb``, ``noise_lsb`` and ``inl_lsb`` ({str(out_bits): [per code]}).
    energy : coefficients of the energy formula (module docstring).
    timing : ``t_base_s``, ``t_read_s`` (one plane's read pulse with its guards),
        ``t_int_step_s``, ``t_adc_step_s``, ``t_window_s`` (the read pulse: inputs on),
        ``t_track_s`` (the line tracked before the hold), ``t_on_base_s`` / ``t_on_int_s``
        (the OTA second stage's enabled time, :meth:`on_time_s`), ``t_adc_first_extra_s``
        (the first DAC packet's extra parts).
    ranges : {name: [lo, hi]} of the data each fit saw; :meth:`check_range` warns outside.
    fits : {fit name: {"rms": ..., "max": ..., "n": ..., "unit": ...}} residual report.
    source : what the model was made from.
    """

    v_read_v: float
    v_ref_v: float
    adc_fs_v: float
    integ_gain: float
    line: dict = field(default_factory=_line_defaults)
    line_backward: dict = field(default_factory=dict)
    adc: dict = field(default_factory=_adc_defaults)
    energy: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)
    fits: dict = field(default_factory=dict)
    source: str = "ideal"
    schema: str = SCHEMA
    c_hold_eff_f: float = field(default_factory=lambda: assumptions.value("neuron_c_hold_eff_f"))
    c_sample_eff_f: float = field(
        default_factory=lambda: assumptions.value("neuron_c_sample_eff_f"))

    # -- construction / storage -------------------------------------------------------------
    @classmethod
    def ideal(cls) -> MacroModel:
        """Closed form, ideal ADC, energy from first principles (no fit, no ranges).

        Energy: cells dissipate G (V_row - V_line)^2 during each read pulse (k_array = 1);
        each neuron's OTA draws ibias m_tail from vdd for the whole MVM and ibias m_out more
        while its second stage is enabled (:meth:`on_time_s`); the core's one bias generator
        ibias for the whole MVM (``p_shared_w``); switches and word-lines
        charge their gate capacitance C_ox W L once per read pulse at vdd / the WL rails (from
        the high rail, back into the low rail: C (V_WL - V_WL,low)^2 net).
        """
        from ..specs.neuron import (
            NeuronSpec,
            input_windows,
            mvm_schedule,
            settled_read_times,
        )

        spec = NeuronSpec()
        A = assumptions.value
        s11 = mvm_schedule(spec, 1, 1)
        win = input_windows(s11)[0]
        t_int = spec.t_integration_step_s
        # one more plane (3 vs 2 input bits: planes 1 -> 2, samples 1 -> 3) adds one read
        # pulse with its guards and two integration steps
        t_read = mvm_schedule(spec, 3, 1).t_stop - mvm_schedule(spec, 2, 1).t_stop - 2 * t_int
        timing = {"t_base_s": s11.t_stop - t_read - t_int, "t_read_s": t_read,
                  "t_int_step_s": t_int, "t_adc_step_s": spec.t_adc_step_s,
                  "t_window_s": win[3] - win[2],
                  # the line tracks from the read pulse's start until the hold (one edge before
                  # the track phase ends)
                  "t_track_s": settled_read_times(s11, spec)[1] - s11.phase_times()["rd1"][0]}
        # the OTA's second stage is enabled (``en``) for part of each sample and all through
        # the reset and the conversion: on-time = t_on_base + N t_on_int + (out_bits - 1) t_adc
        t_on = {ib: _en_time_s(spec, mvm_schedule(spec, ib, 1)) for ib in (1, 3)}
        timing["t_on_int_s"] = (t_on[3] - t_on[1]) / 2
        timing["t_on_base_s"] = t_on[1] - timing["t_on_int_s"]
        # the first DAC packet's extra parts (NeuronSpec.dac_first_parts), with 2+ output bits
        timing["t_adc_first_extra_s"] = (mvm_schedule(spec, 1, 2).t_stop - s11.t_stop
                                         - spec.t_adc_step_s)
        cox_f_per_um2 = A("cox_1v8_f_per_um2")
        cox5_f_per_um2 = A("cox_5v_f_per_um2")
        vdd = spec.vdd_v
        c_sw = (3 * cox_f_per_um2 * (A("switch_w_um") + A("switch_p_w_um"))
                * A("switch_l_um"))  # 3 TGs: 3 nFET and 3 pFET gates
        c_wl_cell = cox5_f_per_um2 * A("access_w_um") * A("access_l_um")
        energy = {"k_array": 1.0, "activity_default": 0.5, "e_arr_line_j": 0.0, "e_arr_0_j": 0.0,
                  "e_drv_row_j": c_sw * vdd ** 2, "e_drv_col_j": c_sw * vdd ** 2 / 3,
                  "e_drv_0_j": 0.0, "e_drv_act_j": 0.0,
                  "e_wl_row_j": 0.0, "e_wl_cell_j": c_wl_cell * (A("v_wl_read_v") - A("v_wl_low_v")) ** 2,
                  "e_wl_0_j": 0.0,
                  "p_neuron_w": spec.ibias_a * spec.m_tail * vdd,
                  "p_neuron_on_w": spec.ibias_a * spec.m_out * vdd, "e_neuron_0_j": 0.0,
                  "p_shared_w": spec.ibias_a * vdd}
        return cls(v_read_v=A("v_read_v"), v_ref_v=spec.v_ref_v, adc_fs_v=spec.adc_fs_v,
                   integ_gain=spec.gain, energy=energy, timing=timing,
                   source="ideal: closed form, ideal ADC, first-principles energy")

    @classmethod
    def load(cls, path: str | Path | None = None) -> MacroModel:
        """Load ``path``; None: the packaged default model if present, else :meth:`ideal`."""
        if path is None:
            res = resources.files("pycim.macro").joinpath("default_model.json")
            if not res.is_file():
                return cls.ideal()
            return cls.from_json(res.read_text(encoding="utf-8"))
        p = Path(path)
        if not p.is_file():
            raise InputError(f"model: file not found: {p}")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"model: {p} is not UTF-8 text (byte {exc.start}: "
                             f"{exc.reason})") from None
        except OSError as exc:
            raise InputError(f"model: cannot read {p} ({exc.strerror or exc})") from None
        return cls.from_json(text)

    @classmethod
    def packaged(cls, name: str = "default") -> MacroModel:
        """A model that ships with pycim, by name (:data:`PACKAGED`): ``default`` (the
        packaged default, :meth:`load`), ``polarity`` (fitted with the driven lines'
        per-polarity resistances on the default's sweeps and the spread full cores: what
        ``make fit`` writes to ``pycim/macro/polarity_model.json``; README, "Fitting")."""
        if not isinstance(name, str) or name not in PACKAGED:
            raise InputError(f"packaged model: unknown name {name!r} (one of "
                             f"{', '.join(PACKAGED)})")
        res = resources.files("pycim.macro").joinpath(PACKAGED[name])
        if not res.is_file():
            raise InputError(f"packaged model {name!r}: {PACKAGED[name]} is missing (make fit)")
        return cls.from_json(res.read_text(encoding="utf-8"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MacroModel:
        """A model from its JSON text (:meth:`to_json`'s form).

        Every field is checked (:func:`_checked_fields`): the parameter sections are objects
        of known keys whose values are finite numbers within the sign their meaning demands,
        ``adc.inl_lsb`` holds one number per code, ``ranges`` [lo, hi] pairs; parameters the
        file leaves out take :meth:`ideal`'s values (the line's and ADC's: none, 0 / gain 1).

        Raises
        ------
        InputError
            One line naming the key and the bad value.
        """
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"model: not JSON ({exc})") from None
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            raise InputError(f"model: schema must be {SCHEMA!r}, got "
                             f"{d.get('schema') if isinstance(d, dict) else type(d).__name__!r}")
        known = {f for f in cls.__dataclass_fields__}
        extra = set(d) - known
        if extra:
            raise InputError(f"model: unknown keys {sorted(extra)}")
        f = _checked_fields(d, "model")
        base = cls.ideal()
        line = {**_line_defaults(), **f.get("line", {})}
        top = {k: f.get(k, getattr(base, k)) for k in
               ("v_read_v", "v_ref_v", "adc_fs_v", "integ_gain", "c_hold_eff_f",
                "c_sample_eff_f")}
        return cls(**top, line=line, line_backward=f.get("line_backward", {}),
                   adc={**_adc_defaults(), **f.get("adc", {})},
                   energy={**base.energy, **f.get("energy", {})},
                   timing={**base.timing, **f.get("timing", {})},
                   ranges=f.get("ranges", {}), fits=f.get("fits", {}),
                   source=f.get("source", ""))

    def with_(self, **changes) -> MacroModel:
        """A copy with some fields replaced (dict fields are replaced whole).

        The changed fields are checked with :meth:`from_json`'s rules
        (:func:`_checked_fields`).

        Raises
        ------
        InputError
            An unknown field, or a value :meth:`from_json` would refuse.
        """
        return replace(self, **_checked_fields(changes, "MacroModel.with_"))

    def for_direction(self, direction: str) -> MacroModel:
        """The model of one MVM direction: forward (source-lines sensed) is this model;
        backward (bit-lines sensed) takes ``line_backward`` over ``line``. The sensed line
        differs: a bit-line carries the RRAM ends of its cells, a source-line the access FETs'
        (junction capacitance, the word lines' overlap coupling), so the line's capacitance
        and offsets are fitted per direction (:func:`pycim.fit.fits.fit_line`)."""
        if direction not in ("forward", "backward"):
            raise InputError(f"direction must be forward or backward, got {direction!r}")
        if direction == "forward" or not self.line_backward:
            return self
        # both dicts were checked when they were set: no second check on this per-call path
        return replace(self, line={**self.line, **self.line_backward})

    def with_read_pulse(self, read_pulse_s: float) -> MacroModel:
        """A copy for another read pulse (``MvmRequest.read_pulse_s``): the pulse, the plane's
        time and the line's tracking time all change by the same amount (the schedule's
        ``rd<n>`` phase), so latency, the cells' conduction time and the settling follow."""
        if not (isinstance(read_pulse_s, (int, float)) and math.isfinite(read_pulse_s)
                and read_pulse_s > 0):
            raise InputError(f"read_pulse_s must be a positive number, got {read_pulse_s!r}")
        d = float(read_pulse_s) - self.timing["t_window_s"]
        t = dict(self.timing)
        for k in ("t_window_s", "t_read_s", "t_track_s"):
            t[k] += d
        return self.with_(timing=t)

    # -- transfer ---------------------------------------------------------------------------
    def effective_g_s(self, g_s):
        """Conductance a programmed cell shows in the array: G / (1 + G r_series).

        Apply it to G+ and G- before the closed form (:func:`pycim.flows.mvm.closed_form_planes`)
        whose result goes into :meth:`line_transfer`. Identity for the ideal model."""
        g = np.asarray(g_s, dtype=float)
        r = float(self.line.get("r_series_ohm", 0.0))
        return g if r == 0.0 else g / (1.0 + g * r)

    def drive_resistance_ohm(self, n_cells) -> np.ndarray:
        """Series resistance of a driven line of ``n_cells`` cells: its driver's on-resistance
        plus its wire, lumped (``r_drive_ohm + r_drive_cell_ohm n_cells``)."""
        ln = self.line
        return ln.get("r_drive_ohm", 0.0) + ln.get("r_drive_cell_ohm", 0.0) * np.asarray(
            n_cells, dtype=float)

    def _wired(self, g_pos_s, g_neg_s, direction: str):
        """(effective G+, effective G-, drive resistance per driven line, wire_scale)."""
        gp, gn = self.effective_g_s(g_pos_s), self.effective_g_s(g_neg_s)
        n_cells = gp.shape[1] if direction == "forward" else 2 * gp.shape[0]
        return gp, gn, self.drive_resistance_ohm(n_cells), float(self.line.get("wire_scale", 0.0))

    def lumped_operator(self, g_pos_s, g_neg_s, direction: str, mapping: str = "row_pair"):
        """:meth:`line_operator` without the wires' term (every line one node)."""
        gp, gn, r_d, _ = self._wired(g_pos_s, g_neg_s, direction)
        return line_operator(gp, gn, direction, mapping, r_d)

    def line_operator(self, g_pos_s, g_neg_s, direction: str, mapping: str = "row_pair"):
        """A with ``line volts - Vref = v_read * plane @ A`` (drive inputs x sensed neurons) on
        this model's effective conductances (:meth:`effective_g_s`) with every driven line
        behind :meth:`drive_resistance_ohm` (:func:`pycim.cim.closed_form.line_operator`), plus
        ``wire_scale`` times the wires' term (:func:`pycim.cim.closed_form.wire_correction`;
        a full core: 2.4 / 3.9 CPU-s forward / backward). Call it on :meth:`for_direction`'s
        model. The closed form N / S when all three are 0. The per-polarity departures
        (:meth:`polarity_coefs`) are not in it: they depend on the drives
        (:meth:`plane_lines` adds them)."""
        gp, gn, r_d, k = self._wired(g_pos_s, g_neg_s, direction)
        a = line_operator(gp, gn, direction, mapping, r_d)  # lumped_operator's, from these
        if k:
            a = a + k * wire_correction(gp, gn, direction, mapping, r_d, tol=WIRE_TOL)
        return a

    def plane_system(self, g_pos_s, g_neg_s, direction: str,
                     mapping: str = "row_pair") -> "PlaneSystem":
        """What :meth:`plane_lines` computes from the conductances alone, for a caller that
        keeps it (a :class:`pycim.macro.core.Core`): the lumped operator and, when the model
        resolves the wires, their factored network
        (:class:`pycim.cim.closed_form.WireSystem`)."""
        gp, gn, r_d, k = self._wired(g_pos_s, g_neg_s, direction)
        return PlaneSystem(direction, mapping, line_operator(gp, gn, direction, mapping, r_d),
                           wire_system(gp, gn, direction, mapping, r_d) if k else None,
                           self.polarity_system(g_pos_s, g_neg_s, direction, mapping))

    def polarity_coefs(self) -> np.ndarray:
        """The per-polarity departures (ohm, :data:`POLARITY_LINE_TERMS` order): a driven
        line's drive and series resistances above and below Vref minus the reference's
        (``r_drive_ohm``, ``r_series_ohm``); all 0 for a model without them."""
        return np.array([float(self.line.get(k, 0.0)) for k in POLARITY_LINE_TERMS])

    def polarity_system(self, g_pos_s, g_neg_s, direction: str, mapping: str = "row_pair"
                        ) -> PolaritySystem | None:
        """The per-polarity network about this model's own (its effective conductances and
        drive resistance, :class:`pycim.cim.polarity.PolaritySystem`); None when the
        model has no departures (:meth:`polarity_coefs`)."""
        if not np.any(self.polarity_coefs()):
            return None
        gp, gn, r_d, _ = self._wired(g_pos_s, g_neg_s, direction)
        return PolaritySystem(gp, gn, direction, mapping, r_d)

    def polarity_lines(self, planes, system: PolaritySystem, plane_weights=None
                       ) -> np.ndarray:
        """The per-polarity departures' share of the planes' lines (..., sensed), per unit
        read (:meth:`PolaritySystem.lines` with :meth:`polarity_coefs`; summed over the
        planes with ``plane_weights``, one per plane). Evaluated per plane: it is not linear
        in the drives (module docstring)."""
        return system.lines(planes, self.polarity_coefs(), plane_weights)

    def plane_lines(self, g_pos_s, g_neg_s, planes, direction: str,
                    mapping: str = "row_pair", system: "PlaneSystem | None" = None
                    ) -> np.ndarray:
        """``planes @ line_operator(...)`` for input planes (..., inputs): the same numbers,
        but the wires' term solved for these drives alone when they are fewer than two thirds
        of the inputs (a request's few planes on a full core: ~0.1-0.5 s, not the operator's
        2-4). A plane's solve costs about 1.3-1.9 of the operator's per-input solves (a plane
        drives many inputs at once, so the wires' fixed point takes more iterations); on a
        full core (``PYTHONPATH=. python benchmarks/wire_cost.py``) 0.5 / 1 / 1.5 x the
        inputs' count of planes cost 1.82 / 3.35 / 5.11 CPU-s forward against the operator's
        2.24, 2.77 / 4.79 / 6.89 backward against 3.78: break-even near 0.6-0.7 x.

        ``system``: :meth:`plane_system` of the same conductances, direction and mapping (kept
        by the caller: the lumped operator and the wires' factorisation are not recomputed;
        the same numbers).

        A model with per-polarity departures (:meth:`polarity_coefs`) adds their share
        (:meth:`polarity_lines`), which depends on each plane's signs: pass bit planes
        (levels -1, 0, 1), not summed drives."""
        planes = np.asarray(planes, dtype=float)
        k = float(self.line.get("wire_scale", 0.0))
        flat = planes.reshape(-1, planes.shape[-1])
        if system is not None and (system.direction, system.mapping) != (direction, mapping):
            raise ValueError(f"plane_lines: a {system.direction} / {system.mapping} system for "
                             f"a {direction} / {mapping} call")
        if k and 3 * flat.shape[0] >= 2 * planes.shape[-1]:
            v = planes @ self.line_operator(g_pos_s, g_neg_s, direction, mapping)
        else:
            if system is None:
                system = self.plane_system(g_pos_s, g_neg_s, direction, mapping)
            v = planes @ system.lumped
            if k:
                v = v + k * self.wire_lines(g_pos_s, g_neg_s, planes, direction, mapping,
                                            wires=system.wires)
        if np.any(self.polarity_coefs()):
            pol = system.polarity if system is not None else None
            if pol is None:
                pol = self.polarity_system(g_pos_s, g_neg_s, direction, mapping)
            v = v + self.polarity_lines(planes, pol)
        return v

    def wire_lines(self, g_pos_s, g_neg_s, planes, direction: str,
                   mapping: str = "row_pair", wires: WireSystem | None = None) -> np.ndarray:
        """The wires' term of :meth:`plane_lines` at ``wire_scale`` 1, solved for ``planes``
        (..., inputs) alone (:func:`pycim.cim.closed_form.wire_correction`); ``wires``: the
        same conductances' factored network, kept by the caller (:meth:`plane_system`)."""
        planes = np.asarray(planes, dtype=float)
        if wires is None:
            gp, gn, r_d, _ = self._wired(g_pos_s, g_neg_s, direction)
            wires = wire_system(gp, gn, direction, mapping, r_d)
        dv = wires.correction(planes.reshape(-1, planes.shape[-1]), tol=WIRE_TOL)
        return dv.reshape(*planes.shape[:-1], dv.shape[-1])

    # -- the held-line scheme ----------------------------------------------------------------
    def plane_weights(self, in_bits: int) -> np.ndarray:
        """Weight of each magnitude plane (LSB first) in the integrated value: a plane is read
        once, held and sampled 2^(n-1) times, sample k seeing r^k of it
        (:func:`pycim.cim.closed_form.held_plane_weights` with this model's capacitances)."""
        return held_plane_weights(_bits(in_bits, "in_bits"), self.c_hold_eff_f,
                                  self.c_sample_eff_f)

    def weight_sum(self, in_bits: int) -> float:
        """W = sum of :meth:`plane_weights`: the integrated value of a full-scale input, in
        units of one settled line (2^P - 1 for the binary scheme)."""
        return float(self.plane_weights(in_bits).sum())

    def input_levels(self, in_bits: int) -> np.ndarray:
        """Effective drive of every input magnitude m = 0..2^P - 1 (index m):
        sum_n w_n bit_n(m), so that sum_n w_n v_n = (sign(x) levels[|x|]) @ A is one matmul
        (1-bit inputs: [0, w_1])."""
        w = self.plane_weights(in_bits)
        m = np.arange(2 ** w.size)
        bits = (m[:, None] >> np.arange(w.size)[None, :]) & 1
        return bits @ w

    def drive(self, x, in_bits: int) -> np.ndarray:
        """Signed integer inputs -> their effective drives sign(x) levels[|x|] (float64).

        Parameters
        ----------
        x : array_like of integers (any shape; integer-valued floats are accepted) in the
            ``in_bits`` input range (:func:`pycim.macro.core.input_range`: [0, 1] for 1 bit,
            else [-(2^(b-1) - 1), 2^(b-1) - 1]), the range the MVM calls accept.
        in_bits : input width 1..8.

        Returns
        -------
        np.ndarray
            float64, the shape of ``x``.

        Raises
        ------
        InputError
            A bad width, a non-integer, masked or out-of-range input.
        """
        b = _bits(in_bits, "in_bits")
        x = unmasked(x, "x")
        if x.size:
            checked_inputs(x.reshape(1, -1), x.size, b)
        return self._drive(x, b)

    def _drive(self, x: np.ndarray, in_bits: int) -> np.ndarray:
        """:meth:`drive` of inputs the caller has checked (no check: the hot paths')."""
        x = np.asarray(x)
        lv = self.input_levels(in_bits)
        return np.sign(x) * lv[np.abs(x).astype(np.int64)]

    def settle_fraction(self, n_rows, g_sum_s):
        """Fraction of its final value a line reaches in the read pulse: it starts at Vref and
        charges C = c_settle + c_settle_row n_rows (hold capacitor, line and junctions) through
        its cells in parallel, so 1 - exp(-t_track g_sum / C) (1 when C = 0)."""
        ln = self.line
        c = ln.get("c_settle_f", 0.0) + ln.get("c_settle_row_f", 0.0) * np.asarray(n_rows, float)
        g = np.asarray(g_sum_s, dtype=float)
        if not np.any(c > 0):
            return np.ones(np.broadcast(c, g).shape)
        t = self.timing.get("t_track_s", 0.0)
        with np.errstate(divide="ignore", over="ignore"):
            return -np.expm1(-t * g / np.where(c > 0, c, 1.0)) * (c > 0) + (c <= 0)

    def memory(self, n_rows, g_sum_s) -> np.ndarray:
        """c = k_mem (1 - s): the share of the previous plane's held value a line still
        carries at the hold (it does not start from Vref: the track switch connects it to the
        hold capacitor, which keeps what the last plane's samples left, and an unsettled line
        keeps a fraction 1 - s of its start, :meth:`settle_fraction`)."""
        return self.line.get("k_mem", 0.0) * (1.0 - self.settle_fraction(n_rows, g_sum_s))

    def plane_line_weights(self, in_bits: int, n_rows, g_sum_s) -> np.ndarray:
        """Effective weight of each plane's ideal value per sensed line, (planes, lines): with
        the memory c (:meth:`memory`) plane n holds gain v_n + c held_(n-1), so plane j
        weighs sum_{n >= j} w_n c^(n-j) (the held plane weights w_n when c = 0)."""
        w = self.plane_weights(in_bits)
        c = np.atleast_1d(np.asarray(self.memory(n_rows, g_sum_s), dtype=float))
        out = np.empty((w.size, c.size))
        for j in range(w.size):
            out[j] = sum(w[n] * c ** (n - j) for n in range(j, w.size))
        return out

    def held_line_v(self, v_planes_v, n_rows, g_sum_s, act=None) -> np.ndarray:
        """Per-plane held line voltages (..., planes, lines) of per-plane closed forms: plane
        n is :meth:`settled_line_v` of its own value plus c times plane n-1's (the memory).
        ``act``: each plane's active fraction (:meth:`settled_line_v`), same shape."""
        v = np.asarray(v_planes_v, dtype=float)
        out = self.settled_line_v(v, n_rows, g_sum_s, act)
        c = self.memory(n_rows, g_sum_s)
        if np.any(c != 0):
            for k in range(1, v.shape[-2]):
                out[..., k, :] += c * out[..., k - 1, :]
        return out

    def line_gain(self, in_bits: int, n_rows, g_sum_s) -> np.ndarray:
        """The line transfer's gain near zero signal (settling and the gain terms, no cubic
        part) for an MVM of ``in_bits`` on lines of ``n_rows`` driven rows and conductance
        ``g_sum_s``: what :meth:`line_transfer` multiplies a small v_ideal by. A value <= 0
        means the gain terms are extrapolated far outside their fit."""
        return np.asarray(self._gain(np.zeros(1), self.weight_sum(in_bits), n_rows, g_sum_s))

    def _gain(self, v_ideal, w_sum, n_rows, g_sum):
        ln = self.line
        r = np.asarray(n_rows, dtype=float) / ROWS_REF
        g = np.asarray(g_sum, dtype=float) / G_REF_S
        u = v_ideal / (np.asarray(w_sum, dtype=float) * self.v_read_v)
        return self.settle_fraction(n_rows, g_sum) * (
            1.0 + ln["a0"] + ln["a_rows"] * r + ln["a_g"] * g + ln["a_rg"] * r * g
            + ln["a_cubic"] * u * u)

    def hold_pedestal_v(self, n_rows, n_cells) -> np.ndarray:
        """The hold capacitor's pedestal of one plane (V, line-referred; the module docstring):
        ``b_hold_v`` n_rows n_cells / 256^2, ``n_rows`` the cells on each sensed line,
        ``n_cells`` the cells on each driven line (the sensed lines)."""
        return (self.line.get("b_hold_v", 0.0) * np.asarray(n_rows, dtype=float)
                * np.asarray(n_cells, dtype=float) / CELLS_REF)

    def line_transfer(self, v_ideal_v, in_bits: int, n_rows, g_sum_s, act=None,
                      n_cells=None):
        """Line-referred voltage the neuron integrates over all samples of one MVM.

        Parameters
        ----------
        v_ideal_v : closed form sum_n w_n v_n with the held plane weights
            (:meth:`plane_weights`; volts, on :meth:`effective_g_s` conductances).
        in_bits : the MVM's input width (sets W = :meth:`weight_sum` and the sample count
            N = :func:`n_windows_for`).
        n_rows : driven physical rows. g_sum_s : per-output sum(G+ + G-) (broadcastable).
        act : the stacked active fractions (2, ...) summed like ``v_ideal_v`` (sum_n w_n
            act_n with the same plane weights; :func:`pycim.cim.closed_form.active_fraction`)
            for the ``b_act_v`` / ``b_load_v`` / ``b_act_line_v`` offset
            (:meth:`act_offset_v`); None: 0.
        n_cells : cells on each driven line (the sensed lines: forward n_out, backward
            2 n_in) for the hold pedestal (:meth:`hold_pedestal_v`); required when the model
            has one (``b_hold_v`` != 0).
        """
        v = np.asarray(v_ideal_v, dtype=float)
        w_sum = self.weight_sum(in_bits)
        off = w_sum * self._offset(self.line["b_line_v"], g_sum_s, n_rows) \
            + n_windows_for(in_bits) * self.line["b0_v"]
        if self.line.get("b_hold_v", 0.0):
            if n_cells is None:
                raise InputError("line_transfer: this model has a hold pedestal (b_hold_v): "
                                 "pass n_cells, the cells on each driven line")
            off = off + w_sum * self.hold_pedestal_v(n_rows, n_cells)  # held like the signal
        return self._gain(v, w_sum, n_rows, g_sum_s) * v + off + self.act_offset_v(act)

    def _offset(self, b_const, g_sum_s, n_rows):
        ln = self.line
        g = np.asarray(g_sum_s, dtype=float)
        off = b_const + ln["b_g_v"] * g / G_REF_S + ln["b_ig_v"] * G_INV_REF_S / g
        if ln.get("b_kick_v", 0.0):  # a kick the line has not yet relaxed at the hold
            off = off + ln["b_kick_v"] * (1.0 - self.settle_fraction(n_rows, g))
        return off

    def settled_line_v(self, v_plane_v, n_rows, g_sum_s, act=None):
        """Settled line voltage minus Vref of one read pulse (the line alone, no sample
        offset): the per-plane ``v_settled_v`` of the SPICE flow. ``act``: the plane's stacked
        active fractions per line (:func:`pycim.cim.closed_form.active_fraction`: the share
        of the line's conductance driven away from Vref, and the same weighted by the driven
        lines' load), which add :meth:`act_offset_v`; None: 0."""
        v = np.asarray(v_plane_v, dtype=float)
        out = self._gain(v, 1.0, n_rows, g_sum_s) * v + self._offset(self.line["b_line_v"],
                                                                      g_sum_s, n_rows)
        return out + self.act_offset_v(act)

    def act_offset_v(self, act):
        """``b_act_v`` act[0] + ``b_load_v`` act[1] + ``b_act_line_v`` act[2] of the stacked
        active fractions ``act`` (:func:`pycim.cim.closed_form.active_fraction`, (3, ...));
        0 for None."""
        b = self.act_coefs()
        if act is None or not any(b):
            return 0.0
        a = np.asarray(act, dtype=float)
        return b[0] * a[0] + b[1] * a[1] + b[2] * a[2]

    def act_coefs(self) -> tuple[float, float, float]:
        """(``b_act_v``, ``b_load_v``, ``b_act_line_v``): the weights of
        :meth:`act_offset_v`'s three active-fraction terms (0 where the model has none)."""
        return tuple(float(self.line.get(k, 0.0)) for k in ACT_TERMS)

    def lsb_v(self, out_bits: int) -> float:
        """Line-referred volts per output code step: 2 adc_fs / 2^out_bits / (C_s / C_i)."""
        b = _bits(out_bits, "out_bits", MAX_OUT_BITS)
        return 2.0 * self.adc_fs_v / 2 ** b / self.integ_gain

    def output_codes(self, y_code_units, out_bits: int, rng=None):
        """ADC: gain, offset, INL table (per code, for the fitted out_bits), noise if ``rng``,
        floor, clip to [-(2^(b-1)), 2^(b-1) - 1]. Returns int64."""
        b = _bits(out_bits, "out_bits", MAX_OUT_BITS)
        check_rng(rng)
        lo, hi = -(1 << (b - 1)), (1 << (b - 1)) - 1
        a = self.adc
        y = a["gain"] * np.asarray(y_code_units, dtype=float) + a["offset_lsb"]
        inl = a.get("inl_lsb", {}).get(str(b))
        if inl:
            tab = np.asarray(inl, dtype=float)
            idx = np.clip(np.floor(y), lo, hi).astype(np.int64) - lo
            y = y + tab[idx]
        if rng is not None and a["noise_lsb"] > 0:
            y = y + rng.normal(0.0, a["noise_lsb"], np.shape(y))
        return np.clip(np.floor(y), lo, hi).astype(np.int64)

    # -- energy / latency -------------------------------------------------------------------
    def latency_s(self, in_bits: int, out_bits: int, phases: int = 1) -> float:
        """One MVM: reset, one read pulse per plane, one integration step per sample,
        out_bits conversion steps and the first packet's extra parts (equals
        ``mvm_schedule(NeuronSpec(), in_bits, out_bits).t_stop``). ``phases=2``: the sum of its two one-phase slices
        (:func:`pycim.cim.phases.phase_widths`), as the engines run them."""
        if phases == 2:
            return sum(self.latency_s(i, o) for i, o in _phase_widths(in_bits, out_bits))
        nw = n_windows_for(in_bits)
        b = _bits(out_bits, "out_bits", MAX_OUT_BITS)
        t = self.timing
        return (t["t_base_s"] + n_planes_for(in_bits) * t["t_read_s"]
                + nw * t["t_int_step_s"] + (b - 1) * t["t_adc_step_s"]
                + (b > 1) * t.get("t_adc_first_extra_s", 0.0))

    def on_time_s(self, in_bits: int, out_bits: int) -> float:
        """Time the neuron's OTA second stage is enabled in one MVM: t_on_base + N t_on_int +
        (out_bits - 1) t_adc_step (equals the schedule's ``en``-high time)."""
        b = _bits(out_bits, "out_bits", MAX_OUT_BITS)
        t = self.timing
        return (t["t_on_base_s"] + n_windows_for(in_bits) * t["t_on_int_s"]
                + (b - 1) * t["t_adc_step_s"] + (b > 1) * t.get("t_adc_first_extra_s", 0.0))

    def energy_j(self, in_bits: int, out_bits: int, n_rows: int, n_cols: int, g_sum_s,
                 batch: int = 1, activity: float | None = None,
                 phases: int = 1, n_wl: int | None = None,
                 n_lines: int | None = None) -> dict[str, float]:
        """Energy of ``batch`` MVMs of one core, by group, plus ``total`` (joules).
        ``phases=2``: the sum of its two one-phase slices (:func:`pycim.cim.phases.phase_widths`).

        n_rows : driven physical lines; n_cols : sensed lines (neurons). n_wl : word lines
        pulsed, the array's physical rows (None: n_rows, the forward MVM's; a backward MVM
        drives the source-lines and pulses every row's word line, n_cols of them).
        n_lines : floating lines, the sensed ones and the transposable mapping's unsensed
        copies (None: n_cols): what the column switches, the word lines' cells and the lines'
        own term count; the neurons count n_cols.
        g_sum_s : total conductance of the array cells (an array is summed).
        activity : mean over the read pulses of (V_row - V_line)^2 / v_read^2 per conducting
        cell (default: the model's ``activity_default``).
        """
        if isinstance(batch, bool) or int(batch) != batch or batch < 1:
            raise InputError(f"batch must be an integer >= 1, got {batch!r}")
        if phases == 2:
            parts = [self.energy_j(i, o, n_rows, n_cols, g_sum_s, batch, activity, n_wl=n_wl,
                                   n_lines=n_lines)
                     for i, o in _phase_widths(in_bits, out_bits)]
            return {k: float(parts[0][k] + parts[1][k]) for k in parts[0]}
        npl = n_planes_for(in_bits)  # read pulses: inputs, drivers and word-lines switch once each
        n_wl = n_rows if n_wl is None else n_wl
        n_ln = n_cols if n_lines is None else n_lines
        t_lat = self.latency_s(in_bits, out_bits)
        t_on = self.on_time_s(in_bits, out_bits)
        e = self.energy
        act = e["activity_default"] if activity is None else float(activity)
        g_tot = float(np.sum(g_sum_s))
        out = {
            "array": e["k_array"] * act * g_tot * self.v_read_v ** 2 * npl
            * self.timing["t_window_s"] + npl * e["e_arr_line_j"] * (n_rows + n_ln)
            + e["e_arr_0_j"],
            "drivers": npl * ((e["e_drv_row_j"] + e["e_drv_act_j"] * act) * n_rows
                              + e["e_drv_col_j"] * n_ln) + e["e_drv_0_j"],
            "wordlines": npl * (e["e_wl_row_j"] * n_wl + e["e_wl_cell_j"] * n_rows * n_ln)
            + e["e_wl_0_j"],
            "neuron": n_cols * (e["p_neuron_w"] * t_lat + e["p_neuron_on_w"] * t_on
                                + e["e_neuron_0_j"]) + e["p_shared_w"] * t_lat,
        }
        out = {k: float(v * batch) for k, v in out.items()}
        out["total"] = float(sum(out[k] for k in GROUPS))
        return out

    # -- validity ---------------------------------------------------------------------------
    def check_range(self, **values) -> None:
        """Warn (:class:`OutOfRangeWarning`) for each value outside the range of its fit.

        Names without a recorded range (e.g. every name for the ideal model) are accepted.
        Values may be arrays: their min and max are checked."""
        for msg in self.range_warnings(**values):
            warnings.warn(msg, OutOfRangeWarning, stacklevel=2)

    def range_warnings(self, **values) -> list[str]:
        """The messages :meth:`check_range` warns with for these values (none: in range).
        A model fitted on data of a known circuit (one-value ranges of
        :data:`pycim.assumptions.CIRCUIT_PROVENANCE`: wires, line-driver widths) is also
        checked against the circuit pycim builds now (:mod:`pycim.assumptions`); the wires only
        when the model resolves them (``wire_scale`` nonzero; lumped, they are part of the
        fitted drive resistance)."""
        circuit = {name: float(assumptions.value(name))
                   for name in assumptions.CIRCUIT_PROVENANCE
                   if name != "wire_r_ohm_per_um" or float(self.line.get("wire_scale", 0.0))}
        out = []
        for name, val in {**circuit, **values}.items():
            rng = self.ranges.get(name)
            if rng is None or val is None:
                continue
            a = np.asarray(val, dtype=float)
            if a.size == 0:
                continue
            lo, hi = float(np.min(a)), float(np.max(a))
            tol = 1e-9 * max(abs(rng[0]), abs(rng[1]), 1e-30)
            if not (lo < rng[0] - tol or hi > rng[1] + tol):
                continue
            if name in circuit:
                what = "wires of" if name == "wire_r_ohm_per_um" else f"{name} ="
                out.append(f"model '{self.source}' was fitted on {what} {rng[0]:.4g} "
                           f"{assumptions.ASSUMPTIONS[name].unit}; pycim.assumptions' {name} "
                           f"is {lo:.4g}: its parameters may not hold (refit: make fit)")
            else:
                out.append(f"{name} = [{lo:.4g}, {hi:.4g}] lies outside the fitted range "
                           f"[{rng[0]:.4g}, {rng[1]:.4g}] of model '{self.source}'")
        return out


__all__ = ["SCHEMA", "MacroModel", "OutOfRangeWarning", "check_rng", "n_planes_for",
           "n_windows_for"]

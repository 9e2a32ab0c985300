"""Which assumption moves energy per MAC most: one-at-a-time perturbations of the fitted model.

No new SPICE runs: each assumption acts on the fitted :class:`~pycim.macro.model.MacroModel`
(:func:`pycim.report.data.fit_energy_model`) through the physics of the term it feeds, stated in
:data:`RULES` and shown in the report's table:

* OTA bias ``neuron_ibias_a``: every bias-derived current scales with it: each neuron's first
  stage (``m_tail`` units, always on), its gated second stage (``m_out`` units, while ``en`` is
  high: the model's on-time) and the core's one shared reference (one unit); the rest (clocks,
  switches, capacitors) does not.
* supply ``vdd_v``: the bias-driven powers scale with vdd, everything else the supply charges
  (neuron clocks and capacitors, driver gates) with vdd^2.
* clock (integration and ADC step times, ``neuron_t_*``): latency scales, so does the energy the
  neurons burn per MVM (static power x latency) and the cells' conduction time.
* ``v_read_v``: cell dissipation G V^2 scales with v_read^2, the charge the input rails put on
  the lines (``e_arr_line_j``) with v_read.
* ``v_wl_read_v``: word-line C V^2 scales with the swing (V_WL - V_WL,low)^2.
* ``wire_c_f_per_um``: the word-line wire's share of the per-cell WL energy,
  c_wire pitch_x V_WL^2, and the driven lines' wire charge c_wire pitch_x n_cols v_read V_rail.
* ``neuron_c_sample_f`` / ``neuron_c_integ_f``: the charge the capacitors take from the supplies
  per step (C_s v_read vdd per integration step, C_s fs vdd per ADC packet); the OTA bias is held
  fixed (a bigger C with the same settling needs more bias: see the OTA-bias bar for that).
* ``g_max_s``: the mean cell conductance, hence cell dissipation, moves with g_max.
* ``switch_w_um``, ``switch_p_w_um``: the driver switches' gate charge (the fitted driver energy)
  scales with their width (both scaled together).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from .. import assumptions
from ..errors import InputError
from ..specs.neuron import NeuronSpec
from . import data, paper

A = assumptions.value


def _static_w(vdd_scale: float = 1.0, bias_scale: float = 1.0) -> float:
    s = NeuronSpec()
    return s.ibias_a * bias_scale * (1 + s.m_tail + s.m_out) * s.vdd_v * vdd_scale


def _with_energy(model, **changes):
    return model.with_(energy={**model.energy, **changes})


def _ibias(model, f, in_bits):
    s, e = NeuronSpec(), model.energy
    unit_w = (f - 1.0) * s.ibias_a * s.vdd_v
    return _with_energy(model, p_neuron_w=e["p_neuron_w"] + unit_w * s.m_tail,
                        p_neuron_on_w=e["p_neuron_on_w"] + unit_w * s.m_out,
                        p_shared_w=e["p_shared_w"] + unit_w)


def _vdd(model, f, in_bits):
    e = model.energy
    q = f * f
    return _with_energy(model, p_neuron_w=e["p_neuron_w"] * f,
                        p_neuron_on_w=e["p_neuron_on_w"] * f,
                        e_neuron_0_j=e["e_neuron_0_j"] * q, p_shared_w=e["p_shared_w"] * f,
                        e_drv_row_j=e["e_drv_row_j"] * q, e_drv_col_j=e["e_drv_col_j"] * q,
                        e_drv_0_j=e["e_drv_0_j"] * q, e_drv_act_j=e["e_drv_act_j"] * q)


def _vread(model, f, in_bits):
    e = model.energy
    return _with_energy(model, k_array=e["k_array"] * f * f,
                        **{k: e[k] * f for k in ("e_arr_line_j", "e_arr_0_j") if k in e})


def _clock(model, f, in_bits):
    return model.with_(timing={k: v * f for k, v in model.timing.items()})


def _scale(*keys, power: int = 1):
    def fn(model, f, in_bits):
        return _with_energy(model, **{k: model.energy[k] * f ** power for k in keys})
    return fn


def _wl_high(model, f, in_bits):
    # the WL swings v_wl_low_v <-> v_wl_read_v: energy per unit C is the swing squared (net of
    # both rails), so scaling the high level by f scales it by ((f Vh - Vl) / (Vh - Vl))^2
    vh, vl = A("v_wl_read_v"), A("v_wl_low_v")
    k = ((f * vh - vl) / (vh - vl)) ** 2
    return _with_energy(model, **{key: model.energy[key] * k
                                  for key in ("e_wl_row_j", "e_wl_cell_j", "e_wl_0_j")})


def _wire_c(model, f, in_bits):
    # WL wire per cell; driven-line wire per row (charged by v_read from a ~Vref rail per window)
    c_cell = A("wire_c_f_per_um") * A("cell_pitch_x_um")
    d_cell = (f - 1.0) * c_cell * (A("v_wl_read_v") - A("v_wl_low_v")) ** 2
    n = paper.CORE_COLS
    d_row = (f - 1.0) * c_cell * n * A("v_read_v") * (A("v_ref_v") + A("v_read_v"))
    e = model.energy
    return _with_energy(model, e_wl_cell_j=e["e_wl_cell_j"] + d_cell,
                        e_drv_row_j=e["e_drv_row_j"] + d_row)


def _caps(model, f, in_bits):
    from ..macro.model import n_windows_for

    s = NeuronSpec()
    # per neuron and MVM: integration steps charge C_s by ~v_read, ADC packets by ~fs, C_i is
    # reset once; all from vdd, spread over the latency as an equivalent per-neuron power
    ob = data.sim_out_bits(in_bits)
    lat = model.latency_s(in_bits, ob)
    e_int = s.c_sample_f * A("v_read_v") * s.vdd_v * n_windows_for(in_bits)
    e_adc = s.c_sample_f * s.adc_fs_v * s.vdd_v * ob + s.c_integ_f * s.adc_fs_v * s.vdd_v
    return _with_energy(model, p_neuron_w=model.energy["p_neuron_w"]
                        + (f - 1.0) * (e_int + e_adc) / lat)


def _gmax(model, f, in_bits):
    g0, g1 = A("g_min_s"), A("g_max_s")
    ratio = (2 * g0 + (f * g1 - g0) * 0.5) / (2 * g0 + (g1 - g0) * 0.5)
    return _with_energy(model, k_array=model.energy["k_array"] * ratio)


@dataclass(frozen=True)
class Rule:
    """How one assumption (or a group of them) acts on the fitted model."""

    name: str  # assumption name(s) in pycim.assumptions
    label: str
    law: str  # the scaling, in words, for the table
    apply: Callable


RULES: tuple[Rule, ...] = (
    Rule("neuron_ibias_a", "OTA bias current", "bias-driven OTA power ∝ I_bias", _ibias),
    Rule("vdd_v", "supply (neuron, drivers)", "bias-driven ∝ vdd, switching ∝ vdd²", _vdd),
    Rule("neuron_t_*", "clock (step times)", "latency ∝ step time; static energy ∝ latency",
         _clock),
    Rule("v_read_v", "read voltage", "cell G·V² ∝ v_read², line charge ∝ v_read", _vread),
    Rule("v_wl_read_v", "WL high level", "word-line energy ∝ (V_WL - V_WL,low)²", _wl_high),
    Rule("wire_c_f_per_um", "wire capacitance", "WL and driven-line wire C·V² per cell", _wire_c),
    Rule("neuron_c_sample_f, neuron_c_integ_f", "C_sample and C_integ (bias fixed)",
         "capacitor charge per step from vdd", _caps),
    Rule("g_max_s", "conductance window top", "cell energy ∝ mean G", _gmax),
    Rule("switch_w_um, switch_p_w_um", "driver switch widths", "driver gate charge ∝ W",
         _scale("e_drv_row_j", "e_drv_col_j", "e_drv_0_j", "e_drv_act_j")),
)


class Undefined(Exception):
    """A rule that does not apply to this fit (e.g. it would make a coefficient negative)."""


def _check_coefficients(before, after, rule: Rule, f: float) -> None:
    """Refuse (:class:`Undefined`) a perturbed model whose energy coefficient went negative: a
    rule that adds the assumption's physical share (the OTA bias, the wires) to a coefficient
    the fit set below that share (it put the power in another term, or found none)."""
    for k, v in after.energy.items():
        if isinstance(v, (int, float)) and v < 0:
            raise Undefined(f"at x{f:g} {rule.name} would make the fitted {k} negative "
                            f"({before.energy[k]:.3g} -> {v:.3g}): the fit holds less than "
                            f"that assumption's share in {k}, so the rule is not defined on "
                            f"this fit")


def sensitivity(fit: data.EnergyFit, in_bits: int = 4, rel_step: float = 0.2,
                skipped: bool = False):
    """Core energy per MAC with each assumption at (1 - step) and (1 + step) of its value,
    relative to the nominal; sorted by the largest swing first. A rule not defined on this fit
    (:class:`Undefined`) is left out; with ``skipped`` the result is (rows, [{"assumption",
    "label", "reason"}] of the rules left out)."""
    nominal = data.core_point(fit, in_bits)["energy_per_mac_j"]
    out, left_out = [], []
    for r in RULES:
        rel = {}
        try:
            for tag, f in (("low", 1.0 - rel_step), ("high", 1.0 + rel_step)):
                with _undefined_on_invalid(r, f):
                    m = r.apply(fit.model, f, in_bits)
                _check_coefficients(fit.model, m, r, f)
                pert = data.EnergyFit(m, fit.residuals, fit.sizes, fit.in_bits)
                rel[tag] = data.core_point(pert, in_bits)["energy_per_mac_j"] / nominal - 1.0
        except Undefined as exc:
            left_out.append({"assumption": r.name, "label": r.label, "reason": str(exc)})
            continue
        out.append({"assumption": r.name, "label": r.label, "law": r.law,
                    "rel_change_low": rel["low"], "rel_change_high": rel["high"],
                    "swing": abs(rel["high"] - rel["low"])})
    out.sort(key=lambda d: -d["swing"])
    return (out, left_out) if skipped else out


@contextmanager
def _undefined_on_invalid(rule: Rule, f: float):
    """The model's own refusal of a perturbed coefficient (MacroModel.with_) as :class:`Undefined`."""
    try:
        yield
    except InputError as exc:
        raise Undefined(f"at x{f:g} {rule.name} would make a fitted coefficient negative "
                        f"({exc}): the fit holds less than that assumption's share in it, so "
                        f"the rule is not defined on this fit") from None


__all__ = ["RULES", "Rule", "Undefined", "sensitivity"]

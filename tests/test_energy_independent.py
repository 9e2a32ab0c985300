"""MVM energy against quantities computed outside the code under test: every source's
integral of V * I recomputed from the saved waveforms and grouped by the test's own rules, the
word-line energy against C V^2 of the word-line nets (oxide, overlap and wire capacitances
written out), and the neuron supply against the OTA's bias current from a separate operating
point."""

from __future__ import annotations

import numpy as np
import pytest

from pycim import assumptions
from pycim.cim.request import MvmRequest
from pycim.dispatch import run_mvm
from pycim.netlist.neuron import NeuronSpec

EPS0_F_PER_M = 8.8541878128e-12


def _group_of(source: str) -> str:
    """The energy group of a source, from the README's definition of the groups: input rails
    (vpos / vneg / the drivers' Vref rail vrefd) or ideal row sources (vdbl*) feed the array;
    driver switch controls (vcbl*, vcsl*) are ``drivers``; the two WL rails and the WL
    inverters' inputs (vwlh, vwll, vwc*) are ``wordlines``; the neurons' supply, reference,
    clocks and DAC
    references (vdd, vref, vnc_*) are ``neuron``."""
    if source in ("vpos", "vneg", "vrefd") or source.startswith("vdbl"):
        return "array"
    if source.startswith(("vcbl", "vcsl")):
        return "drivers"
    if source in ("vwlh", "vwll") or source.startswith("vwc"):
        return "wordlines"
    if source in ("vdd", "vref") or source.startswith("vnc_"):
        return "neuron"
    raise AssertionError(f"source {source!r} has no group in the README's definition")


def _is_control(source: str) -> bool:
    """Control waveforms (README: counted as CMOS drivers from a rail at their high level):
    the line drivers' switch gates, the WL inverters' inputs, the neurons' clocks (not the
    neurons' DAC reference pair)."""
    return (source.startswith(("vcbl", "vcsl", "vwc"))
            or (source.startswith("vnc_") and "vdac" not in source))


def _rising_charge(t, v, i) -> float:
    """Charge a control waveform's CMOS driver draws from its rail, from the saved waveform:
    the net charge the source pushes out between the starts of consecutive level changes of
    its voltage (where it begins to move after being flat), summed where positive. Net per
    level, so the trapezoidal rule's undamped ringing of the current cancels."""
    t, v = np.asarray(t, dtype=float), np.asarray(v, dtype=float)
    out = -np.asarray(i, dtype=float)  # pushed out of the + terminal
    q = np.concatenate([[0.0], np.cumsum(np.diff(t) * 0.5 * (out[1:] + out[:-1]))])
    moving = np.abs(np.diff(v)) > 1e-9
    starts = np.flatnonzero(moving[1:] & ~moving[:-1]) + 1  # flat, then moving
    cuts = np.concatenate([[0], starts, [t.size - 1]])
    return float(np.maximum(np.diff(q[cuts]), 0.0).sum())


def _source_energies(res) -> dict[str, float]:
    """-integral V(+) I dt of every source whose current was saved (every source is grounded
    on its - side in these netlists; the + node is the source's name without or with its
    leading 'v'); a control waveform (:func:`_is_control`) as max(V) x the charge it pushes
    out per level (:func:`_rising_charge`: a CMOS driver's C V^2 per cycle; an ideal ramp
    would take half of it back)."""
    t = res["time"]
    names = set(res.names)
    out = {}
    for vec in res.names:
        if not vec.startswith("i("):
            continue
        src = vec[2:-1]
        node = src if src in names else src[1:]
        assert node in names, f"no terminal voltage saved for {src}"
        if _is_control(src):
            out[src] = float(np.max(res[node])) * _rising_charge(t, res[node], res[vec])
        else:
            out[src] = -float(np.trapezoid(res[node] * res[vec], t))
    return out


@pytest.fixture(scope="module")
def two_sizes():
    """4 x 4 and 4 x 8 signed weights (8 physical rows), the same 2-bit inputs: one input
    window, SKY130 drivers, access FETs and wires."""
    rng = np.random.default_rng(20)
    x = rng.integers(-1, 2, (1, 4))
    x[0, 0] = 1
    runs = {}
    for n_out in (4, 8):
        wf: dict = {}
        out = run_mvm(MvmRequest(rng.uniform(-1, 1, (4, n_out)), x, 2, 4), progress=False,
                      waveforms=wf)
        runs[n_out] = (out, wf)
    return runs


def test_groups_are_the_sum_of_their_own_sources(two_sizes):
    """Each reported group equals the test's own sum of its sources' integral of V * I; a source
    moved to another group, a dropped source or a sign error would show."""
    for out, wf in two_sizes.values():
        per_src = _source_energies(wf["result"])
        mine: dict[str, float] = {}
        for s, e in per_src.items():
            mine[_group_of(s)] = mine.get(_group_of(s), 0.0) + e
        rep = out["energy_j"]
        assert set(mine) == set(rep) - {"total"}
        for g, v in mine.items():
            assert rep[g] == pytest.approx(v, rel=1e-9, abs=1e-21), g
        total = sum(per_src.values())
        assert rep["total"] == pytest.approx(total, rel=1e-9)
        assert out["energy_per_mac_j"] == pytest.approx(total / (4 * len(out["code"][0])),
                                                        rel=1e-9)


def test_wordline_energy_is_drawn_from_both_rails(two_sizes):
    """The WL inverters run between the high rail VWLH (v_wl_read_v) and the low rail VWLL
    (v_wl_low_v): the reported ``wordlines`` energy is the test's own integral of V * I of both
    rails plus the inverters' input sources (vwc*), from the saved waveforms. Both rails carry
    energy (the high rail delivers the charge that lifts the WLs, the low rail takes it back
    when they fall, so its integral is negative), so dropping either from the group would
    show."""
    for out, wf in two_sizes.values():
        res = wf["result"]
        t = res["time"]
        # each rail source drives the net of its own name
        e = {s: -float(np.trapezoid(res[s] * res[f"i({s})"], t)) for s in ("vwlh", "vwll")}
        assert np.allclose(res["vwlh"], assumptions.value("v_wl_read_v"), atol=1e-9)
        assert np.allclose(res["vwll"], assumptions.value("v_wl_low_v"), atol=1e-9)
        wc = sum(float(np.max(res[v[2:-1][1:]]))
                 * float(np.trapezoid(np.maximum(-np.asarray(res[v]), 0.0), t))
                 for v in res.names if v.startswith("i(vwc"))  # CMOS drivers (README)
        rep = out["energy_j"]["wordlines"]
        print(f"\nVWLH {e['vwlh'] * 1e15:.1f} fJ, VWLL {e['vwll'] * 1e15:.1f} fJ, inputs "
              f"{wc * 1e15:.1f} fJ, reported {rep * 1e15:.1f} fJ")
        assert e["vwlh"] > 0 and e["vwll"] < 0
        assert min(abs(e["vwll"]), wc) > 1e-3 * abs(rep)  # each part would be noticed
        assert rep == pytest.approx(e["vwlh"] + e["vwll"] + wc, rel=1e-9)


def test_wordline_energy_per_cell_is_c_v_squared(two_sizes):
    """Four more cells per word-line (4 x 8 vs 4 x 4, same 8 rows, one window): the high rail
    charges each extra access gate and wire segment once from v_wl_low to v_wl (charge Q, energy
    Q v_wl) and the low rail takes Q back when the WL falls (energy -Q v_wl_low), so the extra
    net energy per cell, Q (v_wl - v_wl_low), lies between C_min dV^2 and C_max dV^2 with
    dV = v_wl - v_wl_low, C_min = the gate's two overlap capacitances + the WL wire of one pitch
    (always charged) and C_max = C_min + the full oxide capacitance eps_ox W L / t_ox (a gate
    never exceeds it). Counted on the two rails alone (the test's own integrals): the WL
    controls' count (vwc*, a CMOS driver's charge, which includes the inverter's Miller charge
    and so depends on the edge the load sets) is left out."""
    from pycim.netlist.array import AccessSpec

    card = dict(AccessSpec().card().model_params)
    w_m = assumptions.value("access_w_um") * 1e-6
    l_m = assumptions.value("access_l_um") * 1e-6
    c_ox = card["epsrox"] * EPS0_F_PER_M / card["toxe"] * w_m * l_m
    c_ov = (card["cgso"] + card["cgdo"]) * w_m
    c_wire = assumptions.value("wire_c_f_per_um") * assumptions.value("cell_pitch_x_um")
    v_wl = assumptions.value("v_wl_read_v") - assumptions.value("v_wl_low_v")
    c_min, c_max = c_ov + c_wire, c_ov + c_wire + c_ox
    e4, e8 = (sum(v for k, v in _source_energies(two_sizes[n][1]["result"]).items()
                  if k in ("vwlh", "vwll")) for n in (4, 8))
    n_rows, n_windows, d_cells = 8, 1, 4
    per_cell = (e8 - e4) / (n_rows * n_windows * d_cells)
    print(f"\nWL energy per cell {per_cell * 1e15:.2f} fJ; C V^2 bounds "
          f"{c_min * v_wl ** 2 * 1e15:.2f}..{c_max * v_wl ** 2 * 1e15:.2f} fJ")
    assert c_min * v_wl ** 2 <= per_cell <= c_max * v_wl ** 2


def test_neuron_supply_is_the_ota_bias_current(two_sizes):
    """vdd powers the OTAs (static), the latches and inverters (dynamic, a few fF x 1.8 V^2 per
    decision: < 0.1 % here). The OTA current comes from a separate operating point
    (``ota_metrics``). Upper bound: every neuron's OTA on for the whole schedule, + 2 % for the
    dynamic part and the output stage's channel-length modulation over the 0.4 V integrator
    swing. Lower bound: the OTA may drop its output-stage current while it is open-loop in a
    comparison and while it pulls its output back from the rail in the packet sampling after
    it (out_bits comparisons, hold and packet phases; also while integrating a code that
    clips, which these inputs do not), so only the rest of the schedule is guaranteed, - 2 %.
    (With the first DAC packet in two parts, 0.2 V read, the 8-neuron run drew 52.3 pJ against
    53.2 pJ for the compare phases alone.)"""
    from pycim.measure.neuron import ota_metrics

    spec = NeuronSpec()
    i_ota = ota_metrics(spec).i_supply_a
    for n_out, (out, wf) in two_sizes.items():
        code = np.array(out["code"])
        assert np.all((code > -8) & (code < 7))  # no clipped code: the bound's premise
        e_vdd = _source_energies(wf["result"])["vdd"]
        t = out["latency_s"]
        # + the charge the OTA's output stage delivers to C_integ from vdd: per neuron at
        # most C_i x the integrator's total movement, the samples' gain x v_read each (one
        # sample at 2-bit inputs) and the packets' fs / 2^k (< fs in all)
        swing = 1 * spec.gain * assumptions.value("v_read_v") + spec.adc_fs_v
        hi = n_out * spec.vdd_v * (i_ota * t * 1.02 + spec.c_integ_f * swing)
        # (each comparison, and the packet sampling after it, in which the OTA pulls its
        # output back from the comparator's rail: the first packet's extra part included)
        t_rail = (out["out_bits"] * (spec.t_compare_s + spec.t_hold_s + spec.t_packet_s)
                  + (spec.dac_first_parts - 1) * spec.t_packet_s)
        lo = n_out * spec.vdd_v * i_ota * (t - t_rail) * 0.98
        print(f"\n{n_out} neurons: vdd {e_vdd * 1e12:.1f} pJ in [{lo * 1e12:.1f}, "
              f"{hi * 1e12:.1f}]")
        assert lo <= e_vdd <= hi

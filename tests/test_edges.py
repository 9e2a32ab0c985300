"""Edges per MVM (issue 17, done-when): word-line and line-driver pulses COUNTED on the simulated
node voltages of transistor-level MVMs, and the neuron's average power in the MVM core.

The chip's scheme (NeuRRAM, Wan et al. Nature 2022; facts file): per magnitude bit plane the
inputs and word-lines are pulsed ONCE, the sensed line is held and re-sampled 2^(n-1) times;
inputs of 5-8 bits run as two phases (8 bits = 4 + 3 magnitude bits). The counts here come from
the simulated ``wl<r>`` (the WL inverter outputs, 0.9 <-> 2.2 V) and driven ``bl<r>`` nodes (the
SKY130 line drivers' outputs, Vref +- Vread), not from the PWL sources the generator wrote, and
the expectations are written out independently from x with numpy bit operations:

* WL rising crossings of (0.9 + 2.2) / 2 per row and phase = the phase's magnitude planes
  (in_bits - 1, 1 for 1-bit inputs; two phases: 4 and 3 at 8 bits), whatever x is, and strictly
  fewer than the phase's 2^planes - 1 integrations for in_bits >= 3 (the old scheme re-drove the
  WLs for every integration);
* per driven line, excursions beyond Vref +- Vread / 2 = the planes in which that input's
  magnitude bit is set, on the side of its sign (row 2i: +x, row 2i+1: -x), each inside a WL
  pulse.

The neuron's average power from the simulated supply current against bias x duty x VDD is
tested on the neuron's line bench in
``tests/test_neuron_held.py::test_neuron_power_from_supply_current`` (4-bit in / 6-bit out,
against the paper's 1.76 uW per neuron); here the same physics is measured in the MVM core
itself (SKY130 drivers, RRAM array, the core's one shared bias generator) at every width run.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pycim import assumptions
from pycim.cim.request import MvmRequest
from pycim.dispatch import run_mvm
from pycim.errors import SettlingWarning

#: 4 signed inputs x 2 outputs: 8 physical rows (row pairs), 2 neurons. |w| >= 0.5 keeps every
#: sensed line's conductance sum high, so 100 ns settles it (the flow checks: SettlingWarning is
#: an error here).
W = np.array([[0.8, -0.6], [-0.9, 0.7], [0.5, 0.9], [-0.7, -0.8]])
READ_PULSE_S = 100e-9
#: in_bits -> (out_bits, x): every input's bits differ, one input is 0 (its rows' WLs pulse all
#: the same, its drivers never leave Vref), both signs present.
CASES = {
    1: (3, [1, 0, 1, 1]),
    2: (4, [1, -1, 0, 1]),
    4: (6, [5, -3, 7, 0]),
    8: (10, [-93, 127, 0, 42]),  # two phases
}
#: Magnitude planes per phase, written from the paper (facts file), not from pycim.cim.phases:
#: one phase for 1-4 bits (1-bit inputs are 0/1: one plane), 8 bits = 4 (high) + 3 (low).
PLANES = {1: [1], 2: [1], 4: [3], 8: [4, 3]}
#: the bit positions of |x| each phase drives (high slice first, as the flow runs them)
PHASE_BITS = {1: [range(1)], 2: [range(1)], 4: [range(3)], 8: [range(3, 7), range(3)]}

V_WL_LOW, V_WL_HIGH = 0.9, 2.2  # the paper's WL swing
V_REF = assumptions.value("v_ref_v")
V_READ = assumptions.value("v_read_v")


class _Recorder(dict):
    """``waveforms`` for :func:`run_mvm` that keeps every transient (a two-phase MVM runs two;
    the flow's ``update`` would keep only the last)."""

    def __init__(self):
        super().__init__()
        self.runs: list[dict] = []

    def update(self, *args, **kw):
        super().update(*args, **kw)
        self.runs.append(dict(*args, **kw))


def _run(in_bits: int):
    import pycim.flows.mvm as flow

    out_bits, x = CASES[in_bits]
    orig = flow.saved_vectors

    def saved(core):  # also the WL inverters' outputs, the driven lines and the bias net
        s = core.spec
        return (orig(core) + [f"wl{r}" for r in range(s.array.rows)] + list(s.drive_lines)
                + [s.neuron.bias_net])

    wf = _Recorder()
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setattr(flow, "saved_vectors", saved)
        warnings.simplefilter("error", SettlingWarning)
        out = run_mvm(MvmRequest(W, np.array([x]), in_bits, out_bits,
                                 read_pulse_s=READ_PULSE_S), progress=False, waveforms=wf)
    return out, wf.runs


@pytest.fixture(scope="session")  # shared on one worker: tests/conftest.py
def runs():
    return {b: _run(b) for b in CASES}


def _crossings(v: np.ndarray, th: float) -> tuple[np.ndarray, np.ndarray]:
    """(rising, falling) sample indices where ``v`` crosses ``th``."""
    above = v > th
    return (np.flatnonzero(~above[:-1] & above[1:]) + 1,
            np.flatnonzero(above[:-1] & ~above[1:]) + 1)


def _count_edges(res, rows: int):
    """Per row: WL (rise times, fall times) through the midpoint of 0.9 / 2.2 V; driver
    excursion start times above Vref + Vread/2 and below Vref - Vread/2."""
    t = res["time"]
    wl_mid = (V_WL_LOW + V_WL_HIGH) / 2
    wl, up, down = [], [], []
    for r in range(rows):
        ri, fi = _crossings(res[f"wl{r}"], wl_mid)
        wl.append((t[ri], t[fi]))
        bl = res[f"bl{r}"] - V_REF
        up.append(t[_crossings(bl, V_READ / 2)[0]])
        down.append(t[_crossings(-bl, V_READ / 2)[0]])
    return wl, up, down


def _expected_driver_pulses(x: np.ndarray, bits: range) -> tuple[np.ndarray, np.ndarray]:
    """(up, down) pulses per physical row: popcount of |x| over ``bits``, on row 2i for x > 0
    and on row 2i+1 for x < 0 (row 2i drives +x, 2i+1 drives -x); 0 elsewhere."""
    mag = np.abs(x)
    n_set = sum((mag >> b) & 1 for b in bits)
    pos, neg = np.where(x > 0, n_set, 0), np.where(x < 0, n_set, 0)
    up = np.ravel(np.column_stack([pos, neg]))    # row 2i up if x > 0, row 2i+1 up if x < 0
    down = np.ravel(np.column_stack([neg, pos]))
    return up, down


@pytest.mark.parametrize("in_bits", sorted(CASES))
def test_wl_and_driver_edges_are_one_per_plane(runs, in_bits):
    out, trans = runs[in_bits]
    x = np.array(CASES[in_bits][1])
    rows = 2 * W.shape[0]
    assert out["phases"] == len(trans) == len(PLANES[in_bits])  # one transient per phase
    total_wl = 0
    for k, (tr, planes, bits) in enumerate(zip(trans, PLANES[in_bits], PHASE_BITS[in_bits])):
        res, sched = tr["result"], tr["schedule"]
        wl, up, down = _count_edges(res, rows)
        n_wl = [len(r) for r, _ in wl]
        n_up, n_down = [len(u) for u in up], [len(d) for d in down]
        exp_up, exp_down = _expected_driver_pulses(x, bits)
        integrations = sum(p.tag == "integrate" for p in sched.phases)
        print(f"\nin_bits {in_bits} phase {k}: WL pulses per row {n_wl} (planes {planes}), "
              f"driver + pulses {n_up} (expected {exp_up.tolist()}), - pulses {n_down} "
              f"(expected {exp_down.tolist()}), integrations {integrations}")
        # WLs: one pulse per magnitude plane on every row, the same pulse on all rows
        assert n_wl == [planes] * rows
        assert [len(f) for _, f in wl] == [planes] * rows
        rise0 = wl[0][0]
        for r, f in wl:
            assert np.allclose(r, rise0, atol=1e-9)
            assert np.all(f > r)
        # the old scheme re-drove them for every integration: 2^(n-1) per plane
        assert integrations == 2 ** planes - 1
        if planes >= 2:
            assert planes < integrations
        # drivers: one pulse per plane whose bit is set, on the side of the input's sign
        assert n_up == exp_up.tolist()
        assert n_down == exp_down.tolist()
        assert sum(n_up) + sum(n_down) > 0
        for t_start in np.concatenate(up + down):  # each inside one of the WL pulses
            assert np.any((rise0 < t_start) & (t_start < wl[0][1]))
        total_wl += rows * planes
    assert total_wl == rows * sum(PLANES[in_bits])


def test_neuron_power_in_the_mvm_core(runs):
    """Average VDD power per neuron in the MVM core, from the simulated supply current, against
    VDD x neuron_ibias_a x (m_tail + m_out x duty) (first stage always on, the power-gated
    second stage on while ``en`` is high); the shared bias generator's current (measured from its
    resistor) is taken out first. Tolerance 7 %: the estimate leaves out the mirrors'
    channel-length modulation (their V_DS differ from the diode reference's) and the comparator
    latch's and switches' dynamic currents, each a few per cent; 7 % still fails a bias current
    10 % off. The reference's own check (10 %) fails such a bias too: it already sits 6 % above
    0.5 uA, since rbias assumes V_GS = 0.66 V."""
    from pycim.specs.neuron import NeuronSpec

    ibias = assumptions.value("neuron_ibias_a")
    vdd = assumptions.value("vdd_v")
    m_tail, m_out = NeuronSpec.m_tail, NeuronSpec.m_out  # the design's bias units
    n_neurons = W.shape[1]
    for in_bits in sorted(CASES):
        for k, tr in enumerate(runs[in_bits][1]):
            res, sched, spec = tr["result"], tr["schedule"], tr["spec"]
            t = res["time"]
            t_stop = t[-1]
            p_vdd = -np.trapezoid(vdd * res["i(vdd)"], t) / t_stop
            i_ref = np.trapezoid((vdd - res[spec.bias_net]) / spec.rbias(), t) / t_stop
            p_neuron = (p_vdd - vdd * i_ref) / n_neurons
            duty = sum(b - a for a, b in sched.high_windows(spec.net("en"))) / t_stop
            est = vdd * ibias * (m_tail + m_out * duty)
            print(f"\nin_bits {in_bits} phase {k}: neuron {p_neuron * 1e6:.3f} uW (estimate "
                  f"{est * 1e6:.3f} uW, duty {duty:.3f}), reference {i_ref * 1e6:.3f} uA, "
                  f"t_stop {t_stop * 1e6:.3f} us")
            assert i_ref == pytest.approx(ibias, rel=0.1)
            assert p_neuron == pytest.approx(est, rel=0.07)

"""The partitioned MVM transient (pycim.flows.partition) against the full deck of the same core.

The reference is the full deck in the same simulator: the same circuit solved as one matrix;
the two must agree to the simulator's precision (``benchmarks/partition_error.py`` measures
the split on larger cores).
"""

from __future__ import annotations

import numpy as np
import pytest

from pycim.cim.request import MvmRequest
from pycim.flows.mvm import MVM_TIMEOUT_S, max_step_s, mvm_options, neuron_readout
from pycim.flows.partition import (SAMPLING_MISS, Partition, bias_energy_j, pwl_corners,
                                   run_vector, settling_miss)
from pycim.measure.energy import energy_by_group
from pycim.measure.neuron import read_neuron
from pycim.netlist.mvm_deck import mvm_deck, mvm_setup, saved_vectors
from pycim.netlist.neuron import conversion_bits
from pycim.sim import NgspiceEngine, Tran


def test_pwl_corners_keep_every_row_within_the_tolerance():
    t = np.linspace(0.0, 1.0, 2001)
    rows = np.array([np.sin(7 * t) * 1e-2, np.where(t < 0.3, 0.0, 1e-2 * (t - 0.3)),
                     1e-3 * np.exp(-t / 0.05)])
    for tol in (1e-5, 1e-4):
        idx = pwl_corners(t, rows, tol)
        assert idx[0] == 0 and idx[-1] == t.size - 1 and np.all(np.diff(idx) > 0)
        for r in rows:
            assert np.max(np.abs(np.interp(t, t[idx], r[idx]) - r)) <= tol
        assert idx.size < t.size / 5
    # a piecewise-linear row is rebuilt from its own corners (and the ends) alone
    knots = [0, 400, 1100, 1500, 2000]
    pl = np.interp(np.arange(t.size), knots, [0.0, 1.0, -0.5, -0.5, 2.0])
    assert pwl_corners(t, pl[None, :], 1e-9).tolist() == knots


@pytest.mark.parametrize("read_pulse_s,sampling", [(200e-9, False), (40e-9, True)])
def test_partitioned_mvm_equals_the_full_deck(read_pulse_s, sampling):
    """200 ns: the lines settle (the array stage carries the track/hold alone); 40 ns: they
    do not (tau ~8 ns), and the array stage carries the sampling switches too. Without them
    the 40 ns case's planes 2 and 3 differed by up to 1.1 mV and the integrator by 0.085 LSB
    (the hold capacitor entering each pulse at its last tracked value)."""
    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, (4, 8))  # 8 physical rows x 8 columns, 8 neurons
    x = np.array([[5, -7, 3, -2]])
    req = MvmRequest(w, x, 4, 6, read_pulse_s=read_pulse_s, seed=3)
    setup = mvm_setup(req)
    assert (settling_miss(req, setup, setup.neuron.t_edge_s) > SAMPLING_MISS) == sampling
    spec, sched = setup.neuron, setup.schedule
    tran = Tran(1e-9, sched.t_stop, max_step_s(spec, sched))
    eng = NgspiceEngine(timeout_s=MVM_TIMEOUT_S, options=mvm_options(spec, sched))
    part = run_vector(req, setup, 0, NgspiceEngine(timeout_s=MVM_TIMEOUT_S), eng, tran,
                      Partition(bank=4))  # two banks: the second one's bias is taken off
    core = mvm_deck(req, setup, 0)
    res = eng.run(core.circuit, tran, save=saved_vectors(core))
    v_lines, code = neuron_readout(res, core.neurons, sched, spec)
    v_int = np.array([read_neuron(res, sched, nd, spec).residues[0] for nd in core.neurons])
    e_full = energy_by_group(res, core.circuit, core.groups, core.logic)

    lsb_int = 2 * spec.adc_fs_v / 2 ** conversion_bits(sched)
    assert np.ptp(v_int) > 4 * lsb_int  # the outputs spread over codes
    # integrator before the conversion: the sum of every plane's samples
    assert np.max(np.abs(part.v_int - v_int)) < 0.05 * lsb_int
    assert np.max(np.abs(part.v_lines - v_lines)) < 0.15e-3  # of lines at up to 0.16 V
    # codes: a 0.02 LSB difference can still cross a decision boundary (one here)
    assert np.max(np.abs(part.codes - code)) <= 1 and np.count_nonzero(part.codes != code) <= 1
    # energy per group; the second bank's bias generator (taken off) is well above the budget
    e_bias = bias_energy_j(res, spec)
    assert e_bias > 0.02 * e_full["neuron"]
    for g in ("array", "drivers", "wordlines", "neuron", "total"):
        assert part.energy[g] == pytest.approx(e_full[g], rel=5e-3, abs=0.01e-12), g


def test_bank_bias_net_gets_its_share_of_the_core_decoupling():
    """A bank of k of a core's N neurons: (c_bias_f + N c_per_neuron) k / N on its bias net,
    so k simultaneous kicks move it as N move the core's; refused for k > N."""
    from pycim.errors import InputError
    from pycim.netlist.circuit import Capacitor, Circuit
    from pycim.netlist.neuron import add_neuron_bias
    from pycim.specs.neuron import NeuronSpec

    spec = NeuronSpec()

    def cap(**kw):
        c = Circuit("t")
        add_neuron_bias(c, spec, **kw)
        return sum(e.c_f for e in c.iter_elements() if isinstance(e, Capacitor))

    core = spec.c_bias_f + 256 * spec.c_bias_per_neuron_f
    assert cap(n_neurons=256) == pytest.approx(core)
    assert cap(n_neurons=4, core_neurons=256) == pytest.approx(core * 4 / 256)
    assert cap(n_neurons=4) == pytest.approx(spec.c_bias_f + 4 * spec.c_bias_per_neuron_f)
    with pytest.raises(InputError):
        cap(n_neurons=8, core_neurons=4)


def test_cli_partition_and_jobs(tmp_path, capsys):
    """``pycim mvm --partition --jobs 2`` gives the full deck's codes on a tiny ideal core (banks
    of neurons in worker processes), and so does the default (partitioned in ngspice: the
    result's ``partition`` says so); ``--jobs`` with ``--full-deck`` is refused, and so is
    ``--partition`` with ``--full-deck``."""
    import json

    from pycim.cli import main

    rng = np.random.default_rng(6)
    np.save(tmp_path / "w.npy", rng.uniform(-1, 1, (3, 20)))  # 20 sensed lines: two banks
    # every ideal output >= 0.06 LSB from a code boundary: with [1, -1, 1] one sat 0.01 LSB
    # from it and the two runs converted it differently (0 / -1), which moved that neuron's
    # conversion energy and the total by 1.0 % (fourteenth round)
    np.save(tmp_path / "x.npy", np.array([[1, 1, 1]]))
    base = ["mvm", "--weights", str(tmp_path / "w.npy"), "--x", str(tmp_path / "x.npy"),
            "--ideal", "--in-bits", "2", "--out-bits", "4"]  # one plane: the wiring, cheaply
    assert main(base + ["--full-deck", "--jobs", "2", "--json", str(tmp_path / "r.json")]) == 2
    assert "--full-deck" in capsys.readouterr().err and not (tmp_path / "r.json").exists()
    with pytest.raises(SystemExit):  # argparse: not allowed with each other
        main(base + ["--full-deck", "--partition", "--json", str(tmp_path / "r.json")])
    assert "not allowed" in capsys.readouterr().err and not (tmp_path / "r.json").exists()
    assert main(base + ["--full-deck", "--json", str(tmp_path / "full.json")]) == 0
    assert main(base + ["--partition", "--jobs", "2", "--json", str(tmp_path / "p.json")]) == 0
    assert main(base + ["--json", str(tmp_path / "d.json")]) == 0
    full, part, dflt = (json.loads((tmp_path / f).read_text())
                        for f in ("full.json", "p.json", "d.json"))
    assert (full["partition"], part["partition"], dflt["partition"]) == (False, True, True)
    for r in (part, dflt):
        assert np.max(np.abs(np.array(r["code"]) - np.array(full["code"]))) <= 1
        assert r["energy_j"]["total"] == pytest.approx(full["energy_j"]["total"], rel=5e-3)


def test_default_partitions_only_where_the_conversion_lsb_allows():
    """The default (partition None) splits the transient where PARTITION_ERR_PER_TRANSFER_V
    summed over the conversion stays a tenth of its LSB: the 4-bit / 6-bit default and the
    (6, 8) slices do, (8, 10)'s slices and 10-bit outputs do not (partitioned, the code tests'
    (8, 10) problem held 0.69 of its outputs within +-1 against 1.0 whole); a finer
    conversion runs whole and says so, and jobs > 1 is then reported unused."""
    import warnings

    from pycim.cim.request import phase_requests
    from pycim.flows.mvm import partition_within_lsb, run_mvm

    w = np.random.default_rng(2).uniform(-1, 1, (3, 4))
    expect = {(4, 6): [True], (4, 8): [True], (4, 10): [False], (6, 8): [True, True],
              (8, 10): [False, False]}
    for (a, b), want in expect.items():
        req = MvmRequest(w, np.ones((1, 3), int), a, b)
        reqs = phase_requests(req) if req.phases == 2 else (req,)
        got = []
        for r in reqs:
            s = mvm_setup(r)
            got.append(partition_within_lsb(s.neuron, s.schedule))
        assert got == want, (a, b)
    req = MvmRequest(w, np.array([[1, -1, 0]]), 2, 10, ideal=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = run_mvm(req, progress=False, jobs=2)
    assert out["partition"] is False
    assert any("jobs=2 unused" in str(c.message) for c in caught)

"""Diagnosis of the neuron's conversion error at small per-phase LSBs (issue 17, h42).

``python benchmarks/neuron_conv_diag.py IN_BITS OUT_BITS FS_V DV_MV [DV_MV ...] [name=value ...]
[save=FILE.npz] [max_step_s=S] [bypass=1]``

One neuron per ``DV_MV`` on the line bench (ideal 2 kOhm source, 100 fF line; the line at
Vref + DV during every plane's read pulse, Vref otherwise; no mismatch), one-phase schedule
``mvm_schedule(spec, IN_BITS, OUT_BITS)`` with ``adc_fs_v = FS_V`` (NeuronSpec overrides as
``name=value``). Per neuron, integrator-referred (V(o) - Vref, mV) and in LSB q = 2 FS / 2^B:

* ``v0``: the integrator's level after the reset (the starting offset);
* ``int_err``: v_int - v0 - (C_s/C_i) DV sum_n sum_k r^k (r from the closed form's droop);
* ``code`` vs ``floor(v_int / q)``: the conversion alone (``conv_err``, LSB);
* per comparison j: the residue r_j and its step from r_{j-1} against the ideal packet
  -d_{j-1} FS / 2^j (``pk_err_mv``), i.e. each packet's charge error;
* ``SUMMARY``: the mean starting level, the integration's offset per step and gain (least
  squares of int_err on the ideal), the packets' errors (j >= 2, and packet 1 by the sign
  decision before it), the conversion's and the total code error.

``save=`` writes the neurons' waveforms (npz), ``max_step_s=`` the transient's largest step
(default 2 ns; the MVM flow's 5 ns where the LSB allows); ``bypass=1``, ``reltol=``,
``vntol=``, ``abstol=``, ``chgtol=``, ``trtol=``: ngspice options (``bypass=1``: device bypass).

Measured (h42, tt, 2 shared cores), ``4 7 0.05 0 5 -5 15 -15``: with the switches as before
(``rst_sw_wp_um=0.9 az_sw_wp_um=0.9``) v0 +0.80 mV, +0.117 mV per integration, gain -0.75 %,
packets +0.146 mV each (packet 1: +0.35 / +0.17 mV after d = +1 / -1), codes +3.8 LSB on
average; with rst 1.2 um / az 1.14 um +0.007 mV, -0.001 mV, -0.75 %, +0.026 mV (+0.23 / +0.05),
+0.6 LSB (both with the bias net's 2 pF of then; with ``c_bias_per_neuron_f``, the defaults
now: +0.007 mV, +0.044 mV, -0.73 %, +0.012 mV (+0.13 / -0.05 mV), +1.0 LSB). The same with
``max_step_s=5e-9 bypass=1`` (the MVM flow's settings before h42): -0.29 mV, -0.153 mV per
integration, gain +3.5 %, packets -0.22 mV, codes up to 6 LSB off.

What is left is the comparator (the OTA open loop): at sub-mV residues its decision follows its
history. Switching to comparator mode kicks the output ~+50 mV whatever the residue (the fb /
cc switches opening; ~+20 mV if cy closes before fb opens, tried), the open-loop output then
moves only ~5 mV per 18 ns at a 0.1 mV residue, and when the latch turns transparent its
storage node (at the previous decision's rail) kicks the output ~190 mV towards the previous
decision: residues of -0.17 and -0.46 mV were decided positive after a positive decision on
the 16 x 16 ideal core's (6,8) high phase (16 neurons x 6 decisions; twice the compare time,
200 ns, did not change it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.neuron_issue17 import _spec


def main(in_bits, out_bits, fs_v, dvs_mv, overrides, save=None, max_step_s=2e-9,
         options=None):
    from pycim import assumptions
    from pycim.measure.neuron import read_neuron
    from pycim.netlist.neuron import line_testbench, mvm_schedule, n_planes, window_pwl
    from pycim.sim import NgspiceEngine, Tran

    spec = _spec([f"adc_fs_v={fs_v}"] + list(overrides))
    s = mvm_schedule(spec, in_bits, out_bits)
    npl = n_planes(in_bits)
    lines = [window_pwl(s, spec, [spec.v_ref_v + dv * 1e-3] * npl, spec.v_ref_v)
             for dv in dvs_mv]
    c, nodes = line_testbench(spec, s, lines, r_source_ohm=2e3, c_line_f=100e-15)
    res = NgspiceEngine(timeout_s=1200, options=options or {}).run(c, Tran(1e-9, s.t_stop, max_step_s), save=None)
    if save:
        np.savez(save, **{k: np.asarray(res[k]) for k in ["time"] + [
            getattr(nd, f) for nd in nodes for f in ("out", "x", "hold", "a", "b", "y", "q")]
            + [f"{nd.prefix}{k}" for nd in nodes for k in ("d1", "d2", "cco", "xa", "tail")]
            + [spec.bias_net]})
    ch = assumptions.value("neuron_c_hold_eff_f")
    r = ch / (ch + assumptions.value("neuron_c_sample_eff_f"))
    w = sum(sum(r ** k for k in range(1, 2 ** (n - 1) + 1)) for n in range(1, npl + 1))
    q = 2 * fs_v / 2 ** out_bits
    print(f"in {in_bits} out {out_bits} FS {fs_v} V q {q * 1e3:.3f} mV, t_stop "
          f"{s.t_stop * 1e6:.2f} us, droop weight {w:.3f} {' '.join(overrides)}")
    n_steps = sum(2 ** (n - 1) for n in range(1, npl + 1))
    summ = {"v0": [], "ie": [], "ideal": [], "pk": [], "pk1p": [], "pk1n": [], "conv": [],
            "tot": []}
    for dv, nd in zip(dvs_mv, nodes):
        ro = read_neuron(res, s, nd, spec)
        ideal = spec.gain * dv * 1e-3 * w
        ie = ro.v_int - ro.v_int0 - ideal
        fl = int(np.clip(np.floor(ro.v_int / q), -2 ** (out_bits - 1), 2 ** (out_bits - 1) - 1))
        fi = int(np.clip(np.floor(ideal / q), -2 ** (out_bits - 1), 2 ** (out_bits - 1) - 1))
        pk = [(ro.residues[j] - ro.residues[j - 1] + ro.decisions[j - 1] * fs_v / 2 ** j) * 1e3
              for j in range(1, out_bits)]
        print(f"DV {dv:+8.3f} mV: v0 {ro.v_int0 * 1e3:+.3f} mV  int_err {ie * 1e3:+.3f} mV "
              f"({ie / q:+.2f} LSB)  v_int {ro.v_int * 1e3:+.3f} mV = {ro.v_int / q:+.2f} q  "
              f"code {ro.code} floor(v_int/q) {fl} (conv_err {ro.code - fl:+d}) ideal {fi} "
              f"(total {ro.code - fi:+d})")
        summ["v0"].append(ro.v_int0)
        summ["ie"].append(ie)
        summ["ideal"].append(ideal)
        summ["pk"] += pk[1:]
        summ["pk1p" if ro.decisions[0] > 0 else "pk1n"].append(pk[0])
        summ["conv"].append(ro.code - fl)
        summ["tot"].append(ro.code - fi)
        print(f"    residues mV {np.round(ro.residues * 1e3, 3).tolist()}")
        print(f"    decisions {list(ro.decisions)}  pk_err_mv {np.round(pk, 3).tolist()}  "
              f"final {ro.v_final * 1e3:+.3f} mV")

    ie, ideal = np.array(summ["ie"]), np.array(summ["ideal"])
    a = np.stack([ideal, np.ones_like(ideal)], axis=1)
    (g, b), *_ = np.linalg.lstsq(a, ie, rcond=None)
    m = lambda v: float(np.mean(v)) if len(v) else float("nan")
    print(f"SUMMARY v0 {m(summ['v0']) * 1e3:+.3f} mV; integration: offset per step "
          f"{b / n_steps * 1e3:+.4f} mV ({n_steps} steps), gain {g * 100:+.2f} %; packets j>=2 "
          f"{m(summ['pk']):+.4f} mV each, packet 1 after d=+1 {m(summ['pk1p']):+.3f} / d=-1 "
          f"{m(summ['pk1n']):+.3f} mV; conversion error mean {m(summ['conv']):+.2f} LSB; "
          f"total code error mean {m(summ['tot']):+.2f} LSB, max |.| {max(map(abs, summ['tot']))}")


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) < 4:
        raise SystemExit(__doc__)
    run = {"save": None, "max_step_s": 2e-9}
    opts = {}  # ngspice options
    nums, ov = [], []
    for v in a[3:]:
        k = v.split("=", 1)[0]
        if "=" not in v:
            nums.append(float(v))
        elif k in run:
            run[k] = v.split("=", 1)[1]
        elif k in ("bypass", "reltol", "vntol", "abstol", "chgtol", "trtol"):
            opts[k] = float(v.split("=", 1)[1])
        else:
            ov.append(v)
    main(int(a[0]), int(a[1]), float(a[2]), nums, ov, run["save"], float(run["max_step_s"]),
         opts)

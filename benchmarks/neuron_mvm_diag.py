"""Where a two-phase MVM's phase codes go wrong, per neuron (issue 17, h42).

``python benchmarks/neuron_mvm_diag.py IN_BITS OUT_BITS hi|lo [VECTORS] [name=value ...]``

Runs one phase of the ``mvm_codes`` spread problem (tests/mvm_reference.py, 16 x 16 ideal core,
tt) as one-phase MVMs, one vector at a time (``VECTORS``: comma-separated indices, default
0,1,2), with NeuronSpec overrides ``name=value``, and reads every neuron out of the transient:

* the integrator voltage before the conversion against the independent reference
  (``v_int/q`` against ``y``, in the phase LSB q and mV), and a fit of that error on y;
* each DAC packet's error (``pk_err_mv``, as in benchmarks/neuron_conv_diag.py), the
  decisions, the residues and the comparisons decided against their residue's sign;
* for the last vector, the first neurons' line, hold node and held value per plane (the track
  switch's charge on C_hold), and the comparator output during the last three comparisons.

Measured (h42, defaults, ``6 8 hi 0``): v_int +0.70 mV (+0.22 LSB) above the reference, of
which the held line +0.13..+0.18 mV above the settled line gives ~+0.45 mV; DAC packet 1
+0.14..+0.36 mV after d = +1, -0.12..-0.19 mV after d = -1; two of 96 comparisons decided
against their residue (-0.17 and -0.46 mV decided positive: the comparator's output starts each
comparison ~+50 mV off and the transparent latch kicks it ~190 mV towards the previous
decision). Before the bias net's per-neuron decoupling the same run gave -1.29 mV (-0.41 LSB):
the virtual ground -0.3..-0.9 mV off at every s2b opening.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.neuron_issue17 import spec_kwargs


def main(in_bits, out_bits, which, vecs, overrides):
    import mvm_reference as ref

    import pycim.flows.mvm as fm
    from pycim.cim.request import MvmRequest
    from pycim.dispatch import run_mvm
    from pycim.measure.neuron import read_neuron
    from pycim.netlist.neuron import settled_read_times

    kw = spec_kwargs(overrides)
    saved = fm.saved_vectors
    fm.saved_vectors = lambda core: saved(core) + [nd.x for nd in core.neurons]
    fs = ref.matched_fs_two_phase_v(in_bits)
    w, x = ref.spread_problem_two_phase(in_bits, out_bits, 16, 16, fs_v=fs)
    (b_hi, b_p), (b_lo, _) = ref.phase_bits(in_bits, out_bits)
    x_hi, x_lo = ref.slices(x, in_bits)
    fs_p = ref.phase_fs_v(fs, in_bits)
    xs, bi = (x_hi, b_hi) if which == "hi" else (x_lo, b_lo)
    q = 2 * fs_p / 2 ** b_p
    errs = []
    for k in vecs:
        wf = {}
        with ref.neuron_defaults(**kw):
            out = run_mvm(MvmRequest(w, xs[k:k + 1], bi, b_p, phases=1, ideal=True,
                                     prog_tol_s=0.0, read_pulse_s=2 * ref.READ_PULSE_SMALL_S,
                                     adc_full_scale_v=fs_p), progress=False, waveforms=wf)
        y = np.asarray(ref.reference_y_g(out["g_pos_s"], out["g_neg_s"], xs[k:k + 1], bi, b_p,
                                         fs_p)).ravel()
        res, s, sp = wf["result"], wf["schedule"], wf["spec"]
        for j, nd in enumerate(wf["nodes"]):
            ro = read_neuron(res, s, nd, sp)
            e = ro.v_int / q - y[j]
            errs.append((y[j], e))
            pk = [(ro.residues[i] - ro.residues[i - 1] + ro.decisions[i - 1] * fs_p / 2 ** i)
                  * 1e3 for i in range(1, b_p)]
            wrong = [i for i in range(b_p) if (ro.residues[i] >= 0) != (ro.decisions[i] > 0)]
            print(f"vec {k} out {j:2d}: y {y[j]:+7.2f}  v_int/q {ro.v_int / q:+7.2f}  err "
                  f"{e:+.3f} LSB ({e * q * 1e3:+.3f} mV)  code {ro.code} floor(y) "
                  f"{int(np.floor(y[j]))} floor(v/q) {int(np.floor(ro.v_int / q))}")
            print(f"    pk_err_mv {np.round(pk, 3).tolist()} d {list(ro.decisions)} residues mV "
                  f"{np.round(ro.residues * 1e3, 3).tolist()} wrong decisions {wrong}")
    a = np.array(errs)
    g, b = np.polyfit(a[:, 0], a[:, 1], 1)
    print(f"SUMMARY {which} q {q * 1e3:.3f} mV: v_int error mean {a[:, 1].mean():+.3f} LSB, fit "
          f"gain {g * 100:+.2f} %, offset {b:+.3f} LSB ({b * q * 1e3:+.3f} mV)")
    t = res["time"]
    ts = settled_read_times(s, sp)
    for j, nd in enumerate(wf["nodes"][:4]):
        row = []
        for n in sorted(ts):
            vl = np.interp(ts[n], t, res[nd.line]) - sp.v_ref_v
            vh = np.interp(s.end(f"rd{n}_h"), t, res[nd.hold]) - sp.v_ref_v
            row.append(f"plane {n}: line {vl * 1e3:+.3f} held {vh * 1e3:+.3f} mV")
        print(f"out {j}: " + " | ".join(row))
        for c in range(max(b_p - 3, 0), b_p):
            t0, t1 = s.start(f"cmp{c}"), s.end(f"cmp{c}_h")
            tt = np.linspace(t0, t1, 12)
            print(f"    cmp{c}: V(o) - Vref mV " + " ".join(
                f"{(np.interp(u, t, res[nd.out]) - sp.v_ref_v) * 1e3:.1f}" for u in tt))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) < 3 or a[2] not in ("hi", "lo"):
        raise SystemExit(__doc__)
    rest = a[3:]
    vecs = [0, 1, 2]
    if rest and "=" not in rest[0]:
        vecs = [int(v) for v in rest[0].split(",")]
        rest = rest[1:]
    main(int(a[0]), int(a[1]), a[2], vecs, rest)

"""Why the packaged macro-model misses full cores whose outputs spread over the code range, and
what a refit on them does (issue 18 item 2; twenty-fifth round).

    PYTHONPATH=. python benchmarks/spread_refit.py gains [MODEL.json]
    PYTHONPATH=. python benchmarks/spread_refit.py network [R_DRIVE_OHM ...]
    PYTHONPATH=. python benchmarks/spread_refit.py polarity DIRECTION
    PYTHONPATH=. python benchmarks/spread_refit.py fit VARIANT OUT.json
    PYTHONPATH=. python benchmarks/spread_refit.py eval VARIANT MODEL.json

``gains``: for every full core of ``characterization/results/fit_full`` (random problems) and
``fit_spread`` (``spread = true``), the settled lines of the SPICE run and of the model (default
the packaged one), each regressed on the closed form (``v_ideal``, the conductance-weighted
average of the drives: no wires, no drivers): gain and offset. No fitting, about 10 s.

``network``: the packaged model's forward network alone (its wires, access-FET series
resistance and a drive resistance of each R_DRIVE_OHM, default 0 45 100 200; every gain,
offset and settling term at 0; the wires' share recomputed at each resistance) on the first
random and the first spread forward full core: the gain of its lines on the closed form. Can
one drive resistance give both cores' SPICE gains?

``polarity DIRECTION``: on every full core of ``fit_full``, ``fit_fine``, ``fit_sparse`` and
``fit_spread`` (20 ns reads) of one direction, three line models fitted by least squares on
the settled lines (about a minute): (a) the lumped network with one drive resistance and one
cell series resistance, a gain, an offset and the active-fraction offsets (share and load,
:func:`pycim.cim.closed_form.active_fraction`); (b) the same network with the drive
resistance and the cells' series resistance each per drive polarity of the driven line (+,
-, held at Vref), solved per plane, a gain and an offset, no active-fraction terms; (c) (b)
to first order about the network of the +/- means (:func:`_first_order_lines`: what a
``Core`` could compute with fixed matrices), at (b)'s values and refitted. All add the
packaged model's wire term (frozen at its own resistances); ``--own-share`` (forward) gives all
of them the packaged model's ``b_act_line_v`` term too. Printed: the fitted values and
the residual RMS / mean per core.

``fit VARIANT OUT.json``: ``pycim fit`` of the packaged model's five sweeps plus
``fit_spread``, with the model as :data:`VARIANTS` changes it (about 35 s each):

* ``as_is``: the model as it is;
* ``no_gain_terms``: its empirical gain terms (``a_rows``, ``a_g``, ``a_rg``, ``a_cubic``)
  held at 0, so the drivers' and wires' network alone sets the gain;
* ``current_load``: the active-fraction load term (``b_load_v``) on each driven line's
  current, drive minus the ideal sensed lines (``sum_k G_ik (u_i - V_k)``), instead of its
  conductance (``u_i sum_k G_ik``: the current with every sensed line at Vref);
* ``current_both``: ``current_load``, and backward the share term (``b_act_v``) on each
  driven line's current relative to its full-drive current;
* ``polarity``: ``pycim fit --polarity-terms``, the driven lines' drive and series
  resistances per drive polarity (twenty-sixth round, in the package:
  :class:`pycim.cim.polarity.PolaritySystem`; ``make fit`` writes it as
  ``pycim/macro/polarity_model.json``).

``eval VARIANT MODEL.json``: the model (with the variant's regressors) on every fit sweep
(settled lines and codes, as ``benchmarks/fit_residuals.py``), on the committed held-out
random full cores (``characterization/results/full_core_held_out``, as
``benchmarks/full_core_held_out.py eval``) and on the held-out spread full cores of the
committed ``make bench`` group ``macro_vs_spice_256_spread`` (codes macro - SPICE).

The ``current_*`` variants are an experiment here, not in the package: their regressors are
quadratic in the drives (a driven line's current depends on the sensed lines, which depend on
every drive), so :class:`pycim.macro.core.Core`'s fast path, linear in the drives'
magnitudes, cannot take them as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from pathlib import Path
from unittest import mock

import numpy as np

from pycim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "characterization" / "results"
#: the packaged model's sweeps (`make fit`) and the spread full cores
FIT_DIRS = ("fit", "fit_full", "fit_sparse", "fit_mid", "fit_fine", "fit_spread")
GAIN_TERMS = ("a_rows", "a_g", "a_rg", "a_cubic")
VARIANTS = ("as_is", "no_gain_terms", "current_load", "current_both", "polarity")


def current_fraction(g_pos, g_neg, planes, direction, mapping="row_pair", share=False):
    """:func:`pycim.cim.closed_form.active_fraction` with its load term (1.) on each driven
    line's current, ``u_i sum_k G_ik (u_i - V_k)`` (V_k the ideal sensed lines per unit
    read; ``u_i`` the drive level), weighted as before by the cell's conductance; with
    ``share``, backward, also its share term (0.) on that current over the line's full-drive
    current ``|u_i| sum_k G_ik``."""
    from pycim.cim import closed_form as cf

    base = cf.active_fraction(g_pos, g_neg, planes, direction, mapping)
    p = np.asarray(planes, dtype=float)
    n, s = cf.sense_views(g_pos, g_neg, direction, mapping)
    v = (p @ n) / s  # (..., sensed): ideal lines per unit read
    out = base.copy()
    if direction == "forward":  # row pair i: G+ row at +p_i, G- row at -p_i; mean field
        gp_r, gn_r = g_pos.sum(axis=1), g_neg.sum(axis=1)
        ui_p = np.abs(p) * gp_r - p * (v @ g_pos.T)
        ui_n = np.abs(p) * gn_r + p * (v @ g_neg.T)
        load = ((ui_p * gp_r).sum(-1) + (ui_n * gn_r).sum(-1)) / (g_pos + g_neg).sum()
        out[1] = np.broadcast_to((load / cf.G_LOAD_REF_S)[..., None], base[1].shape)
        return out
    g = n  # backward: (drive, sensed) conductances
    ui = np.abs(p) * g.sum(axis=1) - p * (v @ g.T)  # (..., drive)
    out[1] = (ui @ g) / s / cf.G_LOAD_REF_S
    if share:
        out[0] = ((ui / g.sum(axis=1)) @ g) / s
    return out


@contextlib.contextmanager
def variant_regressors(variant: str):
    """The variant's active fractions in the fit and the macro engine (a no-op for the
    variants that keep the package's)."""
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r} (one of {', '.join(VARIANTS)})")
    if not variant.startswith("current_"):
        yield
        return
    share = variant == "current_both"

    def f(g_pos, g_neg, planes, direction, mapping="row_pair"):
        return current_fraction(g_pos, g_neg, planes, direction, mapping, share)

    with mock.patch("pycim.fit.fits.active_fraction", f), \
            mock.patch("pycim.macro.engine.active_fraction", f):
        yield


def _line_fit(v_ideal, v) -> tuple[float, float]:
    x, y = np.ravel(v_ideal), np.ravel(v)
    a = np.c_[np.ones_like(x), x]
    c, *_ = np.linalg.lstsq(a, y, rcond=None)
    return float(c[1]), float(c[0])


def gains(model_path: str | None) -> None:
    from pycim.characterize.tables import load_results
    from pycim.fit.fits import mvm_points
    from pycim.macro.model import MacroModel

    warnings.simplefilter("ignore")
    m = MacroModel.load(model_path) if model_path else MacroModel.load()
    print("| sweep | direction | seed | closed form range [mV] | SPICE gain, offset [mV] | "
          "model gain, offset [mV] | model - SPICE RMS [mV] |")
    print("|---|---|---|---|---|---|---|")
    for d in ("fit_full", "fit_spread"):
        for pt in mvm_points(load_results(RESULTS / d)["mvm_fit"]):
            mm = pt.model(m)
            v = mm.held_line_v(pt.v_eff_planes(mm), pt.n_rows, pt.g_sum, pt.act)
            gs, os_ = _line_fit(pt.v_ideal, pt.v_settled)
            gm, om = _line_fit(pt.v_ideal, v)
            r = (v - pt.v_settled) * 1e3
            print(f"| {d} | {pt.direction} | {pt.p['seed']} | {pt.v_ideal.min() * 1e3:.0f} .. "
                  f"{pt.v_ideal.max() * 1e3:.0f} | {gs:.3f}, {os_ * 1e3:+.2f} | {gm:.3f}, "
                  f"{om * 1e3:+.2f} | {np.sqrt(np.mean(r ** 2)):.2f} |")


#: the line terms ``network`` holds at 0: all but the network's resistances and the wires
NETWORK_ZEROED = ("a0", "a_rows", "a_g", "a_rg", "a_cubic", "b0_v", "b_g_v", "b_ig_v",
                  "b_line_v", "b_kick_v", "b_act_v", "b_load_v", "b_act_line_v", "b_hold_v",
                  "k_mem", "c_settle_f", "c_settle_row_f")


def network(r_drive_ohm: list[float]) -> None:
    from pycim.characterize.tables import load_results
    from pycim.fit.fits import mvm_points
    from pycim.macro.model import MacroModel

    warnings.simplefilter("ignore")
    m = MacroModel.load()
    pts = []
    for d in ("fit_full", "fit_spread"):
        pts.append(next(pt for pt in mvm_points(load_results(RESULTS / d)["mvm_fit"])
                        if pt.direction == "forward"))
    print("| r_drive [Ω] | " + " | ".join(
        f"{'spread' if pt.p['spread'] else 'random'} seed {pt.p['seed']}: model network "
        f"(SPICE {_line_fit(pt.v_ideal, pt.v_settled)[0]:.3f})" for pt in pts) + " |")
    print("|---|" + "---|" * len(pts))
    for r in r_drive_ohm:
        net = m.with_(line={**m.line, **{k: 0.0 for k in NETWORK_ZEROED},
                            "r_drive_ohm": float(r)})
        gs = []
        for pt in pts:
            mm = pt.model(net)
            pt.wire_term(mm, refresh=True)  # the wires' share at this drive resistance
            v = mm.held_line_v(pt.v_eff_planes(mm), pt.n_rows, pt.g_sum, pt.act)
            gs.append(_line_fit(pt.v_ideal, v)[0])
        print(f"| {r:g} | " + " | ".join(f"{g:.3f}" for g in gs) + " |")


def _polar_points(direction: str):
    from pycim.characterize.tables import load_results
    from pycim.fit.fits import mvm_points
    from pycim.macro.model import MacroModel

    m = MacroModel.load().for_direction(direction)
    out = []
    for d in ("fit_full", "fit_fine", "fit_sparse", "fit_spread"):
        for pt in mvm_points(load_results(RESULTS / d)["mvm_fit"]):
            if pt.direction == direction and pt.p["n_in"] == 128 and pt.p["n_out"] == 256 \
                    and pt.p["read_pulse_s"] == 2e-8:
                out.append((d, pt, pt.wire_term(pt.model(m))))
    return m, out


def _lumped_lines(pt, u, r_drive, r_series):
    """Sensed lines per unit read of one plane's physical drive levels ``u`` (forward: the
    row pairs' +x, -x interleaved) with a drive resistance and a cell series resistance per
    physical driven line: :func:`pycim.cim.closed_form.line_operator` (the package's lumped
    network) on each cell's G / (1 + G r_series), applied to the plane."""
    from pycim.cim.closed_form import line_operator

    if pt.direction == "forward":  # driven rows: G+ rows even, G- rows odd
        gp = pt.g_pos / (1.0 + pt.g_pos * r_series[0::2, None])
        gn = pt.g_neg / (1.0 + pt.g_neg * r_series[1::2, None])
        x = u[0::2]
    else:  # driven columns
        gp = pt.g_pos / (1.0 + pt.g_pos * r_series[None, :])
        gn = pt.g_neg / (1.0 + pt.g_neg * r_series[None, :])
        x = u
    return x @ line_operator(gp, gn, pt.direction, "row_pair", r_drive)


def _first_order_lines(pt, u, r_drive, r_series, r_drive_ref, r_series_ref):
    """:func:`_lumped_lines` to first order in each line's resistances' departure from a
    reference network (``r_drive_ref``, ``r_series_ref``: scalars): the reference solution
    l0, each driven line's current in it, the drive's extra sag (a source step -dR I) and the
    cells' conductance change -G^2 dRs as currents into both ends, through the reference
    operators. What a ``Core`` would compute with fixed matrices: about six products per
    plane instead of one."""
    from pycim.cim.mapping import physical_conductances

    g0 = physical_conductances(pt.g_pos, pt.g_neg, "row_pair")
    g0 = g0.T if pt.direction == "backward" else g0
    g = g0 / (1.0 + g0 * r_series_ref)
    gr = g.sum(axis=1)
    k = 1.0 / (1.0 + r_drive_ref * gr)
    a = np.diag(g.sum(axis=0)) - (g.T * (r_drive_ref * k)) @ g
    t = np.linalg.solve(a, g.T * k)  # (floating, driven): sources -> floating lines
    l0 = t @ u
    gl = g @ l0
    r0 = (u + r_drive_ref * gl) * k  # driven nodes
    i0 = (gr * u - gl) * k  # each driven line's current into its cells
    dg = -(g * g) * (r_series - r_series_ref)[:, None]  # d(G_eff) of each cell
    inj = r0 @ dg - l0 * dg.sum(axis=0)  # extra current into each floating line
    di = r0 * dg.sum(axis=1) - dg @ l0  # extra current out of each driven node
    du = -(r_drive - r_drive_ref) * i0 - r_drive_ref * di
    return l0 + t @ du + np.linalg.solve(a, inj)


def polarity(direction: str, own_share: bool = False) -> None:
    from scipy import optimize

    from pycim import assumptions

    warnings.simplefilter("ignore")
    m, pts = _polar_points(direction)
    v_read = assumptions.value("v_read_v")
    wire = float(m.line.get("wire_scale", 0.0))

    def predict(x, polar, first_order=False):
        out = []
        for _, pt, wt in pts:
            v = np.empty_like(pt.v_settled)
            act = pt.act
            for b in range(pt.planes.shape[0]):
                for p in range(pt.planes.shape[1]):
                    x_in = pt.planes[b, p].astype(float)
                    u = x_in if direction == "backward" else np.ravel(
                        np.column_stack([x_in, -x_in]))  # row pair: +x on G+, -x on G-
                    sg = np.sign(u)
                    if polar:  # ohm in units of 100 (drive) and 1 k (series); mV
                        rp, rn, r0, sp, sn, s0, gain, off = x[:8]
                        rd = 100 * np.where(sg > 0, rp, np.where(sg < 0, rn, r0))
                        rs = 1e3 * np.where(sg > 0, sp, np.where(sg < 0, sn, s0))
                        extra = 1e-3 * x[8] * act[2, b, p] if own_share else 0.0
                    else:
                        r, sr, gain, off, b_act, b_load = x[:6]
                        rd, rs = np.full(u.size, 100 * r), np.full(u.size, 1e3 * sr)
                        extra = 1e-3 * (b_act * act[0, b, p] + b_load * act[1, b, p]
                                        + (x[6] * act[2, b, p] if own_share else 0.0))
                    if first_order:
                        lines = _first_order_lines(pt, u, rd, rs, 50 * (rp + rn),
                                                   500 * (sp + sn))
                    else:
                        lines = _lumped_lines(pt, u, rd, rs)
                    v[b, p] = v_read * lines * (1 + gain) + 1e-3 * off + extra
            out.append(v + v_read * wire * wt)
        return out

    def resid(x, polar, first_order=False):
        return np.concatenate([((v - pt.v_settled) * 1e3).ravel()
                               for v, (_, pt, _) in zip(predict(x, polar, first_order), pts)])

    own = (("b_act_line_mv",), [0.0]) if own_share else ((), [])
    for polar, names, x0 in (
            (False, ("r_drive_ohm/100", "r_series_ohm/1e3", "gain-1", "offset_mv",
                     "b_act_mv", "b_load_mv", *own[0]), [1.0, 3.0, 0, 0, 0, 0, *own[1]]),
            (True, ("r_drive+_ohm/100", "r_drive-_ohm/100", "r_drive0_ohm/100",
                    "r_series+_ohm/1e3", "r_series-_ohm/1e3", "r_series0_ohm/1e3", "gain-1",
                    "offset_mv", *own[0]), [1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 0, 0, *own[1]])):
        lo = [0.0 if n.startswith("r_") else -np.inf for n in names]
        sol = optimize.least_squares(resid, np.array(x0, float), bounds=(lo, np.inf),
                                     args=(polar,))
        what = "per-polarity network" if polar else "one network + active-fraction offsets"
        print(f"{direction}, {what}: "
              + ", ".join(f"{n} {v:.4g}" for n, v in zip(names, sol.x)))
        for (d, pt, _), v in zip(pts, predict(sol.x, polar)):
            r = (v - pt.v_settled) * 1e3
            print(f"    {d} seed {pt.p['seed']}: RMS {np.sqrt(np.mean(r ** 2)):.2f} mV, mean "
                  f"{r.mean():+.2f}")
        r = resid(sol.x, polar)
        print(f"    all {len(pts)} cores: RMS {np.sqrt(np.mean(r ** 2)):.3f} mV")
        if polar:  # the same values to first order about the +/- means, then refitted so
            r1 = resid(sol.x, True, True)
            d = r1 - r
            print(f"    to first order about the +/- means, same values: RMS "
                  f"{np.sqrt(np.mean(r1 ** 2)):.3f} mV (first order - exact: RMS "
                  f"{np.sqrt(np.mean(d ** 2)):.3f}, max {np.abs(d).max():.3f} mV)")
            sol1 = optimize.least_squares(resid, sol.x, bounds=(lo, np.inf),
                                          args=(True, True))
            r1 = resid(sol1.x, True, True)
            print("    to first order, refitted: " + ", ".join(
                f"{n} {v:.4g}" for n, v in zip(names, sol1.x))
                  + f"; all: RMS {np.sqrt(np.mean(r1 ** 2)):.3f} mV")


def fit(variant: str, out: str) -> int:
    from pycim.cli import main

    args = ["fit", *(str(RESULTS / d) for d in FIT_DIRS), "-o", out]
    if variant == "no_gain_terms":
        for t in GAIN_TERMS:
            args += ["--drop-term", t]
    if variant == "polarity":
        args.append("--polarity-terms")
    with variant_regressors(variant):
        return main(args)


def spread_held_out(model) -> None:
    """The packaged model's comparison of ``tests/test_held_out.py``'s spread cases, with
    ``model``: codes macro - SPICE on the committed SPICE codes."""
    from benchmarks.groups import spread_cases
    from pycim.characterize.kinds_fit import spread_problem
    from pycim.cim.request import MvmRequest
    from pycim.macro.engine import run_macro_mvm

    figs = json.loads((ROOT / "benchmarks" / "results.json").read_text())["figures"][
        "macro_vs_spice_256_spread"]
    for tag, bi, bo, fs, _, direction, seed in spread_cases():  # the group's own cases
        w, x = spread_problem(128, 256, bi, direction, seed)
        req = MvmRequest(w, x, bi, bo, seed=seed, direction=direction, engine="macro",
                         adc_full_scale_v=fs)
        cs = np.array(figs[tag]["codes_spice"])
        with warnings.catch_warnings(record=True) as wl:
            warnings.simplefilter("always")
            out = run_macro_mvm(req, model=model)
        e = np.asarray(out["code"]) - cs
        print(f"{tag} seed {seed}: SPICE {cs.min():.0f}..{cs.max():.0f}; macro - SPICE "
              f"RMS {np.sqrt(np.mean(e ** 2)):.3f} max {np.abs(e).max():.0f} mean "
              f"{e.mean():+.3f} LSB; energy macro / SPICE "
              f"{out['energy_j']['total'] / figs[tag]['energy_spice_j']:.4f}; "
              f"{len(wl)} warnings")


def evaluate(variant: str, model_path: str) -> None:
    from benchmarks import fit_residuals, full_core_held_out
    from pycim.macro.model import MacroModel

    model = MacroModel.load(model_path)  # a missing or bad file fails here, before any output
    with variant_regressors(variant):
        for d in FIT_DIRS:
            print(f"== {d}")
            fit_residuals.main(model_path, str(RESULTS / d))
        print("== held out, random full cores (characterization/results/full_core_held_out)")
        full_core_held_out.evaluate(model_path, RESULTS / "full_core_held_out")
        print("== held out, spread full cores (benchmarks/results.json, "
              "macro_vs_spice_256_spread)")
        spread_held_out(model)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gains")
    g.add_argument("model", nargs="?")
    n = sub.add_parser("network")
    n.add_argument("r_drive_ohm", nargs="*", type=float, default=[0.0, 45.0, 100.0, 200.0])
    po = sub.add_parser("polarity")
    po.add_argument("direction", choices=("forward", "backward"))
    po.add_argument("--own-share", action="store_true",
                    help="forward: both models also take the source-line's own active share "
                         "minus the array's (the packaged model's b_act_line_v term)")
    f = sub.add_parser("fit")
    f.add_argument("variant", choices=VARIANTS)
    f.add_argument("out")
    e = sub.add_parser("eval")
    e.add_argument("variant", choices=VARIANTS)
    e.add_argument("model")
    a = ap.parse_args(argv)
    try:
        return _run(ap, a)
    except InputError as exc:  # e.g. a model file that is not there: one line, exit 2
        ap.exit(2, f"spread_refit.py: error: {exc}\n")


def _run(ap, a) -> int:
    if a.cmd == "gains":
        gains(a.model)
    elif a.cmd == "network":
        if any(not np.isfinite(r) or r < 0 for r in a.r_drive_ohm):
            ap.error("network: drive resistances must be finite and >= 0")
        network(a.r_drive_ohm)
    elif a.cmd == "polarity":
        if a.own_share and a.direction != "forward":
            ap.error("polarity: --own-share is a forward term (backward shares are per line)")
        polarity(a.direction, a.own_share)
    elif a.cmd == "fit":
        return fit(a.variant, a.out)
    else:
        evaluate(a.variant, a.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())

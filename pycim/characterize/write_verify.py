"""Write-verify programming of one 1T1R cell (SKY130 5 V access FET + ``rram_skywater``) in ngspice.

Each pulse is one short transient (:func:`pycim.netlist.testbench.cell_1t1r_pulse`: the pulse,
then a verify read at ``v_read_v`` with the WL at ``v_wl_read_v``); the gap at its end is the
next pulse's initial gap. The verify compares the cell's read conductance (cell current over
the simulated cell voltage during the read) with the target.

The scheme is the chip's (shared/neurram_facts.md, authors' code): SET = BL pulse stepped from
1.2 V in 0.1 V steps up to ``v_set_max_v`` (3.3 V) with the WL at ``v_wl_set_v`` (the access FET
is the compliance: the chip's 2.5-3.0 V on its FET; here the assumptions ``wv_v_wl_set_v`` /
``wv_v_wl_set_high_v``, 1.4 / 1.55 V, which give the 4 um access FET the compliance current the
1 um FET had at 2.5 / 3.0 V, :data:`SET_WL_LEVELS_V`); RESET = SL pulse stepped the same way up to
``v_reset_max_v`` with the WL at 5 V; 1 us pulses; a SET below the band, a RESET above it, each
ladder restarting when the direction changes.

Refinement (``refine_factor``, default 0.5; 1.0 runs the chip's scheme verbatim): after a SET
that overshoots the band, later SET ladders use ``refine_factor`` times the step (down to
``v_step_min_v``); likewise the RESET step after a RESET that undershoots it. Why (measured, tt,
27 C, 0.5 uS start): verbatim, 4 of 47 runs (targets 28/30/32 uS at WL 2.5 V, 38 uS at WL 3.0 V)
lock into a limit cycle: near the SET threshold one 0.1 V step moves the cell by ~30 uS
(1.8 -> 13 -> 42 uS at BL 1.5 / 1.6 / 1.7 V) and the RESET ladder's 0.1 V step as much
(33 -> 1.7 uS), so each restart repeats the same trajectory and never lands in a +-1 uS band
above ~25 uS. Halving the step on each reversal breaks the cycle. (Those figures are for the
1 um access FET at WL 2.5 / 3.0 V; with the 4 um FET at 1.4 / 1.55 V, 1 of the 6 verbatim runs
of characterization/write_verify.toml still locks: 38 uS at WL 1.4 V.)

With SkyWater's parameter set it converges (measured, tt, 27 C, from 0.5 uS: every target
1-40 uS within +-1 uS; pulses per target in characterization/results/write_verify/). A SET
ladder from the reset state does nothing until ~1.8 V on the BL, then one pulse overshoots to
~55 uS (the SET is a thermal runaway that the FET limits); the RESET ladder brings the cell
down gradually (50 -> 2 uS over 1.2-1.6 V), and the SET ladder restarted from there is gradual
(a few uS per 0.1 V step), so the loop closes in on the band within tens of pulses. An earlier
version of this module needed an extra WL-compliance ladder: that was an artefact of a mixed
parameter set that switched at 0.45 V.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import assumptions
from ..errors import InputError
from ..validate import number

A = assumptions.value

SCHEMES = ("facts",)
#: The SET WL (compliance) levels of the write-verify sweep, V: the chip's 2.5 / 3.0 V
#: translated to the same compliance current on the project's access FET (assumptions).
SET_WL_LEVELS_V = (A("wv_v_wl_set_v"), A("wv_v_wl_set_high_v"))


@dataclass(frozen=True)
class WriteVerifyScheme:
    """Pulse scheme and loop limits (volts, seconds, siemens)."""

    scheme: str = "facts"
    v_set_start_v: float = 1.2
    v_set_step_v: float = 0.1
    v_set_max_v: float = 3.3  # facts: 3.3-4.0 V
    v_wl_set_v: float = A("wv_v_wl_set_v")  # SET WL (compliance); the chip: 2.5-3.0 V
    v_reset_start_v: float = 1.2
    v_reset_step_v: float = 0.1
    v_reset_max_v: float = 4.0
    v_wl_reset_v: float = 5.0
    refine_factor: float = 0.5  # ladder step x this after each overshoot; 1.0: the chip's verbatim
    v_step_min_v: float = 0.0125
    width_s: float = 1e-6
    tol_s: float = 1e-6
    max_pulses: int = 400
    v_read_v: float = A("v_read_v")
    v_wl_read_v: float = A("v_wl_read_v")

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise InputError(f"scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        for k in ("v_set_start_v", "v_set_max_v", "v_reset_start_v", "v_reset_max_v",
                  "v_wl_set_v", "v_wl_reset_v"):
            number(getattr(self, k), k, lo=0.0, lo_open=True, hi=5.5)
        for k in ("v_set_step_v", "v_reset_step_v", "v_step_min_v"):
            number(getattr(self, k), k, lo=1e-3, hi=1.0)
        number(self.refine_factor, "refine_factor", lo=0.1, hi=1.0)
        if self.v_set_max_v < self.v_set_start_v or self.v_reset_max_v < self.v_reset_start_v:
            raise InputError("v_set_max_v / v_reset_max_v must not be below the start voltage")
        number(self.width_s, "width_s", lo=1e-9, hi=1e-4)
        number(self.tol_s, "tol_s", lo=1e-8, hi=10e-6)
        if isinstance(self.max_pulses, bool) or not isinstance(self.max_pulses, int) \
                or not 1 <= self.max_pulses <= 5000:
            raise InputError(f"max_pulses must be an integer in 1..5000, got {self.max_pulses!r}")


@dataclass
class _Step:
    pulse: int
    op: str  # read, set, reset
    v_bl_v: float
    v_sl_v: float
    v_wl_v: float
    g_cell_s: float
    g_1t1r_s: float
    gap_m: float


class _Cell:
    """One simulated cell: apply a pulse, return the verify read."""

    def __init__(self, gap_m: float, corner: str, temp_c: float, s: WriteVerifyScheme):
        from ..netlist.array import AccessSpec
        from ..sim import NgspiceEngine

        self.gap_m, self.temp_c, self.s = gap_m, temp_c, s
        self.card = AccessSpec(corner=corner).card()
        self.engine = NgspiceEngine(timeout_s=120)

    def apply(self, v_bl: float, v_sl: float, v_wl: float) -> tuple[float, float]:
        from ..netlist.testbench import CellPulse, cell_1t1r_pulse
        from ..sim import Tran
        from ..tech import rram

        p = CellPulse(v_bl, v_sl, v_wl, width_s=self.s.width_s, v_read_v=self.s.v_read_v,
                      v_wl_read_v=self.s.v_wl_read_v)
        step = min(5e-9, p.width_s / 20)
        res = self.engine.run(cell_1t1r_pulse(p, self.gap_m, self.card),
                              Tran(step / 2, p.stop_s, step), temp_c=self.temp_c)
        t = res["time"]
        gap = float(self.gap_m + 1e-9 * res["n1.gx"][-1])
        p0 = rram.DEFAULT_PARAMS
        self.gap_m = float(np.clip(gap, p0.gap_min_m, p0.gap_max_m))
        a, b = p.read_window_s()
        m = (t >= a) & (t <= b)
        i_cell = float(np.mean(-res["i(vbl)"][m]))
        v_cell = float(np.mean(res["bl"][m] - res["m"][m]))
        return i_cell / v_cell, i_cell / p.v_read_v


def write_verify(target_s: float, g_init_s: float, scheme: WriteVerifyScheme = WriteVerifyScheme(),
                 corner: str = "tt", temp_c: float = 27.0) -> dict:
    """Program one cell from read conductance ``g_init_s`` towards ``target_s``.

    Returns ``{"steps": [per pulse: op, voltages, read G], "converged", "pulses", "n_set",
    "n_reset", "g_final_s", "err_s", "overshoots"}``; step 0 is the initial verify read.
    """
    from ..tech import rram

    s = scheme
    number(target_s, "target_s", lo=0.0, lo_open=True, hi=1e-3)
    gap0 = float(rram.gap_for_conductance_m(g_init_s, s.v_read_v))
    cell = _Cell(gap0, corner, temp_c, s)
    g, g11 = cell.apply(0.0, 0.0, 0.0)  # initial verify read, no pulse
    steps = [_Step(0, "read", 0.0, 0.0, 0.0, g, g11, cell.gap_m)]
    wl = s.v_wl_set_v
    set_step, reset_step = s.v_set_step_v, s.v_reset_step_v
    v_set, v_reset = s.v_set_start_v, s.v_reset_start_v
    overshoots, last = 0, "read"
    eps = 1e-9
    while abs(g - target_s) > s.tol_s and len(steps) <= s.max_pulses:
        if g < target_s - s.tol_s:
            if last == "reset":
                v_set = s.v_set_start_v
                # the RESET went past the band: refine the RESET ladder
                reset_step = max(reset_step * s.refine_factor, s.v_step_min_v)
            g, g11 = cell.apply(v_set, 0.0, wl)
            steps.append(_Step(len(steps), "set", v_set, 0.0, wl, g, g11, cell.gap_m))
            last = "set"
            v_set = round(v_set + set_step, 6)
            if v_set > s.v_set_max_v + eps:
                v_set = s.v_set_start_v
        else:
            if last == "set":
                overshoots += 1
                v_reset = s.v_reset_start_v
                set_step = max(set_step * s.refine_factor, s.v_step_min_v)
            g, g11 = cell.apply(0.0, v_reset, s.v_wl_reset_v)
            steps.append(_Step(len(steps), "reset", 0.0, v_reset, s.v_wl_reset_v, g, g11,
                               cell.gap_m))
            last = "reset"
            v_reset = min(round(v_reset + reset_step, 6), s.v_reset_max_v)
    ops = [st.op for st in steps]
    return {"steps": steps, "converged": bool(abs(g - target_s) <= s.tol_s),
            "pulses": len(steps) - 1, "n_set": ops.count("set"), "n_reset": ops.count("reset"),
            "g_final_s": g, "g_1t1r_final_s": g11, "err_s": g - target_s,
            "overshoots": overshoots, "v_wl_final_v": steps[-1].v_wl_v,
            "v_pulse_final_v": max(steps[-1].v_bl_v, steps[-1].v_sl_v)}


#: Schema tag of the programming-error file (pycim/data/programming_error.json).
ERROR_SCHEMA = "pycim.programming_error/1"
_N_QUANTILES = 41


def fit_programming_error(results_dir) -> dict:
    """Fit the final-G error of simulated write-verify runs (a ``write_verify`` sweep).

    Uses every converged run of the default scheme (``refine_factor`` 0.5, all WL levels and
    temperatures in the results). Fits the error's mean as a line in the target (least squares),
    its spread as the RMS residual, and keeps the empirical distribution of the standardised
    residuals as ``_N_QUANTILES`` quantiles. Returns the JSON-ready dict that
    :class:`pycim.cim.programming.ProgrammingError` reads.

    Raises
    ------
    InputError
        The results hold fewer than 8 usable runs or more than one tolerance.
    """
    from .tables import load_results

    s = load_results(results_dir)["summary"]
    s = s[(s["kind"] == "write_verify") & (s["status"] == "ok")]
    use = s[(s["refine_factor"] == WriteVerifyScheme().refine_factor) & s["converged"].astype(bool)]
    if len(use) < 8:
        raise InputError(f"{results_dir}: {len(use)} converged write-verify runs, need >= 8")
    tols = sorted(set(use["tol_us"]))
    if len(tols) != 1:
        raise InputError(f"{results_dir}: runs at several tolerances {tols}; fit one at a time")
    t = use["target_us"].to_numpy(float) * 1e-6
    e = use["err_us"].to_numpy(float) * 1e-6
    a = np.vstack([np.ones_like(t), t]).T
    (c0, c1), *_ = np.linalg.lstsq(a, e, rcond=None)
    res = e - (c0 + c1 * t)
    std = float(np.sqrt(np.mean(res ** 2)))
    z = np.sort(res / std)
    probs = np.linspace(0.0, 1.0, _N_QUANTILES)
    q = np.quantile(z, probs)
    samples = [{"target_s": float(r.target_us) * 1e-6, "err_s": float(r.err_us) * 1e-6,
                "v_wl_set_v": float(r.v_wl_set_v), "temp_c": float(r.temp_c),
                "pulses": int(r.pulses)} for r in use.itertuples()]
    return {"schema": ERROR_SCHEMA,
            "source": "simulated write-verify (pycim.characterize.write_verify, ngspice, "
                      "rram_skywater + SKY130 access FET), characterization/write_verify.toml",
            "command": "python -m pycim.characterize.write_verify "
                       "characterization/results/write_verify -o pycim/data/programming_error.json",
            "tol_s": tols[0] * 1e-6, "n_runs": len(samples),
            "fit": {"mean_intercept_s": float(c0), "mean_slope": float(c1), "std_s": std,
                    "probs": probs.tolist(), "z_quantiles": q.tolist()},
            "samples": samples}


def _main(argv=None) -> int:
    import argparse
    import json

    from ..files import atomic_write_text

    ap = argparse.ArgumentParser(prog="python -m pycim.characterize.write_verify",
                                 description="fit the programming error of write-verify results")
    ap.add_argument("results_dir")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args(argv)
    d = fit_programming_error(a.results_dir)
    atomic_write_text(a.out, json.dumps(d, indent=1) + "\n")
    f = d["fit"]
    print(f"{d['n_runs']} runs: mean error {f['mean_intercept_s'] * 1e6:+.3f} uS "
          f"{f['mean_slope']:+.4f} x target, spread {f['std_s'] * 1e6:.3f} uS RMS -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())

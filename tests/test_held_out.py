"""Issue 20 item 6: transistor-level MVMs outside the configurations the other tests use:
VACASK on a SKY130 MVM (drivers, access FETs, RRAM, wires), one run at 85 C, and the fitted
macro-model against SPICE at another size, another bit width, backward and corners other than
tt. Small arrays, one vector each (about a minute in total on 2 cores)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pycim.characterize.kinds_fit import problem
from pycim.cim.request import MvmRequest
from pycim.dispatch import run_mvm
from pycim.netlist.neuron import NeuronSpec

SEED = 200  # the fit used seeds 0-4 and the 16 x 16 held-out test 100


def _problem(n_in, n_out, in_bits=4, direction="forward"):
    w, x = problem({"n_in": n_in, "n_out": n_out, "in_bits": in_bits, "w_scale": 1.0,
                    "batch": 1, "seed": SEED})
    if direction == "backward":  # inputs drive the n_out source-lines
        lim = 2 ** (in_bits - 1) - 1
        x = np.random.default_rng(SEED).integers(-lim, lim + 1, (1, n_out))
    return w, x


#: Read pulse of these small arrays (8-32 cells per sensed line): their lines settle onto the
#: neuron's 0.5 pF hold capacitor with tau up to ~10 ns (a full core's lines need 12-16.5 ns
#: for 0.5 mV, the driven lines' RC: benchmarks/read_settling_core.py); the flow warns below
#: what they need. The macro-model describes settled lines.
READ_PULSE_S = 200e-9


def _spice_and_macro(n_in, n_out, in_bits=4, out_bits=6, **kw):
    kw.setdefault("read_pulse_s", READ_PULSE_S)
    w, x = _problem(n_in, n_out, in_bits, kw.get("direction", "forward"))
    spice = run_mvm(MvmRequest(w, x, in_bits, out_bits, seed=SEED, **kw), progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        macro = run_mvm(MvmRequest(w, x, in_bits, out_bits, seed=SEED, engine="macro", **kw),
                        progress=False)
    return spice, macro, [str(c.message) for c in caught]


@pytest.fixture(scope="session")  # shared on one worker: tests/conftest.py
def at_27c():
    return _spice_and_macro(8, 8)


# -- VACASK on a SKY130 MVM -------------------------------------------------------------------

@pytest.mark.slow
def test_vacask_agrees_with_ngspice_on_a_sky130_mvm():
    """4 x 4 weights, 4-bit inputs, 6-bit outputs, SKY130 drivers and access FETs, RRAM read
    cells, wire R/C, transistor-level neurons: the same netlist in both engines. Budget for the
    plane voltages: 0.2 mV for the engines' own time-step and tolerance control (their
    agreement on an ideal array, test_mvm.py) + 1e-3 x v_read for the BSIM4 implementations (the
    FET currents agree within 1e-3 relative, test_sky130.py). Codes within 1 LSB (a residue
    within that budget of a comparator threshold may resolve either way)."""
    w, x = _problem(4, 4)
    a = run_mvm(MvmRequest(w, x, 4, 6, seed=SEED, read_pulse_s=READ_PULSE_S), progress=False)
    b = run_mvm(MvmRequest(w, x, 4, 6, seed=SEED, engine="vacask", read_pulse_s=READ_PULSE_S),
                progress=False)
    assert b["engine"] == "vacask"
    ca, cb = np.array(a["code"]), np.array(b["code"])
    assert np.ptp(ca) >= 3, ca  # a spread of codes, so agreement is not empty
    assert np.abs(ca - cb).max() <= 1, (ca, cb)
    budget_v = 0.2e-3 + 1e-3 * a["v_read_v"]
    dv = np.abs(np.array(a["v_settled_v"]) - np.array(b["v_settled_v"]))
    assert dv.max() <= budget_v, dv.max()
    assert np.ptp(np.array(a["v_settled_v"])) > 50 * budget_v  # the budget is a small fraction


# -- 85 C -------------------------------------------------------------------------------------

def test_mvm_at_85c(at_27c):
    """8 x 8, 4-bit in / 6-bit out at 85 C beside the same MVM at 27 C.

    * Codes against the closed form: no worse than at 27 C (the settled line is a ratio of
      conductances, so the cells' common temperature scaling cancels; what remains, the access
      FETs' series resistance and the OTA, moves a line by a few % of its value, well under
      an LSB here), and within one code of the 27 C codes.
    * Energy: the OTAs' bias comes from an ideal current source, so the neurons cannot exceed
      the static-power budget of the 27 C tests (ibias (1 + m_tail + m_out) vdd over the
      schedule, + 4 %); leakage (junctions, subthreshold switches) only grows with
      temperature, so neither the neurons' nor the total energy falls (less 0.5 % for the
      OTA's output level, which differs with the codes)."""
    s27 = at_27c[0]
    s85, _, caught = _spice_and_macro(8, 8, temp_c=85.0)
    assert any("temp_c" in m for m in caught)  # the macro-model says it is outside its fit
    y = np.floor(np.array(s27["y_ideal"]))
    c27, c85 = np.array(s27["code"]), np.array(s85["code"])
    assert np.ptp(c27) >= 8
    assert np.abs(c85 - y).max() <= max(np.abs(c27 - y).max(), 1)
    assert np.abs(c85 - c27).max() <= 1
    e27, e85 = s27["energy_j"], s85["energy_j"]
    spec = NeuronSpec()
    p_ota = spec.ibias_a * (1 + spec.m_tail + spec.m_out) * spec.vdd_v
    assert e85["neuron"] <= 8 * p_ota * s85["latency_s"] * 1.04
    assert e85["neuron"] >= e27["neuron"] * 0.995
    assert e85["total"] >= e27["total"] * 0.995
    print(f"\n85 C vs 27 C: energy {e85['total'] / e27['total'] - 1:+.2%}, codes "
          f"{c85.tolist()} vs {c27.tolist()}")


# -- macro-model vs SPICE, held out -------------------------------------------------------------

def _check_macro(spice, macro, tag):
    """The macro-model's budget, the 16 x 16 held-out criterion (test_macro_engine.py) carried
    to other widths: an analog model error within +-E LSB (E <= 1) moves a fraction <= E of the
    codes by one step, so the code RMS is <= sqrt(E). E = 1/4 LSB at 6 output bits (RMS 0.5);
    the same volts are 2^(out_bits - 6) times as many LSB at other widths. Max <= 2 codes;
    energy per MVM within 5 %; identical conductances and closed form."""
    assert macro["g_pos_s"] == spice["g_pos_s"] and macro["g_neg_s"] == spice["g_neg_s"]
    assert np.allclose(macro["y_ideal"], spice["y_ideal"], rtol=1e-12, atol=0)
    cs, cm = np.array(spice["code"]), np.array(macro["code"])
    assert np.ptp(cs) >= 4, (tag, cs)  # codes that can tell a gain error
    err = cm - cs
    rms = float(np.sqrt(np.mean(err ** 2)))
    print(f"\n{tag}: spice {cs.ravel().tolist()} macro {cm.ravel().tolist()} rms {rms:.3f}")
    out_bits = spice["out_bits"]
    assert rms <= np.sqrt(min(0.25 * 2.0 ** (out_bits - 6), 1.0)), (tag, rms, cs, cm)
    assert np.abs(err).max() <= 2, tag
    assert macro["energy_j"]["total"] == pytest.approx(spice["energy_j"]["total"], rel=0.05)


# Seventeenth round (per-line active share, full cores at a fine ADC step in the fit): SPICE
# [-3,-2,-12,-2,1,-5,-9,3], macro [-3,-1,-12,-1,1,-5,-9,3], RMS 0.50, at its budget (a strict
# xfail since the eighth round: 0.61 with the model fitted on full and sparse cores).
def test_macro_vs_spice_at_27c_8x8(at_27c):
    spice, macro, _ = at_27c
    _check_macro(spice, macro, "8x8 4/6 tt")


@pytest.mark.slow
def test_macro_vs_spice_other_bit_width():
    """3-bit inputs (3 windows), 8-bit outputs."""
    spice, macro, _ = _spice_and_macro(8, 8, in_bits=3, out_bits=8)
    _check_macro(spice, macro, "8x8 3/8 tt")


@pytest.mark.heavy  # > 10 s CPU: `make test-all` (a strict xfail until the seventeenth round,
# RMS 0.61; now the same codes as at tt, 0.50)
@pytest.mark.slow
def test_macro_vs_spice_ss_corner():
    """ss: the model is fitted at tt and says so; at this size the corner's slower FETs (higher
    Ron, more series compression) stay inside the code budget."""
    spice, macro, caught = _spice_and_macro(8, 8, corner="ss")
    assert any("corner ss" in m for m in caught)
    _check_macro(spice, macro, "8x8 4/6 ss")


@pytest.mark.heavy  # > 10 s CPU: `make test-all`. A strict xfail until the twentieth round
# (issue 20 finding: a size-dependent offset, RMS 0.61-0.79); with the model refitted on the
# 100 um driver pFETs SPICE [-3,2,3,-4,1,0,-1,-3], macro [-3,2,3,-4,0,0,-1,-3], RMS 0.35.
@pytest.mark.slow
def test_macro_vs_spice_other_size():
    spice, macro, _ = _spice_and_macro(24, 8)
    _check_macro(spice, macro, "24x8 4/6 tt")


@pytest.mark.slow
def test_macro_vs_spice_backward():
    """4 x 8 backward (the 4 bit-line pairs sensed, the 8 source-lines driven), fitted on
    characterization/fit.toml's backward MVMs (seeds 5-12; this is seed 200)."""
    spice, macro, _ = _spice_and_macro(4, 8, direction="backward")
    _check_macro(spice, macro, "4x8 backward 4/6 tt")


# -- issue 18 item 2, reduced: backward bit-lines of 64 cells, 2 and 6 input bits ----------------

# Twentieth round, the model refitted on the 100 um driver pFETs and the 1.25 um comparator
# switches: SPICE [4,-3,1,3,-2,-6,5,-3], macro [4,-2,1,3,-2,-5,5,-3], RMS 0.50, at its budget
# (a strict xfail in the eighteenth and nineteenth rounds, 0.61, until that refit; 0.50 in the
# fifteenth, 0.71 in the twelfth, 0.94 in the eighth, 1.70 in the seventh). In the CI suite
# (~40 CPU-s): issue 18's reduced full-core check.
@pytest.mark.slow
@pytest.mark.parametrize("in_bits,out_bits,fs_v", [(2, 6, 0.1)])
def test_macro_vs_spice_backward_64_cells_per_line(in_bits, out_bits, fs_v):
    """The full-core check of ``make bench`` (``macro_vs_spice_256``), reduced to what CI can
    run: 8 x 64 weights backward (the 64 source-lines driven, 16 bit-lines of 64 cells each
    sensed), at the default read pulse (20 ns), held out (seed 200). 2-bit inputs convert to
    6 bits at a 0.1 V full scale (at the default the random inputs' averages over 64 cells span
    only codes -1..1, too few to tell a gain error). The 6-bit case (two phases, 6/8) costs
    ~3 CPU-minutes and fails its budget (RMS 3.8 against 1: SPICE [53,-60,34,69,-52,-104,92,
    -11], macro [49,-59,35,61,-48,-103,91,-15]); it is checked on full cores in ``make bench``
    (``macro_vs_spice_256``: 2, 4 and 6 bits, both directions), not here."""
    spice, macro, _ = _spice_and_macro(8, 64, in_bits, out_bits, direction="backward",
                                       read_pulse_s=None, adc_full_scale_v=fs_v)
    _check_macro(spice, macro, f"8x64 backward {in_bits}/{out_bits} tt")


# -- issue 18 item 2 on the committed full-core records ----------------------------------------

def _full_core_records() -> list[dict]:
    import json

    from pycim.toolchain import ROOT

    d = ROOT / "characterization" / "results" / "full_core_held_out"
    return [json.loads(p.read_text()) for p in sorted(d.glob("spice_*.json"))]


def _macro_on_record(rec: dict, model=None) -> dict:
    """The macro engine on a committed full-core record's request
    (``benchmarks/full_core_held_out.py``'s ``macro_on``: the problem from its seed)."""
    from benchmarks.full_core_held_out import macro_on

    return macro_on(rec, model)[0]


def _rms_max(a, b) -> tuple[float, float]:
    e = np.asarray(a) - np.asarray(b)
    return float(np.sqrt(np.mean(e ** 2))), float(np.abs(e).max())


@pytest.mark.slow
def test_macro_on_held_out_full_cores():
    """The packaged macro-model against transistor-level full 256 x 256 cores it was not
    fitted on (``characterization/results/full_core_held_out``: seeds 300-305, partitioned
    transients, 32-cell wire segments; ``make bench`` macro_vs_spice_256 reruns them). One-
    phase MVMs (2/4, 4/6), both directions: issue 18's budget, codes RMS <= 0.5 LSB, max <= 2.
    Two-phase 6/8, both directions: each phase's own codes (4/6 and 3/6 at a 0.1 V full
    scale, whose codes span ~8 steps) within the same budget; the shift-added output is not
    (one code of the high phase is 4 output LSB: README, issue 18). The backward phases were
    a strict xfail until the twentieth round's line fit weighed every settled line alike
    (:func:`pycim.fit.fits.fit_line`'s ``size_weight_exp``: 0.59 / 0.15 LSB at 0.5, 0.41 /
    0.23 now). The check discriminates: the same model with its ADC gain 10 % high fails
    the phases in both directions."""
    from pycim.macro.model import MacroModel

    _check_full_cores(None)
    recs = _full_core_records()
    m = MacroModel.load()
    hot = m.with_(adc={**m.adc, "gain": 1.1 * m.adc["gain"]})
    for d in ("forward", "backward"):
        rec = next(r for r in recs if r["direction"] == d and r.get("phases") == 2)
        mac = _macro_on_record(rec, hot)
        assert max(_rms_max(mac["phase_codes"][k], rec["phase_codes"][k])[0]
                   for k in range(2)) > 0.5, d


@pytest.mark.slow
def test_polarity_model_on_held_out_full_cores():
    """The packaged polarity model on the same held-out random full cores, same budget (its
    per-plane lines cost the engine no more than the wires' solve)."""
    from pycim.macro.model import MacroModel

    _check_full_cores(MacroModel.packaged("polarity"))


def _check_full_cores(model):
    """Issue 18's budget on every committed held-out full core: one-phase codes, and each
    phase of the two-phase (6/8) ones."""
    recs = _full_core_records()
    assert {(r["direction"], r["in_bits"]) for r in recs} >= {
        (d, b) for d in ("forward", "backward") for b in (2, 4, 6)}
    for rec in recs:
        mac = _macro_on_record(rec, model)
        tag = (rec["direction"], rec["in_bits"], rec["out_bits"], rec["seed"])
        if rec.get("phases", 1) == 1:
            rms, mx = _rms_max(mac["code"], rec["code"])
            assert rms <= 0.5 and mx <= 2, (tag, rms, mx)
        else:
            for k in range(2):
                rms, mx = _rms_max(mac["phase_codes"][k], rec["phase_codes"][k])
                assert rms <= 0.5 and mx <= 2, (tag, k, rms, mx)


# -- issue 18 item 2 on full cores whose outputs spread over the code range --------------------

def _spread_cases() -> list[tuple[str, dict, tuple]]:
    """(tag, figures, (in_bits, out_bits, ADC full scale, teeth, direction, seed)) of every
    case of the committed ``make bench`` group ``macro_vs_spice_256_spread``."""
    import json

    from benchmarks.groups import spread_cases
    from pycim.toolchain import ROOT

    figs = json.loads((ROOT / "benchmarks" / "results.json").read_text())["figures"][
        "macro_vs_spice_256_spread"]
    return [(tag, figs[tag], case) for tag, *case in spread_cases()]  # the group's own cases


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "issue 18 item 2, twenty-fourth round finding: on full cores whose outputs spread over the "
    "code range the packaged model misses the budget (RMS forward 2/4 0.47, backward 2/4 0.62, "
    "forward 4/6 1.63 with mean -0.27, backward 4/6 0.67; benchmarks/results.json, "
    "macro_vs_spice_256_spread): the fit's full cores are random problems whose outputs stay "
    "within a few codes, so it never saw a full core's large outputs (the model with its gain "
    "10 % high gives forward 4/6 0.86). Twenty-fifth round (benchmarks/spread_refit.py): on "
    "such cores SPICE keeps 0.93-0.97 of the closed form against 0.69-0.82 on random ones, "
    "and the model's empirical gain terms, fitted where the drivers' drop and a gain are "
    "indistinguishable, give 0.81 forward; refitted with characterization/results/fit_spread "
    "and current-based active-fraction regressors, forward passes (0.29, 0.29) and backward "
    "4/6 still misses (0.60). Twenty-sixth round: the polarity model (per-polarity drive and "
    "series resistances, MacroModel.packaged('polarity')) passes all four "
    "(test_polarity_model_on_spread_full_cores_of_the_bench); the default stays without it "
    "because its lines are not linear in the drives, which costs the Core its folded fast "
    "path (README, issue 18)"))
def test_macro_on_spread_full_cores_of_the_bench():
    """The packaged macro-model against the transistor-level codes of ``make bench``'s
    ``macro_vs_spice_256_spread`` (committed in benchmarks/results.json: held-out full 256 x
    256 cores whose outputs spread over the code range, ``pycim.characterize.kinds_fit.
    spread_problem``), recomputed here with the model as it is now: issue 18's budget, codes
    RMS <= 0.5 LSB, max <= 2. Where the outputs span enough codes (4/6), the check
    discriminates: the model with its integrator gain 10 % low, or 10 % high, fails it
    (the random problems' 4/6 full cores do not tell those models apart)."""
    from pycim.macro.model import MacroModel

    _check_spread_cores(MacroModel.load())


@pytest.mark.slow
def test_polarity_model_on_spread_full_cores_of_the_bench():
    """The same check with the packaged polarity model (``MacroModel.packaged("polarity")``:
    the driven lines' per-polarity drive and series resistances, fitted with the spread full
    cores of ``characterization/results/fit_spread``, seeds 30-32; these are 320-323): within
    issue 18's budget on all four, and the +-10 % gain models fail it at 4/6."""
    from pycim.macro.model import MacroModel

    _check_spread_cores(MacroModel.packaged("polarity"))


def _check_spread_cores(m):
    from dataclasses import replace

    from benchmarks.fit_cases import GAIN_ERRORS
    from pycim.characterize.kinds_fit import spread_problem
    from pycim.cim.request import MvmRequest
    from pycim.macro.engine import run_macro_mvm

    cases = _spread_cases()
    assert len(cases) == 4
    for tag, fig, (bi, bo, fs, teeth, direction, seed) in cases:
        w, x = spread_problem(128, 256, bi, direction, seed)
        req = MvmRequest(w, x, bi, bo, seed=seed, direction=direction, engine="macro",
                         adc_full_scale_v=fs)
        cs = np.array(fig["codes_spice"])
        assert np.ptp(cs) >= (4 if bi == 2 else 16), (tag, np.ptp(cs))  # spread, as meant
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # inside the model's fitted ranges
            mac = run_macro_mvm(req, model=m)
        rms, mx = _rms_max(mac["code"], cs)
        print(f"\n{tag}: SPICE {cs.min():.0f}..{cs.max():.0f}, macro - SPICE RMS {rms:.3f} "
              f"max {mx:.0f}")
        assert rms <= 0.5 and mx <= 2, (tag, rms, mx)
        if teeth:
            for e in GAIN_ERRORS:
                wrong = run_macro_mvm(req, model=replace(m, integ_gain=m.integ_gain * (1 + e)))
                rms, mx = _rms_max(wrong["code"], cs)
                assert rms > 0.5 or mx > 2, (tag, e, rms, mx)

"""Published NeuRRAM numbers the report compares against, each with its citation.

The only place paper numbers live: every value is a :class:`PaperValue` carrying a ``source``
string (paper figure or table, and where the figure was read from). Values are the reference
numbers of Wan et al., Nature 608, 504-512 (2022), Extended Data Fig. 12 (b: energy breakdown,
c/d: efficiency and throughput vs input/output bits), as tabulated in CiMLoop's
``wan_nature_2022`` macro tests (see ``/work/shared/neurram_facts.md``).

Keys are signed input bits 1-8; the paper pairs n-bit inputs with (n + 2)-bit outputs. For 5 and
6 bits the paper gives one-phase and two-phase operation; pycim runs two phases from 5 input bits
(:func:`pycim.cim.phases.default_phases`: high and low magnitude slices, codes shift-added), so
:data:`TOPS_PER_W` holds the two-phase value from 5 bits (the one-phase one in its note).
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER = ("W. Wan et al., 'A compute-in-memory chip based on resistive random-access memory', "
         "Nature 608, 504-512 (2022), doi:10.1038/s41586-022-04992-8")
CIMLOOP_TESTS = ("CiMLoop github.com/mit-emze/cimloop, workspace/models/arch/1_macro/"
                 "wan_nature_2022/_tests.py (commit 2bac57f)")
#: 1 MAC = 2 ops (paper; CiMLoop: OPS_PER_ARRAY = 256 * 128 * 2)
OPS_PER_MAC = 2
#: a core: 256 x 256 cells, signed weights on row pairs -> 128 inputs x 256 outputs
CORE_ROWS = 256
CORE_COLS = 256
CORE_MACS = (CORE_ROWS // 2) * CORE_COLS
N_CORES = 48


@dataclass(frozen=True)
class PaperValue:
    """One published number: ``value`` in ``unit``, where it comes from, and a note."""

    value: float
    unit: str
    source: str
    note: str = ""

    def as_dict(self) -> dict:
        return {"value": self.value, "unit": self.unit, "source": self.source, "note": self.note}


def _fig12(panel: str, test: str) -> str:
    return f"{PAPER}, Extended Data Fig. 12{panel}; values as tabulated in {CIMLOOP_TESTS}, {test}"


#: output bits the paper pairs with each input width (inputs + 2)
OUT_BITS = {b: b + 2 for b in range(1, 9)}

_TOPS_W = {  # in_bits: (the value of the scheme pycim runs by default: two-phase from 5 bits)
    1: (43.07875866, "one-phase = two-phase"),
    2: (40.33412834, "one-phase = two-phase"),
    3: (23.09069279, "one-phase = two-phase"),
    4: (15.95409517, "one-phase = two-phase"),
    5: (11.03, "two-phase (one-phase: 11.33); as given to 4 digits in the facts file"),
    6: (8.26, "two-phase (one-phase: 9.122); as given to 3 digits in the facts file"),
    7: (7.750037817, "two-phase only"),
    8: (6.437388185, "two-phase only"),
}
_TOPS_48 = {
    1: (2.12230988, "one-phase = two-phase"),
    2: (1.793083771, "one-phase = two-phase"),
    3: (1.165400233, "one-phase = two-phase"),
    4: (0.7438677864, "one-phase = two-phase"),
    5: (0.525, "two-phase (one-phase: 0.4516)"),
    6: (0.418, "two-phase (one-phase: 0.2608)"),
    7: (0.343873405, "two-phase only"),
    8: (0.2638743409, "two-phase only"),
}
#: fJ per op by group (two-phase operation for >= 5 bits); CiMLoop's comment says fJ/MAC but it
#: multiplies by OPS_PER_ARRAY (= 2 x MACs), and at 4 bits the sum is 62.4 fJ = 1 / 15.95 TOPS/W:
#: the unit is fJ per op
_BREAKDOWN_FJ_OP = {
    1: (8.99015248, 10.6186848, 3.446220545),
    2: (8.270951256, 12.38674172, 3.955661604),
    3: (15.46307324, 20.11826462, 7.73153662),
    4: (21.75617998, 29.1084171, 11.50740478),
    5: (30.92613276, 44.21188287, 14.0246365),
    6: (37.2192395, 52.48282041, 19.23892768),
    7: (43.69214654, 61.83258722, 22.83498524),
    8: (50.52466791, 75.85721686, 27.50986693),
}
#: the paper's three groups (CiMLoop labels) and the pycim source groups that map onto them
PAPER_GROUPS = {
    "wl_switching": ("WL switching (0.9 V <-> 2.2 V): WL drivers + WL capacitance", ("wordlines",)),
    "neuron": ("neuron ops and control (1.8 V): sample, integrate, ADC, shift-add", ("neuron",)),
    "input_pulses": ("input pulses: row drivers + RRAM cells", ("array", "drivers")),
}

TOPS_PER_W: dict[int, PaperValue] = {
    b: PaperValue(v, "TOPS/W", _fig12("d", "test_tops"),
                  f"48 cores, {b}-bit signed inputs, {OUT_BITS[b]}-bit outputs, {ph}")
    for b, (v, ph) in _TOPS_W.items()}

TOPS_48_CORES: dict[int, PaperValue] = {
    b: PaperValue(v, "TOPS", _fig12("c", "test_tops"),
                  f"48 cores, {b}-bit inputs, {OUT_BITS[b]}-bit outputs, {ph}")
    for b, (v, ph) in _TOPS_48.items()}

ENERGY_PER_OP_J: dict[int, PaperValue] = {
    b: PaperValue(1e-12 / v.value, "J/op", v.source + " (derived: 1 / TOPS/W)", v.note)
    for b, v in TOPS_PER_W.items()}

ENERGY_PER_MAC_J: dict[int, PaperValue] = {
    b: PaperValue(OPS_PER_MAC * 1e-12 / v.value, "J/MAC",
                  v.source + " (derived: 2 ops/MAC / TOPS/W)", v.note)
    for b, v in TOPS_PER_W.items()}

BREAKDOWN_FJ_PER_OP: dict[int, dict[str, PaperValue]] = {
    b: {g: PaperValue(v, "fJ/op", _fig12("b", "test_energy_bits_scaling"),
                      f"{PAPER_GROUPS[g][0]}; two-phase operation, {b}-bit inputs, "
                      f"{OUT_BITS[b]}-bit outputs")
        for g, v in zip(("wl_switching", "neuron", "input_pulses"), vals)}
    for b, vals in _BREAKDOWN_FJ_OP.items()}


def breakdown_fractions(in_bits: int) -> dict[str, PaperValue]:
    """The paper's energy breakdown at ``in_bits`` as fractions of its total (derived)."""
    parts = BREAKDOWN_FJ_PER_OP[in_bits]
    tot = sum(p.value for p in parts.values())
    return {g: PaperValue(p.value / tot, "fraction", p.source + " (derived: share of the sum)",
                          p.note) for g, p in parts.items()}


def latency_per_mvm_s(in_bits: int) -> PaperValue:
    """One core MVM (128 x 256 MACs) at the paper's throughput: 48 cores x 2 x MACs / TOPS."""
    t = TOPS_48_CORES[in_bits]
    return PaperValue(N_CORES * OPS_PER_MAC * CORE_MACS / (t.value * 1e12), "s",
                      t.source + " (derived: 48 x 2 x 128 x 256 ops / TOPS)", t.note)


#: timing of the macro in CiMLoop's model (facts file), used to explain latency differences
TIMING = {
    "t_integration_step_s": PaperValue(
        0.27e-6, "s", f"CiMLoop wan_nature_2022 model timing (github.com/mit-emze/cimloop), "
        f"from {PAPER}", "one integration step"),
    "t_adc_step_s": PaperValue(
        0.3e-6, "s", "CiMLoop wan_nature_2022 model timing (github.com/mit-emze/cimloop)",
        "one charge-decrement ADC step"),
    "t_read_pulse_s": PaperValue(
        10e-9, "s", "CiMLoop wan_nature_2022 model timing (github.com/mit-emze/cimloop)",
        "input (read) pulse width"),
    "v_neuron_supply_v": PaperValue(
        1.8, "V", "CiMLoop wan_nature_2022 model (github.com/mit-emze/cimloop), breakdown label "
        "'Neuron ops. and control (1.8V)'", "neuron supply"),
}

#: operating voltages behind the paper's breakdown groups (CiMLoop's labels of Fig. 12b)
VOLTAGES = {
    "v_wl_low_v": PaperValue(0.9, "V", _fig12("b", "test_energy_bits_scaling, label "
                                               "'WL Switching (0.9V <-> 2.2V)'"), "WL low level"),
    "v_wl_high_v": PaperValue(2.2, "V", _fig12("b", "test_energy_bits_scaling, label "
                                                "'WL Switching (0.9V <-> 2.2V)'"), "WL high level"),
    "v_read_label_v": PaperValue(0.5, "V", _fig12("b", "test_energy_bits_scaling, label "
                                                   "'Input pulses (Vread=0.5V)'"),
                                 "input pulse level as labelled"),
}

#: claims the paper makes without a number the report can reproduce (quoted for context)
HEADLINE = {
    "efficiency_vs_prior_rram_cim": PaperValue(
        2.0, "x", f"{PAPER}, abstract and comparison table",
        "2x better energy efficiency than previous RRAM CIM chips across bit precisions"),
    "edp_vs_prior_rram_cim_low": PaperValue(
        1.6, "x", f"{PAPER}, abstract", "1.6-2.3x lower energy-delay product (low end)"),
    "edp_vs_prior_rram_cim_high": PaperValue(
        2.3, "x", f"{PAPER}, abstract", "1.6-2.3x lower energy-delay product (high end)"),
}


def all_values() -> list[tuple[str, PaperValue]]:
    """Every paper number with a dotted name, for the report's citation table."""
    out = []
    for b in range(1, 9):
        out.append((f"tops_per_w.{b}", TOPS_PER_W[b]))
        out.append((f"tops_48_cores.{b}", TOPS_48_CORES[b]))
        out.append((f"energy_per_mac_j.{b}", ENERGY_PER_MAC_J[b]))
        out.append((f"latency_per_mvm_s.{b}", latency_per_mvm_s(b)))
        for g, v in BREAKDOWN_FJ_PER_OP[b].items():
            out.append((f"breakdown_fj_per_op.{b}.{g}", v))
    out += [(f"timing.{k}", v) for k, v in TIMING.items()]
    out += [(f"voltages.{k}", v) for k, v in VOLTAGES.items()]
    out += [(f"headline.{k}", v) for k, v in HEADLINE.items()]
    return out


__all__ = ["BREAKDOWN_FJ_PER_OP", "CORE_COLS", "CORE_MACS", "CORE_ROWS", "ENERGY_PER_MAC_J",
           "ENERGY_PER_OP_J", "HEADLINE", "N_CORES", "OPS_PER_MAC", "OUT_BITS", "PAPER_GROUPS",
           "PaperValue", "TIMING", "TOPS_48_CORES", "TOPS_PER_W", "VOLTAGES", "all_values",
           "breakdown_fractions", "latency_per_mvm_s"]

"""Declarative sweep specs: TOML files of ``[[sweep]]`` tables, validated into frozen dataclasses.

Each table names a ``kind`` and gives its parameters as scalars or lists; a sweep's points are the
cartesian product of the lists, enumerated in a fixed order (parameters in schema order, values
in the order written). Example::

    [[sweep]]
    kind = "cell_iv"
    gap_nm = [0.3, 0.8, 1.4]
    v_max_v = 1.0
    v_step_v = 0.05

A malformed spec raises :class:`pycim.errors.InputError` naming the file, the table and the key
(and the line for TOML syntax errors, as tomllib reports it).
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .. import assumptions
from ..errors import InputError
from ..cim.request import READ_PULSE_RANGE_S
from ..specs.neuron import MAX_OUT_BITS
from ..tech.corners import CORNERS
from .kinds_fit import PARAMS as FIT_PARAMS
from .params import Param



#: Parameters of each kind, in enumeration order (the last varies fastest).
KINDS: dict[str, tuple[Param, ...]] = {
    "cell_iv": (
        Param("gap_nm", "gap_nm", float, lo=0.1, hi=1.7),
        Param("v_max_v", "v_max_v", float, 1.0, lo=0.01, hi=2.0),
        Param("v_step_v", "v_step_v", float, 0.05, lo=1e-4, hi=1.0),
    ),
    "mvm_transfer": (
        Param("n_in", "n_in", int, lo=1, hi=128),
        Param("n_out", "n_out", int, lo=1, hi=256),
        Param("in_bits", "in_bits", int, 4, lo=1, hi=8),
        Param("out_bits", "out_bits", int, 6, lo=1, hi=MAX_OUT_BITS),
        Param("ideal", "ideal", bool, True),
        Param("corner", "corner", str, "tt", choices=CORNERS),
        Param("temp_c", "temp_c", float, 27.0, lo=-55, hi=150),
        Param("batch", "batch", int, 4, lo=1, hi=1024),
        Param("vdd_v", "vdd_v", float, 1.8, lo=1.2, hi=1.98),
        Param("prog_tol_us", "prog_tol_us", float, 1.0, lo=0.0, hi=10.0),
        Param("mismatch", "mismatch", float, 0.0, lo=0.0, hi=10.0),  # x PDK Pelgrom sigma
        # the read pulse per magnitude plane (default 20 ns, the paper's 10 ns does not settle a full core; small arrays of weak cells
        # need longer to settle onto the neuron's hold capacitor: the flow warns)
        Param("read_pulse_ns", "read_pulse_ns", float,
              assumptions.value("read_pulse_s") * 1e9, lo=READ_PULSE_RANGE_S[0] * 1e9,
              hi=READ_PULSE_RANGE_S[1] * 1e9),  # the MVM's own bounds, in ns
        Param("seeds", "seed", int, 0, lo=0, hi=2**32 - 1),
    ),
    "energy_per_mac": (
        Param("n_in", "n_in", int, lo=1, hi=128),
        Param("n_out", "n_out", int, lo=1, hi=256),
        Param("out_bits", "out_bits", int, 6, lo=1, hi=MAX_OUT_BITS),
        Param("ideal", "ideal", bool, False),
        Param("corner", "corner", str, "tt", choices=CORNERS),
        Param("temp_c", "temp_c", float, 27.0, lo=-55, hi=150),
        Param("vdd_v", "vdd_v", float, 1.8, lo=1.2, hi=1.98),
        Param("seeds", "seed", int, 0, lo=0, hi=2**32 - 1),
        Param("in_bits", "in_bits", int, lo=1, hi=8),
    ),
    "adc_transfer": (
        Param("out_bits", "out_bits", int, 6, lo=1, hi=MAX_OUT_BITS),
        Param("points_per_code", "points_per_code", float, 0.75, lo=0.55, hi=8.0),
        Param("corner", "corner", str, "tt", choices=CORNERS),
        Param("temp_c", "temp_c", float, 27.0, lo=-55, hi=150),
    ),
    "ir_drop": (
        Param("rows", "rows", int, lo=2, hi=512),
        Param("cols", "cols", int, lo=1, hi=256),
        Param("wire_r_ohm_per_um", "wire_r_ohm_per_um", float,
              assumptions.value("wire_r_ohm_per_um"), lo=0.0, hi=1e3),
        Param("seeds", "seed", int, 0, lo=0, hi=2**32 - 1),
    ),
    "settling": (
        Param("rows", "rows", int, lo=2, hi=512),
        Param("cols", "cols", int, 4, lo=1, hi=256),
        Param("g_cell_us", "g_cell_us", float, 20.0, lo=1.0, hi=40.0),
        Param("wire_r_ohm_per_um", "wire_r_ohm_per_um", float,
              assumptions.value("wire_r_ohm_per_um"), lo=0.0, hi=1e3),
        Param("c_sense_f", "c_sense_f", float, 50e-15, lo=0.0, hi=1e-11),
        Param("tol", "tol", float, 1e-3, lo=1e-6, hi=0.1),
        Param("access", "access", str, "ideal", choices=("ideal", "sky130")),
        Param("corner", "corner", str, "tt", choices=CORNERS),
    ),
    "set_reset": (
        Param("g_init_us", "g_init_us", float, 1.0, lo=0.5, hi=60.0),
        # defaults: a gradual SET under a 20 kOhm compliance (SkyWater's set switches at
        # ~1.6 V straight across the cell, abruptly); RESET through 1 kOhm
        Param("v_set_max_v", "v_set_max_v", float, 3.0, lo=0.1, hi=5.0),
        Param("v_reset_max_v", "v_reset_max_v", float, 1.5, lo=0.1, hi=5.0),
        # pulses per ramp (v_*_max / 2 .. v_*_max); 1: one pulse at the maximum
        Param("n_pulses", "n_pulses", int, 6, lo=1, hi=64),
        Param("width_s", "width_s", float, 1e-6, lo=1e-9, hi=1e-3),
        Param("r_series_ohm", "r_series_ohm", float, 20e3, lo=1.0, hi=1e9),
        Param("r_reset_ohm", "r_reset_ohm", float, 1e3, lo=1.0, hi=1e9),
    ),
    "write_verify": (
        Param("scheme", "scheme", str, "facts", choices=("facts",)),
        Param("g_init_us", "g_init_us", float, assumptions.value("wv_g_init_s") * 1e6,
              lo=0.31, hi=95.0),
        Param("tol_us", "tol_us", float, 1.0, lo=0.05, hi=10.0),
        Param("v_set_max_v", "v_set_max_v", float, 3.3, lo=1.2, hi=5.0),
        Param("v_wl_set_v", "v_wl_set_v", float, assumptions.value("wv_v_wl_set_v"), lo=0.5,
              hi=5.0),
        Param("refine_factor", "refine_factor", float, 0.5, lo=0.1, hi=1.0),
        Param("width_s", "width_s", float, 1e-6, lo=1e-9, hi=1e-4),
        Param("max_pulses", "max_pulses", int, 400, lo=1, hi=5000),
        Param("corner", "corner", str, "tt", choices=CORNERS),
        Param("temp_c", "temp_c", float, 27.0, lo=-55, hi=150),
        Param("targets_us", "target_us", float, lo=0.5, hi=95.0),
    ),
    **FIT_PARAMS,  # the kinds that feed pycim fit (pycim.characterize.kinds_fit)
}


@dataclass(frozen=True)
class Sweep:
    """One ``[[sweep]]`` table: its kind and, per parameter (schema order), the values to sweep."""

    kind: str
    values: tuple[tuple[str, tuple], ...]  # (point name, values)
    index: int = 0  # position in the spec (0-based)

    def points(self) -> list[dict]:
        names = [n for n, _ in self.values]
        return [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in self.values))]


@dataclass(frozen=True)
class SweepSpec:
    path: str
    sweeps: tuple[Sweep, ...]

    def points(self) -> list[tuple[str, dict]]:
        """Every (kind, point) of the spec, in order; duplicates (same kind and point) once."""
        out, seen = [], set()
        for s in self.sweeps:
            for p in s.points():
                key = (s.kind, tuple(sorted(p.items())))
                if key not in seen:
                    seen.add(key)
                    out.append((s.kind, p))
        return out


def parse_spec(text: str, path: str = "<spec>") -> SweepSpec:
    """Validate TOML ``text`` into a :class:`SweepSpec` (InputError naming the problem)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: TOML syntax error: {str(exc).splitlines()[0]}") from None
    unknown_top = sorted(set(doc) - {"sweep", "title", "description"})
    if unknown_top:
        raise InputError(f"{path}: unknown top-level key {unknown_top[0]!r} (expected [[sweep]] tables)")
    tables = doc.get("sweep")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise InputError(f"{path}: needs at least one [[sweep]] table")
    sweeps = []
    for i, t in enumerate(tables):
        where = f"{path}: [[sweep]] #{i + 1}"
        kind = t.get("kind")
        if kind is None:
            raise InputError(f"{where}: missing key 'kind' (one of {', '.join(KINDS)})")
        if not isinstance(kind, str) or kind not in KINDS:
            raise InputError(f"{where}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
        where = f"{where} ({kind})"
        schema = KINDS[kind]
        extra = sorted(set(t) - {"kind"} - {p.key for p in schema})
        if extra:
            raise InputError(f"{where}: unknown key {extra[0]!r} (allowed: "
                             f"{', '.join(p.key for p in schema)})")
        values = []
        for p in schema:
            raw = t.get(p.key, p.default)
            if raw is None:
                raise InputError(f"{where}: missing key {p.key!r}")
            vals = raw if isinstance(raw, list) else [raw]
            if not vals:
                raise InputError(f"{where}: {p.key} is an empty list")
            checked = tuple(p.check(v, where) for v in vals)
            values.append((p.name, tuple(dict.fromkeys(checked))))
        sw = Sweep(kind, tuple(values), i)
        _check_sweep(sw, where)
        sweeps.append(sw)
    return SweepSpec(path, tuple(sweeps))


def check_pair_rows(rows: int, where: str = "") -> None:
    """``ir_drop``'s rows hold G+/G- pairs: an even count (InputError; ``where`` prefixes it)."""
    if rows % 2:
        raise InputError(f"{where}{': ' if where else ''}rows must be even (G+/G- row pairs), "
                         f"got {rows}")


def _check_sweep(sw: Sweep, where: str) -> None:
    n_points = math.prod(len(v) for _, v in sw.values)
    if n_points > 100_000:  # total over all tables: pycim.resources.plan_sweep
        raise InputError(f"{where}: {n_points} points; more than 100000 in one sweep")
    vals = dict(sw.values)
    if sw.kind == "cell_iv":
        for vm in vals["v_max_v"]:
            for st in vals["v_step_v"]:
                if st > vm:
                    raise InputError(f"{where}: v_step_v {st} exceeds v_max_v {vm}")
    if sw.kind == "ir_drop":
        for r in vals["rows"]:
            check_pair_rows(r, where)
    if sw.kind in _MVM_KINDS:
        _check_mvm_widths(vals, where)
    if sw.kind == "mvm_fit" and True in vals.get("spread", ()):
        # spread_problem is one vector whose weights follow its inputs' signs
        if vals["batch"] != (1,) or any(d != 1.0 for d in vals["density"]):
            raise InputError(f"{where}: spread = true needs batch = 1 and density = 1 (the "
                             f"spread problem is one vector; its weights follow its inputs' "
                             f"signs), got batch {list(vals['batch'])}, density "
                             f"{list(vals['density'])}")


#: kinds whose points run an MVM (:class:`pycim.cim.request.MvmRequest`)
_MVM_KINDS = ("mvm_transfer", "energy_per_mac", "mvm_fit")
#: the widths as a sweep spec names them (a spec has no phases key: an MVM runs two phases
#: from in_bits = TWO_PHASE_FROM_IN_BITS, the command line's default)
_SPEC_NAMES = {"phases": "phases", "in_bits": "in_bits", "out_bits": "out_bits",
               "adc_full_scale_v": "adc_full_scale_v", "or_one_phase": ""}


def _check_mvm_widths(vals: dict, where: str) -> None:
    """Every (in_bits, out_bits, adc_full_scale_v) combination of an MVM kind, through the
    checks the MVM itself runs (phases, full scale, LSB), so no point fails them at run time."""
    from ..cim.phases import TWO_PHASE_FROM_IN_BITS, check_phases, default_phases
    from ..cim.request import check_full_scale

    names = {**_SPEC_NAMES, "two_phases": f"a two-phase MVM (the default from in_bits = "
                                          f"{TWO_PHASE_FROM_IN_BITS})"}
    fs_all = vals.get("adc_full_scale_v", (assumptions.value("neuron_adc_fs_v"),))
    for ib, ob, fs in itertools.product(vals["in_bits"], vals["out_bits"], fs_all):
        try:
            phases = check_phases(default_phases(ib), ib, ob, names)
            check_full_scale(fs, ib, ob, phases, names)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None


def load_spec(path: str | Path) -> SweepSpec:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"sweep spec not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read sweep spec {p}: {exc}") from None
    return parse_spec(text, str(p))


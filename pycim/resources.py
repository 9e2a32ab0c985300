"""Resource checks made before any work starts: peak memory of a simulation, disk space of a
netlist, the size of a sweep (output paths: :mod:`pycim.files`).

A command refuses up front, with an :class:`~pycim.errors.InputError` that prints the estimate
and what is available, rather than being OOM-killed half-way through a sweep.

Memory model (ngspice peak RSS, measured with ``getrusage(RUSAGE_CHILDREN)`` on ngspice-46, KLU,
one thread; see ``benchmarks/results.md`` and the figures quoted at each constant):

* DC operating point of an array, linear in the number of cells (least squares over 64x64,
  128x128 and 256x256; residuals within 7 %)::

      1T1R, per-cell wire R/C   12.1 MB + 24.0 kB/cell   (256x256: 1.59 GB measured)
      1T1R, ideal wires         22.4 MB + 11.9 kB/cell   (256x256: 0.80 GB)
      linear cell, wire R       8.8 MB +  8.7 kB/cell    (256x256: 0.58 GB)

* A TNSA core's op adds its line drivers: 0.75 MB per line, fitted to the one measured 256x256
  reference core (1.97 GB; it also absorbs the stateful cell's internal nodes).
* An MVM transient (:func:`mvm_sim_b`)::

      43.5 MB + per-cell figure above (1T1R wire R/C; linear cells with --ideal)
              + points * (424 B per driven line + 40 B per neuron)      (ideal lines: 72 B)
      points  = 2.39 * t_stop / max step   (1791 for 4-bit in, 6-bit out)

  the driven-line term fitted (non-negative least squares) to full transients of 4x4, 8x8,
  16x16, 32x16 and 16x32 weights (59-120 MB, within 15 %; the measured table is in tests/test_reliability.py), the per-cell
  term checked on a short 64x64 transient (0.231 GB). A 128x256 transistor-level MVM comes to
  about 1.8 GB in ngspice; Python adds 90 MB, 2 kB per cell and the saved vectors it reads back
  (:func:`mvm_peak_b`). Wire segments (``wire_segment_cells`` > 1) need less; the estimate is
  then an upper bound.

``pycim netlist`` does not simulate: generating the largest core (256x256) peaks at 0.11 GB of
Python memory, so it is not checked against memory; the file it writes is checked against free
disk space instead (:func:`netlist_file_b`: 30 kB + 362 B per cell, fitted to the 16x16 and
256x256 reference cores, 123 kB and 23.7 MB).

Overrides (tests, and users who know better):

``PYCIM_MEM_AVAILABLE_B``
    bytes of memory to assume available instead of ``MemAvailable`` from ``/proc/meminfo``
    (a small value pretends a smaller machine; a huge one, e.g. ``1e15``, disables the check).
``PYCIM_DISK_AVAILABLE_B``
    bytes of free disk to assume for the netlist size check.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

GB = 1e9
MB = 1e6
ENV_MEM = "PYCIM_MEM_AVAILABLE_B"
ENV_DISK = "PYCIM_DISK_AVAILABLE_B"

#: (base bytes, bytes per cell) of ngspice's peak RSS for a DC op, by array flavour.
OP_FIT = {
    "1t1r_wire_rc": (12.1 * MB, 24.03e3),
    "1t1r_ideal_wires": (22.4 * MB, 11.93e3),
    "linear_wire_r": (8.8 * MB, 8.67e3),
}
#: TNSA core: extra bytes per line (drivers), fitted to the 256x256 core op (1.97 GB).
CORE_PER_LINE_B = 0.75 * MB
#: MVM transient (ngspice): base bytes; bytes per driven line per time point (its driver's
#: sources and waveforms; one ideal source per line in an ideal array); bytes per sensed line per
#: point on the SKY130 core (its wire segments and access FETs, beside the neuron); 5 saved
#: doubles per neuron per point; cells at OP_FIT's per-cell figure. Refitted (nnls, relative
#: residuals) after the 10 ns step cap and the DC controls (fifth session) on the peak RSS of
#: 4-bit / 6-bit MVMs of 4x4, 8x8, 16x16, 32x16, 16x32 and 32x64 weights (SKY130 core: 45.2,
#: 45.9, 69.1, 98.9, 99.7, 218.4 MB; within -10..+8 %) and 16x16 ideal (45.1 MB); 8x16 held
#: out: 53.9 MB measured, +12 % estimated (tests/test_reliability.py keeps the measurements).
MVM_FIT = {"base_b": 33.1 * MB, "drive_line_point_b": 199.4, "ideal_line_point_b": 107.8,
           "sense_line_point_b": 471.8, "neuron_point_b": 8.0 * 5}
#: time points per POINTS_STEP_S of the schedule: 1791 points for the 4-bit/6-bit 4x4 transient
#: (t_stop 3.747 us, max step 5 ns).
MVM_POINTS_PER_STEP = 2.39
#: The step MVM_POINTS_PER_STEP was fitted at. A larger cap removes fewer points than it
#: divides (the schedule's edges set most of them: 16 x 16 at 10 ns 1737 points, at 5 ns
#: 2012), so steps above it count as this one (an upper bound).
POINTS_STEP_S = 5e-9
#: Python side: interpreter with numpy/pandas and the circuit objects, per cell.
PY_BASE_B = 90 * MB
PY_PER_CELL_B = 2.0e3
#: netlist file size: base and bytes per cell (core_16: 123 154 B, core_256: 23 740 324 B).
NETLIST_FILE_FIT = (30.5e3, 361.8)


def _env_bytes(name: str) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        v = float(raw)
    except ValueError:
        v = float("nan")
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"environment {name} must be a positive number of bytes, got {raw!r}")
    return v


def mem_available_b() -> float | None:
    """Bytes of memory available: ``PYCIM_MEM_AVAILABLE_B``, else ``MemAvailable`` from
    ``/proc/meminfo``; None where neither is known (the check is then skipped)."""
    v = _env_bytes(ENV_MEM)
    if v is not None:
        return v
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def disk_available_b(path: str | os.PathLike[str]) -> float | None:
    """Free bytes on the file system holding ``path`` (or its nearest existing ancestor);
    ``PYCIM_DISK_AVAILABLE_B`` overrides."""
    v = _env_bytes(ENV_DISK)
    if v is not None:
        return v
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return float(shutil.disk_usage(p).free)
    except OSError:
        return None


@dataclass(frozen=True)
class Estimate:
    """Peak bytes of one job and what it is (for the refusal message)."""

    what: str
    bytes: float

    def __str__(self) -> str:
        return f"{self.what}: {self.bytes / GB:.2f} GB"


def op_peak_b(rows: int, cols: int, flavour: str = "1t1r_wire_rc") -> float:
    """ngspice peak RSS of a DC op of a ``rows`` x ``cols`` array (see :data:`OP_FIT`)."""
    base, per_cell = OP_FIT[flavour]
    return base + per_cell * rows * cols


def core_op_peak_b(rows: int, cols: int) -> float:
    """A TNSA core's DC op: the 1T1R wire-R/C array plus its line drivers."""
    return op_peak_b(rows, cols) + CORE_PER_LINE_B * (rows + cols)


@functools.lru_cache(maxsize=128)
def _mvm_points(in_bits: int, out_bits: int, adc_fs_v: float | None = None) -> float:
    """Time points of an MVM transient: the schedule over its largest step
    (:func:`pycim.flows.mvm.max_step_s`, which depends on the ADC full scale; None: the
    neuron's default)."""
    from .flows.mvm import max_step_s
    from .netlist.neuron import NeuronSpec, mvm_schedule

    spec = NeuronSpec() if adc_fs_v is None else NeuronSpec(adc_fs_v=adc_fs_v)
    sched = mvm_schedule(spec, in_bits, out_bits)
    return MVM_POINTS_PER_STEP * sched.t_stop / min(max_step_s(spec, sched), POINTS_STEP_S)


def mvm_shape(n_in: int, n_out: int, direction: str = "forward",
              mapping: str = "row_pair") -> tuple[int, int, int, int]:
    """(physical rows, cols, driven lines, sensed lines = neurons) of an MVM."""
    rows, cols = (2 * n_in, n_out) if mapping == "row_pair" else (2 * n_in, 2 * n_out)
    drive, sense = (rows, cols) if direction == "forward" else (cols, rows)
    return rows, cols, drive, sense


def mvm_sim_b(n_in: int, n_out: int, *, in_bits: int = 4, out_bits: int = 6,
              direction: str = "forward", ideal: bool = False, mapping: str = "row_pair",
              adc_fs_v: float | None = None) -> float:
    """ngspice peak bytes of one MVM transient (see :data:`MVM_FIT`); ``adc_fs_v``: the ADC full
    scale (None: the neuron's default), which sets the largest time step."""
    rows, cols, drive, sense = mvm_shape(n_in, n_out, direction, mapping)
    points = _mvm_points(in_bits, out_bits, adc_fs_v)
    per_cell = OP_FIT["linear_wire_r" if ideal else "1t1r_wire_rc"][1]
    per_line = MVM_FIT["ideal_line_point_b" if ideal else "drive_line_point_b"]
    per_sense = MVM_FIT["neuron_point_b"] + (0.0 if ideal else MVM_FIT["sense_line_point_b"])
    return (MVM_FIT["base_b"] + per_cell * rows * cols
            + (per_line * drive + per_sense * sense) * points)


def mvm_peak_b(n_in: int, n_out: int, *, in_bits: int = 4, out_bits: int = 6,
               direction: str = "forward", ideal: bool = False,
               mapping: str = "row_pair", adc_fs_v: float | None = None) -> float:
    """Peak bytes of one MVM, one input vector at a time: ngspice (:func:`mvm_sim_b`) plus
    Python (interpreter, circuit objects, the saved vectors read back)."""
    kw = {"in_bits": in_bits, "out_bits": out_bits, "direction": direction, "ideal": ideal,
          "mapping": mapping, "adc_fs_v": adc_fs_v}
    rows, cols, drive, sense = mvm_shape(n_in, n_out, direction, mapping)
    vectors = 5 * sense + (2 if ideal else 12) * drive + (0 if ideal else 4 * sense + 2 * rows)
    read_back = 8.0 * vectors * _mvm_points(in_bits, out_bits, adc_fs_v)
    return mvm_sim_b(n_in, n_out, **kw) + PY_BASE_B + PY_PER_CELL_B * rows * cols + read_back


def sweep_point_b(kind: str, point: dict) -> float:
    """Peak bytes of one sweep point of ``kind`` (see :mod:`pycim.characterize.kinds`): an MVM
    transient for points with ``n_in``/``n_out`` (mvm_transfer, energy_per_mac, mvm_fit...), an
    array op for points with ``rows``/``cols`` (ir_drop, settling), a one-cell run otherwise."""
    if "n_in" in point and "n_out" in point:
        return mvm_peak_b(point["n_in"], point["n_out"], in_bits=point.get("in_bits", 4),
                          out_bits=point.get("out_bits", 6), ideal=bool(point.get("ideal", False)))
    if "rows" in point:
        rows, cols = point["rows"], point.get("cols", 1)
        flavour = "1t1r_wire_rc" if point.get("access", "ideal") == "sky130" else "linear_wire_r"
        return op_peak_b(rows, cols, flavour) + PY_BASE_B + PY_PER_CELL_B * rows * cols
    if kind == "adc_transfer":  # 8 neurons per transient
        return MVM_FIT["base_b"] + 8 * MVM_FIT["neuron_point_b"] * _mvm_points(1, 8) + PY_BASE_B
    return MVM_FIT["base_b"] + PY_BASE_B  # cell_iv, set_reset: one cell


def _refusal(est: Estimate, avail: float, hint: str = "") -> InputError:
    return InputError(f"{est.what}: estimated peak memory {est.bytes / GB:.2f} GB exceeds the "
                      f"{avail / GB:.2f} GB available (MemAvailable; {ENV_MEM} overrides)"
                      + (f"; {hint}" if hint else ""))


def require_memory(est: Estimate, hint: str = "") -> None:
    """Raise InputError if ``est`` exceeds the available memory (no-op where unknown)."""
    avail = mem_available_b()
    if avail is not None and est.bytes > avail:
        raise _refusal(est, avail, hint)


def check_mvm(req) -> Estimate:
    """Refuse an :class:`~pycim.flows.mvm.MvmRequest` whose transient would not fit in memory."""
    if getattr(req, "engine", "spice") == "macro":
        return Estimate("macro model", PY_BASE_B)
    n_in, n_out = req.weights.shape
    est = Estimate(f"mvm {n_in}x{n_out} {req.direction}{' ideal' if req.ideal else ''}",
                   mvm_peak_b(n_in, n_out, in_bits=req.in_bits, out_bits=req.out_bits,
                              direction=req.direction, ideal=req.ideal,
                              mapping=getattr(req, "mapping", "row_pair"),
                              adc_fs_v=getattr(req, "adc_full_scale_v", None)))
    require_memory(est, "use smaller --weights")
    return est


#: most points one sweep spec may hold, over all its tables (each table alone: 100 000)
MAX_SWEEP_POINTS = 100_000


def sweep_size(spec) -> int:
    """Points of ``spec`` before duplicates are merged: the product of each table's list
    lengths, summed (no point is enumerated)."""
    return sum(math.prod(len(v) for _, v in s.values) for s in spec.sweeps)


@dataclass(frozen=True)
class SweepPlan:
    """The work of a sweep, estimated before it starts: points, how many run at once, the
    largest point's peak memory and the memory of ``jobs`` such points at once."""

    points: int
    jobs: int
    worst: Estimate | None

    def __str__(self) -> str:
        peak = "" if self.worst is None else (
            f", peak memory {self.worst.bytes / GB:.2f} GB per point "
            f"({self.jobs * self.worst.bytes / GB:.2f} GB at once)")
        return f"{self.points} points, {self.jobs} at once{peak}"


def sweep_plan(spec, jobs: int) -> SweepPlan:
    """Refuse a sweep of more than :data:`MAX_SWEEP_POINTS` points in all (counted before any
    point is enumerated) or whose largest point does not fit in memory; estimate the rest."""
    n = sweep_size(spec)
    if n > MAX_SWEEP_POINTS:
        raise InputError(f"{spec.path}: {n} points over {len(spec.sweeps)} [[sweep]] tables; "
                         f"more than {MAX_SWEEP_POINTS} in one spec (split it)")
    worst = None
    points = spec.points()
    for kind, point in points:
        b = sweep_point_b(kind, point)
        if worst is None or b > worst.bytes:
            worst = Estimate(f"{spec.path}: {kind} point {point}", b)
    avail = mem_available_b()
    if worst is None or avail is None:
        return SweepPlan(len(points), jobs, worst)
    if worst.bytes > avail:
        raise _refusal(worst, avail, "shrink the sweep's sizes")
    return SweepPlan(len(points), max(1, min(jobs, int(avail // worst.bytes))), worst)


def plan_sweep(spec, jobs: int) -> int:
    """The number of parallel points that fit (at most ``jobs``, at least 1); refusals as
    :func:`sweep_plan`."""
    return sweep_plan(spec, jobs).jobs


def netlist_file_b(kind: str, rows: int, cols: int) -> float:
    """Estimated bytes of ``pycim netlist KIND`` output (an upper bound for arrays)."""
    base, per_cell = NETLIST_FILE_FIT
    return base + per_cell * (1 if kind == "cell" else rows * cols)


def check_disk(path: str | os.PathLike[str], need_b: float, what: str) -> None:
    avail = disk_available_b(path)
    if avail is not None and need_b > avail:
        raise InputError(f"{what}: estimated file size {need_b / MB:.1f} MB exceeds the "
                         f"{avail / MB:.1f} MB free at {Path(path).absolute().parent} "
                         f"({ENV_DISK} overrides)")

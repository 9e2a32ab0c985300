"""An MVM request: weights, inputs, bit widths, direction, engine and conditions, validated.

Every engine takes the same request (:func:`pycim.dispatch.run_mvm` picks one) and the same
ideal reference, :func:`prepare`: programmed and target conductances, bit planes, the closed
form per plane and the ideal outputs in LSB.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import assumptions
from ..errors import InputError
from ..specs.neuron import MAX_OUT_BITS, MIN_LSB_V
from ..tech.corners import CORNERS
from ..validate import integer, number
from .closed_form import closed_form_planes, ideal_output
from .encoding import bit_planes, check_inputs, check_weights
from .phases import (
    FLAG_NAMES,
    check_phases,
    default_phases,
    phase_full_scale_v,
    phase_widths,
    split_inputs,
)
from .programming import Programmed, check_seed, check_tol_s, program

#: the neuron's ADC full-scale range (``NeuronSpec.adc_fs_v``) and its default
ADC_FS_RANGE_V = (0.05, 0.8)
#: the read pulse per magnitude plane an MVM accepts (s)
READ_PULSE_RANGE_S = (4e-9, 1e-6)

ENGINES = ("spice", "vacask", "macro")
#: row_pair: G+ on row 2i, G- on row 2i+1 (2 cells per weight, the paper's forward mapping).
#: transposable: a 2x2 block per weight, G+ on the diagonal and G- off it, so rows and columns
#: are both differential pairs: backward on W is forward on W^T (4 cells per weight).
MAPPINGS = ("row_pair", "transposable")


@dataclass(frozen=True)
class MvmRequest:
    weights: np.ndarray
    x: np.ndarray
    in_bits: int = 4
    out_bits: int = 6
    direction: str = "forward"
    engine: str = "spice"
    ideal: bool = False
    corner: str = "tt"
    temp_c: float = 27.0
    seed: int = 0
    vdd_v: float = assumptions.value("vdd_v")  # neuron and driver supply (PVT sweeps)
    prog_tol_s: float = 1e-6  # write-verify tolerance band of the programming model (MC)
    mapping: str = "row_pair"
    #: cells per wire R/C segment (1 = a node per cell; 16 = one per corelet: the 256 x 256
    #: transient's RC reduction, see :class:`pycim.netlist.array.WireSpec`)
    wire_segment_cells: int = 1
    #: transistor mismatch for Monte Carlo, in multiples of the PDK's Pelgrom sigma (0 = off):
    #: a per-instance delvto on every SKY130 FET, seeded by ``seed`` (pycim.netlist.mismatch)
    mismatch: float = 0.0
    #: 1 (one phase) or 2 (high and low magnitude slices shift-added, :mod:`pycim.cim.phases`);
    #: None: 2 for in_bits >= 5, else 1
    phases: int | None = None
    #: the MVM's ADC full scale (V, integrator-referred; the LSB is 2 FS / 2^out_bits for one or
    #: two phases); None: the neuron's default ``neuron_adc_fs_v``
    adc_full_scale_v: float | None = None
    #: the input / word-line read pulse per magnitude plane (s); None: the default 20 ns
    #: (``read_pulse_s`` in :mod:`pycim.assumptions`; the paper's is 10 ns). Small arrays with low conductances settle
    #: slower than a full core: see :func:`pycim.cim.closed_form.settling_time_constants_s`
    read_pulse_s: float | None = None
    #: run each vector partitioned (:mod:`pycim.flows.partition`): the array with the neurons'
    #: track/hold front ends, then the neurons in banks on the recorded line waveforms. None
    #: (default): partitioned in ngspice (engine ``spice``) where the conversion's LSB allows
    #: (:func:`pycim.flows.mvm.partition_within_lsb`: up to (6, 8) and 8-bit outputs at 4 bits),
    #: one whole deck in VACASK (the cross-check engine solves the circuit as one matrix), for
    #: finer conversions and wherever the caller asks for the transient's waveforms
    #: (:func:`partitioned`)
    partition: bool | None = None

    def __post_init__(self) -> None:
        w = check_weights(np.asarray(self.weights))
        object.__setattr__(self, "weights", w)
        if self.direction not in ("forward", "backward"):
            raise InputError(f"--direction must be forward or backward, got {self.direction!r}")
        n_drive = w.shape[0] if self.direction == "forward" else w.shape[1]
        object.__setattr__(self, "x", check_inputs(np.asarray(self.x), n_drive, self.in_bits))
        integer(self.out_bits, "--out-bits", 1, MAX_OUT_BITS)
        if self.mapping not in MAPPINGS:
            raise InputError(f"--mapping must be one of {', '.join(MAPPINGS)}, got {self.mapping!r}")
        if self.mapping == "transposable" and max(w.shape) > 128:
            raise InputError(f"--weights: shape {w.shape} exceeds one core with --mapping "
                             f"transposable (2x2 cells per weight: at most 128 x 128)")
        integer(self.wire_segment_cells, "--wire-segment-cells", 1, 256)
        if self.engine not in ENGINES:
            raise InputError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.corner not in CORNERS:
            raise InputError(f"--corner must be one of {', '.join(CORNERS)}, got {self.corner!r}")
        if isinstance(self.ideal, np.bool_):
            object.__setattr__(self, "ideal", bool(self.ideal))
        if not isinstance(self.ideal, bool):
            raise InputError(f"ideal must be True or False, got {self.ideal!r}")
        # the messages users' scripts match: "--temp-c must be in -55..150, got X"
        for name, lo, hi, what, unit in (("temp_c", -55, 150, "--temp-c", ""),
                                         ("vdd_v", 1.2, 1.98, "vdd_v",
                                          " V (SKY130 1.8 V devices)")):
            v = getattr(self, name)
            try:
                number(v, what, lo=lo, hi=hi)
            except InputError:
                raise InputError(f"{what} must be in {lo}..{hi}{unit}, got {v!r}") from None
        object.__setattr__(self, "seed", check_seed(self.seed))
        check_tol_s(self.prog_tol_s, "prog_tol_s")
        if isinstance(self.mismatch, bool) or not isinstance(self.mismatch, (int, float)) \
                or not 0.0 <= self.mismatch <= 10.0:
            raise InputError(f"mismatch must be in 0..10 (multiples of the PDK sigma), "
                             f"got {self.mismatch!r}")
        if self.partition is not None and not isinstance(self.partition, bool):
            raise InputError(f"partition must be True, False or None, got {self.partition!r}")
        rp = assumptions.value("read_pulse_s") if self.read_pulse_s is None else self.read_pulse_s
        rp_lo, rp_hi = READ_PULSE_RANGE_S
        if isinstance(rp, bool) or not isinstance(rp, (int, float, np.floating)) \
                or not np.isfinite(rp) or not rp_lo <= rp <= rp_hi:
            raise InputError(f"--read-pulse-s must be a number in {rp_lo:g}..{rp_hi:g} s, got "
                             f"{rp!r}")
        object.__setattr__(self, "read_pulse_s", float(rp))
        phases = default_phases(self.in_bits) if self.phases is None else self.phases
        object.__setattr__(self, "phases", check_phases(phases, self.in_bits, self.out_bits))
        fs = (assumptions.value("neuron_adc_fs_v") if self.adc_full_scale_v is None
              else self.adc_full_scale_v)
        object.__setattr__(self, "adc_full_scale_v", check_full_scale(fs, self.in_bits,
                                                                       self.out_bits, phases))


def partitioned(req: MvmRequest, waveforms: bool = False) -> bool:
    """Whether ``req`` asks for a partitioned run: ``req.partition`` if given, else in ngspice
    unless the caller wants the transient's ``waveforms`` (a partitioned run has no one
    transient of the whole core). The flow then also needs the conversion's LSB coarse enough
    for the split's coupling error (:func:`pycim.flows.mvm.partition_within_lsb`; not for an
    explicit ``partition=True``). The 16 x 16 4-bit MVM: 7.5 s partitioned against 11.2 s
    whole, codes equal (``make bench`` group ``mvm_speed_v01``); the coupling error against
    the whole deck: README, Full cores."""
    if req.partition is not None:
        return req.partition
    return req.engine == "spice" and not waveforms


def check_full_scale(fs_v, in_bits: int, out_bits: int, phases: int = 1,
                     names: dict | None = None) -> float:
    """Validate an MVM's ADC full scale (V) with one-line errors: in the neuron's range
    0.05-0.8 V, per phase (two phases: FS / 2^L, :func:`pycim.cim.phases.phase_full_scale_v`)
    too, and an LSB 2 FS / 2^out_bits not below the comparator's ``MIN_LSB_V``. ``names``: how
    the message names the widths (default the command line's options, ``FLAG_NAMES``)."""
    n = FLAG_NAMES if names is None else names
    lo, hi = ADC_FS_RANGE_V
    if isinstance(fs_v, bool) or not isinstance(fs_v, (int, float, np.floating)) \
            or not np.isfinite(fs_v) or not lo <= fs_v <= hi:
        raise InputError(f"{n['adc_full_scale_v']} must be a number in {lo:g}..{hi:g} V, got "
                         f"{fs_v!r}")
    if phases == 2:
        fs_p = phase_full_scale_v(fs_v, in_bits)
        if fs_p < lo:
            raise InputError(f"{n['adc_full_scale_v']} {fs_v:g} V with {n['two_phases']} at "
                             f"{n['in_bits']} {in_bits} gives a per-phase full scale {fs_p:g} V "
                             f"below {lo:g} V: raise it to >= {lo * fs_v / fs_p:g} V"
                             f"{n['or_one_phase']}")
    q = 2.0 * float(fs_v) / 2 ** out_bits
    if q < MIN_LSB_V:
        raise InputError(f"{n['adc_full_scale_v']} {fs_v:g} V at {n['out_bits']} {out_bits} "
                         f"gives a {q * 1e3:.3g} mV LSB, below {MIN_LSB_V * 1e3:g} mV: raise "
                         f"{n['adc_full_scale_v']} or lower {n['out_bits']}")
    return float(fs_v)


def phase_requests(req: MvmRequest) -> tuple[MvmRequest, MvmRequest]:
    """The two one-phase requests of a two-phase ``req`` (high slice, low slice): inputs
    :func:`~pycim.cim.phases.split_inputs`, signed H+1 / L+1 bits, out_bits - L conversion
    bits each at the per-phase full scale FS / 2^L (same LSB as a one-phase ``out_bits`` MVM
    at FS; derivation in :mod:`pycim.cim.phases`). Everything else (weights, seed, engine,
    conditions) is shared, so both phases see the same programmed conductances."""
    if req.phases != 2:
        raise InputError(f"phase_requests needs a two-phase request, got phases={req.phases}")
    x_hi, x_lo = split_inputs(req.x, req.in_bits)
    (b_hi, b_out), (b_lo, _) = phase_widths(req.in_bits, req.out_bits)
    fs_p = phase_full_scale_v(req.adc_full_scale_v, req.in_bits)
    return (replace(req, x=x_hi, in_bits=b_hi, out_bits=b_out, phases=1, adc_full_scale_v=fs_p),
            replace(req, x=x_lo, in_bits=b_lo, out_bits=b_out, phases=1, adc_full_scale_v=fs_p))


@dataclass(frozen=True)
class MvmProblem:
    """What every engine computes from a request before simulating: the programmed (write-
    verify) and target conductances, the bit planes and the ideal outputs."""

    prog: Programmed
    target: Programmed
    planes: np.ndarray  # (batch, planes, n_drive) in {-1, 0, 1}
    ideal_planes_v: np.ndarray  # (batch, planes, n_out): closed form on the programmed G
    y_ideal: np.ndarray  # (batch, n_out) in LSB
    y_target: np.ndarray  # the same on the target conductances: what the user asked for


def prepare(req: MvmRequest, lsb_v: float, v_read_v: float) -> MvmProblem:
    """Program W (same seed, same conductances for every engine) and compute the closed form.
    ``lsb_v``: the line-referred integrated volts per output code of the engine's neuron.

    The ideal outputs follow the chip's scheme (:func:`~pycim.cim.closed_form.ideal_output`:
    each plane's settled line held on the neuron's C_hold and re-sampled)."""
    prog = program(req.weights, req.seed, noise=req.prog_tol_s > 0,
                   tol_s=max(req.prog_tol_s, 1e-12))
    target = program(req.weights, req.seed, noise=False)
    planes = bit_planes(req.x, req.in_bits)
    ideal = closed_form_planes(prog.g_pos_s, prog.g_neg_s, planes, v_read_v, req.direction,
                               req.mapping)
    tgt = closed_form_planes(target.g_pos_s, target.g_neg_s, planes, v_read_v, req.direction,
                             req.mapping)
    return MvmProblem(prog, target, planes, ideal, ideal_output(ideal, req.in_bits, lsb_v),
                      ideal_output(tgt, req.in_bits, lsb_v))


def run_two_phase(req: MvmRequest, run_one) -> dict:
    """Run a two-phase ``req`` as its two one-phase requests (:func:`phase_requests`, high
    slice first) through ``run_one(request) -> result dict`` (an engine's one-phase MVM) and
    shift-add them (:func:`pycim.cim.phases.combine_results`)."""
    from .phases import combine_results

    r_hi, r_lo = phase_requests(req)
    return combine_results(req.in_bits, req.out_bits, req.adc_full_scale_v, req.x,
                           run_one(r_hi), run_one(r_lo))


def phase_keys(req: MvmRequest) -> dict:
    """The keys a one-phase result adds: ``phases`` (1), ``read_pulse_s``, ``adc_full_scale_v``, ``n_clipped``
    (0: a one-phase code is the ADC's own, never clipped afterwards)."""
    return {"phases": 1, "adc_full_scale_v": float(req.adc_full_scale_v), "n_clipped": 0,
            "read_pulse_s": float(req.read_pulse_s)}


def check_settling(req: MvmRequest, g_phys: np.ndarray, edge_s: float,
                   max_error: float = 1e-3) -> float:
    """Warn (:class:`~pycim.errors.SettlingWarning`) if the read pulse cannot settle the
    slowest sensed line to ``max_error`` of its step: the hold capacitor tracks the line for
    ``read_pulse_s`` less three edges, with the time constant of
    :func:`~pycim.cim.closed_form.settling_time_constants_s` (a lower bound). Returns the
    bound's worst error exp(-t / tau)."""
    import warnings

    from ..errors import SettlingWarning
    from .closed_form import settling_time_constants_s

    tau = float(np.max(settling_time_constants_s(g_phys, req.direction, req.mapping)))
    t = req.read_pulse_s - 3 * edge_s
    err = float(np.exp(-t / tau))
    if err > max_error:
        need = tau * np.log(1 / max_error) + 3 * edge_s
        warnings.warn(f"read pulse {req.read_pulse_s * 1e9:.3g} ns is short for this array: its "
                      f"slowest sensed line settles with tau >= {tau * 1e9:.3g} ns (hold "
                      f"capacitor / the line's summed conductance), so held values miss the "
                      f"settled line by up to {err:.1%}; --read-pulse-s {need:.2g} settles it "
                      f"to {max_error:.1%}", SettlingWarning, stacklevel=3)
    return err

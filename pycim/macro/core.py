"""One NeuRRAM core as a vectorised numpy macro-model: 256 x 256 cells = 128 signed rows x 256
columns.

Mapping (``row_pair``, the SPICE flow's): weight W_ij sits on the cell pair G+ (physical row 2i)
and G- (row 2i+1) of column j; conductances come from :func:`pycim.cim.programming.program`
with the same seed as the SPICE flow, so a :class:`Core` and ``pycim mvm --seed S`` hold
identical G+ / G-. A weight matrix smaller than 128 x 256 occupies the top-left corner; the
unused rows are not driven (their lines float) and unused columns are not read, so they do not
enter the closed form (the same circuit the SPICE flow builds for a small W).

Forward (y = x W): the driven lines are the 2 n_in bit-lines, each output j is one
source-line. Per input bit plane p the ideal settled line voltage minus Vref is
v_p = Vread * sum_i p_i (G+ - G-)_ij / sum_i (G+ + G-)_ij; the chip reads plane p once, holds
it and samples it 2^(p-1) times with charge-sharing losses, so what it converts is
sum_p w_p v_p with the held plane weights w_p (:meth:`MacroModel.plane_weights`). The closed
form is linear in the planes, so with each input's effective drive
d(x) = sign(x) sum_p w_p bit_p(|x|) (:meth:`MacroModel.input_levels`, a table lookup)

    sum_p w_p v_p = Vread * d(x) @ (G+ - G-) / sum(G+ + G-)

is ONE float32 matmul against a matrix precomputed at programming time. The fitted
:meth:`MacroModel.line_transfer` then maps that ideal value to what the transistor-level core
settles to, and :meth:`MacroModel.output_codes` converts code units y = v / LSB into signed
codes (LSB = NeuronSpec.lsb_v(out_bits) / gain, line-referred).

Backward (x W^T) drives the 256 source-lines with x and senses every bit-line of the same
programmed array: V(row r) = Vread * sum_j x_j G_rj / sum_j G_rj, each row with its own neuron
and ADC; output i is code(row 2i) - code(row 2i+1), as in the SPICE flow.

The fitted line transfer (gain, cubic and offset per line) and the ADC's gain, offset and INL
are folded into that operator once per (direction, in_bits, out_bits) (:class:`FastChain`,
checked against the model's own calls when it is built); ``exact=True`` or ``keep_y=True``
evaluate the model's own float64 calls instead.

How the fast path is evaluated (issue 18 item 6; the same results as the previous
implementation up to float32 rounding at code edges, ``tests/test_macro_fast_path.py``):
signed-integer inputs are range-checked on the lookup's index (one unsigned pass); one
``take`` of the drive table fills a reused work array (contiguous, without a ones column, when
the chain has a cubic term or low-rank offsets: the offset is added after the cubic or rides
in the low-rank product); the cubic's and the calibration's
per-line constants are tiled over whole rows (long numpy inner loops); the active-fraction
offsets ride in the matmul as a block on the drives' magnitudes (dense: backward, and forward
with the lines' own shares, ``b_act_line_v``) or, when they are mean-field alone (forward
without that term), as low-rank factors, which with the calibration's shift and activity term
are added by BLAS
products with beta = 1 (``_add_matmul``: no temporary, one pass), the calibration's activity
computed in the low-rank matmul itself; the ADC's clip is skipped where no allowed input can
leave the code range (``_reach_lsb``); the int64 codes go through an int32 work array (the
calibration's values array before they are written); codes and values are written into arrays
the chain reuses once nothing else references them (fresh multi-MB arrays fault in every page
on each call); the activity's set-bit sums come from ``np.bitwise_count`` on an int8 copy,
summed in uint64 byte lanes, and the energy is affine in the activity (kept per widths). Work
arrays and reused outputs are per chain and per thread.

A model with per-polarity departures (:meth:`MacroModel.polarity_coefs`, the packaged
``polarity`` model) has no folded chain: its lines' per-polarity share is quadratic in the
drives, so every call runs the model's own chain with that share evaluated per plane in
float32 (:meth:`MacroModel.polarity_lines`; seven 256 x 256 products per plane, about 30 x
the default model's call at batch 1024: ``make bench``, ``macro_throughput``).

Foreground calibration (:meth:`Core.calibrate`, what a chip does after programming): the
zero vector and random known inputs go through the core's own MVMs; per sensed line the codes
are fitted as gain x (closed form on the *target* conductances) + offset, and the digital
correction value = scale code + shift (:class:`Calibration`) is stored per (direction, in_bits,
out_bits). Calls of a calibrated core return it as ``MvmResult.value`` (two float32
elementwise passes after the ADC: the correction is part of the fast path). With the fitted
model it takes the per-column offsets (line, integrator, ADC) and gain errors (rows and g_sum
terms, series resistance, programming error of the column sum) out of the codes.

Energy per call: :meth:`MacroModel.energy_j` for the batch, with the array's activity taken
from the actual inputs (zero inputs dissipate nothing in the cells). Latency per call: a core
converts one vector per neuron cycle, so a batch of B vectors takes
B * :meth:`MacroModel.latency_s`.
"""

from __future__ import annotations

import sys
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg.blas import sgemm as _sgemm

from ..cim.closed_form import active_fraction, line_conductance_s, neuron_lines_v
from ..cim.encoding import bit_planes, check_weights
from ..cim.mapping import interleave_rows
from ..cim.programming import check_tol_s, program
from ..errors import InputError
from ..specs.neuron import MAX_OUT_BITS
from ..validate import check_int
from .inputs import (_check_fs, as_inputs, check_bits, checked_inputs, input_range,
                     unmasked)
from .model import MacroModel, OutOfRangeWarning, check_rng

#: physical cells of one core
CORE_ROWS = 256
CORE_COLS = 256
#: signed weights per core with the row_pair mapping: 128 inputs x 256 outputs
CORE_IN = CORE_ROWS // 2
CORE_OUT = CORE_COLS
#: vectors of a call on which the array activity's line-swing term is evaluated exactly
ACTIVITY_SAMPLE = 32
#: relative change of a plane's weight by the lines' memory (:meth:`Core.line_weights`) up to
#: which the core uses the one-matmul drive table (held weights without memory): a full
#: 128 x 256 random core with the default model changes them by <= 6.2e-4 (<= 0.02 LSB at 6
#: output bits over the full code range, <= 0.3 LSB at 10 bits); small, low-conductance cores
#: change them by more and take one operator per plane (3 x the matmul at 4 bits)
LINE_WEIGHT_RTOL = 1e-3


def default_model():
    """The packaged macro-model (:meth:`MacroModel.load` with no path)."""
    from .model import MacroModel

    return MacroModel.load()


@dataclass(frozen=True)
class MvmResult:
    """One call of a core (or of a chip layer).

    ``code``: int64 (batch, n_out) signed output codes (backward: row-pair code differences);
    ``y``: float (batch, n_out) the same in code units before the ADC (after the line
    transfer), ``None`` unless asked for; ``energy_j``: MacroModel.energy_j groups and
    ``total`` for the whole call; ``latency_s``: the call's duration; ``value``: float32
    (batch, n_out) the calibrated codes (:class:`Calibration`: the closed form on the target
    conductances, in code units), ``None`` when the core is not calibrated for this
    (direction, in_bits, out_bits).
    """

    code: np.ndarray
    energy_j: dict[str, float]
    latency_s: float
    y: np.ndarray | None = None
    macs: int = 0
    value: np.ndarray | None = None


#: percentile of the calibration batch's |integrated value| that :meth:`Core.calibrate_full_scale`
#: maps to the ADC full scale (the rest, 0.1 %, clips by at most a few LSB)
FS_PERCENTILE = 99.9


@dataclass(frozen=True)
class FullScaleCalibration:
    """The ADC full scale a layer's calibration chose (:meth:`Core.calibrate_full_scale`).

    ``adc_fs_v``: the full scale set (V, integrator-referred; LSB = 2 adc_fs_v / 2^out_bits);
    ``wanted_v``: the ``percentile`` of the calibration batch's |integrated value| before
    clipping to the neuron's range [``lo_v``, ``hi_v``] (0.05-0.8 V, and an LSB not below
    ``MIN_LSB_V``); ``limited``: "low", "high" or "" when it was clipped; ``n_vectors``;
    ``clip_fraction``: outputs of the calibration batch beyond the chosen full scale.
    """

    direction: str
    in_bits: int
    out_bits: int
    percentile: float
    wanted_v: float
    adc_fs_v: float
    lo_v: float
    hi_v: float
    limited: str
    n_vectors: int
    clip_fraction: float


#: calibration vectors per (direction, in_bits, out_bits) (quantisation error of the fitted
#: offset ~ 0.3 / sqrt(n) LSB)
CAL_VECTORS = 256


#: elements of a per-line constant tiled over whole rows (:func:`_row_op`): 64 kB of float32,
#: long inner loops instead of one numpy inner loop per row of 256
TILE_ELEMS = 16384


def _tile(vec: np.ndarray) -> np.ndarray:
    """A per-line float32 constant (m,) repeated over max(1, TILE_ELEMS // m) rows, flat."""
    vec = np.asarray(vec, dtype=np.float32)
    return np.tile(vec, max(1, TILE_ELEMS // vec.size))


def _row_op(ufunc, y: np.ndarray, vec: np.ndarray, tile: np.ndarray, out: np.ndarray) -> None:
    """``ufunc(y, vec, out=out)`` for C-contiguous (batch, m) ``y`` and ``out`` and a per-line
    float32 ``vec`` (m,): the same elementwise operations, the bulk of the rows against
    ``tile`` (:func:`_tile` of ``vec``) so each numpy inner loop spans many rows."""
    b, m = y.shape
    r = tile.size // m
    nb = b - b % r
    if nb:
        ufunc(y[:nb].reshape(nb // r, r * m), tile, out=out[:nb].reshape(nb // r, r * m))
    if nb < b:
        ufunc(y[nb:], vec, out=out[nb:])


def _reusable(pool: list, shape: tuple, dtype) -> np.ndarray:
    """An output array for a call: one of ``pool``'s earlier outputs that nothing but the pool
    references any more (so nobody can see it change), else a new one (kept in the pool, at
    most 2 per shape and dtype). Fresh arrays of a few MB fault in every page on each call
    (measured ~370 faults, 0.3-1 ms, per 1024-vector call); reusing an abandoned one does not.
    Plain ``np.empty`` where reference counts are not reliable (a free-threaded build)."""
    dtype = np.dtype(dtype)
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return np.empty(shape, dtype)
    if any(a.shape != shape for a in pool):  # another batch size: drop the old ones
        pool[:] = [a for a in pool if a.shape == shape]
    same = [i for i in range(len(pool)) if pool[i].dtype == dtype]
    for i in same:
        if sys.getrefcount(pool[i]) == 2:  # the pool's reference and this call's argument
            return pool[i]
    if len(same) >= 2:  # all in use: let the oldest go (its holders keep it)
        del pool[same[0]]
    out = np.empty(shape, dtype)
    pool.append(out)
    return out


@dataclass(frozen=True)
class Calibration:
    """Foreground calibration of one core's sensed lines (:meth:`Core.calibrate`).

    Measured on the chip (the model's own MVMs on random known inputs, clipped codes
    excluded): per line ``code + 1/2 = gain y_ref + offset + slope a`` with ``y_ref`` the
    closed form on the *target* conductances in code units (what the programmer knows) and
    ``a`` the vector's input activity, ``|d(x)| @ act_q``: its effective drives' magnitudes
    weighted by each driven line's share of the target conductance (a line's offset grows
    with the share of the array driven away from Vref, :meth:`MacroModel.act_offset_v`;
    the digital side knows x, so it can take it out). The digital correction stored for the
    line is ``value = scale code + shift + act_coef a`` (scale = 1 / gain, shift =
    (1/2 - offset) / gain, act_coef = -slope / gain), the estimate of ``y_ref`` that partial
    sums add up. ``act_coef`` None: no activity term (``value = scale code + shift``).
    ``rms_raw_lsb`` / ``rms_lsb``: RMS of (code + 1/2 - y_ref) / (value - y_ref) over the
    unclipped calibration MVMs, all lines.
    """

    direction: str
    in_bits: int
    out_bits: int
    gain: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    n_vectors: int
    rms_raw_lsb: float
    rms_lsb: float
    #: per line: the activity's correction (float32), None without one
    act_coef: np.ndarray | None = None
    #: per driven input: its driven line's share of the target conductance (float32)
    act_q: np.ndarray | None = None

    _tiles: tuple = field(init=False, repr=False, compare=False)
    _shift_coef: np.ndarray | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tiles", (_tile(self.scale), _tile(self.shift)))
        object.__setattr__(self, "_shift_coef", None if self.act_coef is None else
                           np.vstack([self.shift, self.act_coef]).astype(np.float32))

    def activity(self, mag: np.ndarray) -> np.ndarray | None:
        """The activity a (batch,) of the drives' magnitudes ``mag`` (batch, inputs), float32;
        None without an activity term."""
        if self.act_coef is None:
            return None
        return np.asarray(mag, dtype=np.float32) @ self.act_q

    def apply(self, code: np.ndarray, act: np.ndarray | None = None) -> np.ndarray:
        """Corrected float32 values (a new array) of codes (batch, lines), int or float32;
        ``act``: the vectors' :meth:`activity` (needed when there is an activity term)."""
        v = np.multiply(code, self.scale, dtype=np.float32, casting="unsafe")
        v += self.shift
        return self._add_activity(v, act)

    def apply_into(self, lev: np.ndarray, out: np.ndarray,
                   act: np.ndarray | None = None) -> np.ndarray:
        """:meth:`apply` of C-contiguous float32 codes into ``out`` (float32, same shape):
        the same float32 operations per element, over whole-row tiles."""
        if self.act_coef is None:
            _row_op(np.multiply, lev, self.scale, self._tiles[0], out)
            _row_op(np.add, out, self.shift, self._tiles[1], out)
            return out
        if act is None:
            raise ValueError("this calibration has an activity term: pass the activity")
        # the scaled codes, then shift + act coef added by one small BLAS product
        # ([1, a] (batch, 2) @ [shift; coef], beta = 1): two passes, no temporary
        one_a = np.empty((act.shape[0], 2), np.float32)
        one_a[:, 0], one_a[:, 1] = 1.0, act
        _row_op(np.multiply, lev, self.scale, self._tiles[0], out)
        _add_matmul(one_a, self._shift_coef, out)
        return out

    def _add_activity(self, v: np.ndarray, act: np.ndarray | None) -> np.ndarray:
        if self.act_coef is None:
            return v
        if act is None:
            raise ValueError("this calibration has an activity term: pass the activity")
        v += np.multiply.outer(act.astype(np.float32), self.act_coef)
        return v


def fit_lines_activity(code: np.ndarray, y_ref: np.ndarray, act: np.ndarray, lo: int,
                       hi: int) -> tuple[np.ndarray, ...]:
    """Per-line least squares ``code + 1/2 = gain y_ref + offset + slope act`` over the
    unclipped codes (``act``: one activity per vector). Lines where the three regressors are
    not independent over their unclipped codes fall back to :func:`fit_lines` (slope 0)."""
    gain0, offset0 = fit_lines(code, y_ref, lo, hi)
    c = code.astype(float) + 0.5
    w = ((code > lo) & (code < hi)).astype(float)
    a = np.broadcast_to(np.asarray(act, dtype=float)[:, None], y_ref.shape)
    ones = np.ones_like(y_ref)
    cols = (y_ref, ones, a)
    m = np.empty((y_ref.shape[1], 3, 3))
    r = np.empty((y_ref.shape[1], 3))
    for i, u in enumerate(cols):
        r[:, i] = (w * u * c).sum(0)
        for j, v in enumerate(cols):
            m[:, i, j] = (w * u * v).sum(0)
    ok = np.linalg.cond(m) < 1e8
    sol = np.zeros((y_ref.shape[1], 3))
    if np.any(ok):
        sol[ok] = np.linalg.solve(m[ok], r[ok][..., None])[..., 0]
    ok &= sol[:, 0] > 0.05  # a dead or inverted line: the plain fit's fallback
    gain = np.where(ok, sol[:, 0], gain0)
    offset = np.where(ok, sol[:, 1], offset0)
    slope = np.where(ok, sol[:, 2], 0.0)
    return gain, offset, slope


def fit_lines(code: np.ndarray, y_ref: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, ...]:
    """Per-line least squares ``code + 1/2 = gain y_ref + offset`` over the unclipped codes.

    Lines with fewer than 2 unclipped codes or no spread of y_ref keep gain 1 (offset: the
    mean residual; 1/2 -> no correction when nothing is unclipped)."""
    c = code.astype(float) + 0.5
    w = ((code > lo) & (code < hi)).astype(float)
    n = w.sum(axis=0)
    nn = np.maximum(n, 1.0)
    my, mc = (w * y_ref).sum(0) / nn, (w * c).sum(0) / nn
    dy = (y_ref - my) * w
    syy = (dy * dy).sum(0)
    syc = (dy * (c - mc)).sum(0)
    ok = (n >= 2) & (syy > 1e-6 * np.maximum(n, 1.0))
    gain = np.where(ok, syc / np.where(ok, syy, 1.0), 1.0)
    bad = ~(gain > 0.05)  # a dead or inverted line: no gain correction
    gain = np.where(bad, 1.0, gain)
    offset = np.where(n > 0, mc - gain * my, 0.5)
    return gain, offset


@dataclass(frozen=True)
class FastChain:
    """The model's per-line chain folded into one float32 operator (see :meth:`Core.fast_chain`).

    code = ADC(z + cubic z^3 + off) with z = d(x) @ a: ``d`` the inputs' effective drives
    (``drive``, a lookup table of the held plane weights); ``a`` holds Vread, the closed form,
    the line gain alpha_j, 1/LSB and the ADC gain; ``off`` the line offset and the ADC offset
    in code units; ``inl`` the ADC's per-code INL (index: code - lo).
    """

    a: np.ndarray
    off: np.ndarray
    cubic: np.ndarray | None
    inl: np.ndarray | None
    noise_lsb: float
    lo: int
    hi: int
    #: effective drive of each integer input x (index x - x_lo): the held plane weights
    drive: np.ndarray | None = None
    #: the smallest allowed integer input (the tables' index 0)
    x_lo: int = 0
    #: > 0: ``a`` stacks one operator per magnitude plane (per-line plane weights, the
    #: model's memory term) and the work array holds the signed bit planes side by side
    n_planes: int = 0
    #: the model's active-fraction offsets (``b_act_v``, ``b_load_v``, ``b_act_line_v``): an
    #: operator on the magnitudes of the drives (or bit planes), |d(x)| @ a_abs, added after
    #: the line's cubic and offset; the work array holds the magnitudes after its ones
    #: column; None: none
    a_abs: np.ndarray | None = None
    #: ``a`` with the offset as a last row (against a ones column of the work array) when
    #: there is no cubic term and the chain is not :attr:`contiguous`, else with a zero row
    #: (the operator a per-plane chain with a cubic term multiplies)
    a_ext: np.ndarray = field(init=False, repr=False, compare=False)
    #: n_planes > 0: (inputs, planes) signed bit of each plane for each integer input
    #: (index x - x_lo), float32
    plane_tab: np.ndarray | None = field(init=False, repr=False, compare=False)
    #: ``a_abs`` as factors (u (n, r), [off; v] (r + 1, m)) when its rank r is small (the
    #: forward active fractions are mean-field: one value per vector for every line, rank 1
    #: per plane; :func:`pycim.cim.closed_form.active_fraction`): [1, |d| @ u] @ [off; v]
    #: costs (r + 1) / n of the dense product and carries the line offset along (unless
    #: ``a_ext`` does: then the row is 0). None: dense
    abs_factors: tuple | None = field(init=False, repr=False, compare=False)
    #: a drive-table chain with a cubic term or low-rank offsets: its drives stay one
    #: contiguous work array without the ones column (the offset is added after the cubic or
    #: rides in the low-rank product's first row), the main matmul takes ``a`` alone, the
    #: magnitudes have their own array
    contiguous: bool = field(init=False, repr=False, compare=False)
    #: False when no allowed input can reach a value outside [lo, hi + 1) before the ADC's
    #: floor (:func:`_reach_lsb`): the clip is then skipped, unless noise is drawn
    clip_needed: bool = field(init=False, repr=False, compare=False)
    #: dense magnitudes' offsets without a cubic term: the work array [drives, 1, |drives|]
    #: meets one stacked operator [a; off; a_abs] in ONE product (K = 2 n + 1) instead of a
    #: product, a second one into a scratch array and an add (:meth:`inputs` then returns
    #: the whole work array as ``op``)
    fused: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lr = _low_rank(self.a_abs)
        # contiguous drives (no ones column) where the offset has another way in: after the
        # cubic, or as the low-rank product's first row
        contig = (not self.n_planes and self.drive is not None
                  and (self.cubic is not None or lr is not None))
        object.__setattr__(self, "contiguous", contig)
        # the offset: in the matmul's last row (against the ones column) unless the cubic
        # keeps it out or the chain is contiguous; else the low-rank product's row 0 carries
        # it (or, without low-rank factors, it is added after the cubic)
        in_ext = self.cubic is None and not contig
        last = self.off if in_ext else np.zeros_like(self.off)
        object.__setattr__(self, "a_ext", np.vstack([self.a, last[None, :]]).astype(np.float32))
        fused = in_ext and self.a_abs is not None and lr is None
        object.__setattr__(self, "fused", fused)
        object.__setattr__(self, "_a_main", np.ascontiguousarray(self.a, dtype=np.float32)
                           if contig else np.vstack([self.a_ext, self.a_abs]).astype(np.float32)
                           if fused else self.a_ext)
        reach = _reach_lsb(self)
        object.__setattr__(self, "clip_needed", reach is None or bool(
            np.any(self.off - reach < self.lo + CLIP_MARGIN_LSB)
            or np.any(self.off + reach > self.hi + 1 - CLIP_MARGIN_LSB)))
        tab = None
        if self.n_planes:  # inputs x_lo .. 2^P - 1 (signed: x_lo = -(2^P - 1); 1 bit: 0, 1)
            xs = np.arange(self.x_lo, 2 ** self.n_planes)
            bits = (np.abs(xs)[:, None] >> np.arange(self.n_planes)[None, :]) & 1
            tab = (np.sign(xs)[:, None] * bits).astype(np.float32)
        object.__setattr__(self, "plane_tab", tab)
        off_row = np.zeros_like(self.off) if in_ext else self.off  # (u, v) -> (u, [off or 0; v])
        object.__setattr__(self, "abs_factors", None if lr is None else (
            lr[0], np.vstack([off_row[None, :], lr[1]]).astype(np.float32)))
        object.__setattr__(self, "_tiles", (None, None) if self.cubic is None
                           else (_tile(self.cubic), _tile(self.off)))

    #: per thread (threading.get_ident()): work arrays by key, and earlier outputs for reuse
    #: once abandoned (:func:`_reusable`); plain dicts, so a chain still pickles
    _bufs: dict = field(default_factory=dict, compare=False, repr=False)
    _pools: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def _buf(self) -> dict:
        """This thread's work arrays: two threads running one chain never share one."""
        return self._bufs.setdefault(threading.get_ident(), {})

    @property
    def _pool(self) -> list:
        return self._pools.setdefault(threading.get_ident(), [])
    _tiles: tuple = field(init=False, repr=False, compare=False)
    _a_main: np.ndarray = field(init=False, repr=False, compare=False)
    #: low-rank factors u extended by a calibration's activity weights: {id: (act_q, u_ext)}
    _u_cal: dict = field(default_factory=dict, compare=False, repr=False)

    def _work(self, key, make) -> np.ndarray | tuple:
        """A work array (or tuple of them) reused between calls, made by ``make()`` the first
        time; kept for one batch size at a time (``key[1]``, the call's batch: bounded
        memory). Fresh 1 MB arrays cost page faults that doubled the call time. Not
        thread-safe."""
        arr = self._buf.get(key)
        if arr is None:
            stale = [k for k in self._buf if k[1] != key[1]]
            for k in stale:
                del self._buf[k]
            arr = self._buf[key] = make()
        return arr

    def _xe(self, batch: int) -> np.ndarray:
        """The drive work array (batch, n + 1): a ones column last, against the operator's
        last row (the offset, or zeros); with ``a_abs`` the drives' magnitudes follow it
        (batch, 2 n + 1). A :attr:`contiguous` chain: the drives alone (batch, n)."""
        def make():
            n = self.a.shape[0]
            if self.contiguous:
                return np.empty((batch, n), np.float32)
            xe = np.empty((batch, n + 1 + (0 if self.a_abs is None else n)), np.float32)
            xe[:, n] = 1.0
            return xe
        return self._work(("xe", batch), make)

    def _scratch(self, rows: int, batch: int) -> tuple[np.ndarray, ...]:
        """y, t (float32) and the INL index (intp, only with an INL table) for ``rows`` rows of
        codes (a call of ``batch`` vectors)."""
        def make():
            shape = (rows, self.a.shape[1])
            k = np.empty(shape, np.intp) if self.inl is not None else None
            return np.empty(shape, np.float32), np.empty(shape, np.float32), k
        return self._work(("yt", batch, rows), make)

    def _index(self, x: np.ndarray) -> np.ndarray:
        """x - x_lo as intp (the tables' index, (batch, n_x)) in a work array."""
        idx = self._work(("index", x.shape[0], x.shape), lambda: np.empty(x.shape, np.intp))
        # in intp (a narrow dtype would wrap); checked range: a valid index
        np.subtract(x, self.x_lo, out=idx, dtype=np.intp, casting="unsafe")
        return idx

    def inputs(self, x: np.ndarray, indexed: bool = False) -> tuple:
        """Checked integer inputs (batch, n_x) -> (op, mag), work arrays valid until the next
        call: ``op`` the float32 drives the main matmul takes (batch, K): their effective drives
        (one table lookup; the signed bit planes side by side for a per-plane operator), with a
        ones column unless the chain is :attr:`contiguous`, and a :attr:`fused` chain's
        magnitudes after it; ``mag`` the drives' magnitudes (batch, n) for the active-fraction
        offsets, or None. ``indexed``: :meth:`_index` was just called on ``x``."""
        xe = self._drives(x, indexed)
        na = self.a.shape[0]
        if self.a_abs is None:
            return xe, None
        if self.contiguous:  # magnitudes of the contiguous drives into their own array
            mag = self._work(("mag", x.shape[0]), lambda: np.empty(xe.shape, np.float32))
            np.abs(xe, out=mag)
            return xe, mag
        np.abs(xe[:, :na], out=xe[:, na + 1:])  # after the ones column
        return (xe if self.fused else xe[:, :na + 1]), xe[:, na + 1:]

    def _drives(self, x: np.ndarray, indexed: bool) -> np.ndarray:
        """:meth:`inputs`' work array before the magnitudes: the drives (or planes) and the
        ones."""
        b, n_x = x.shape
        xe = self._xe(b)
        if self.drive is None and not self.n_planes:
            np.copyto(xe[:, :n_x], x, casting="unsafe")
            return xe
        idx = self._buf[("index", b, x.shape)] if indexed else self._index(x)
        if self.n_planes:  # (b, n_x, P) lookup -> planes side by side (b, P, n_x)
            xp = xe[:, :self.n_planes * n_x]
            xp.shape = (b, self.n_planes, n_x)  # a view (raises rather than copy)
            np.copyto(xp, np.take(self.plane_tab, idx, axis=0).transpose(0, 2, 1))
        elif self.contiguous:  # "wrap" never wraps a valid index, and is the fastest mode
            np.take(self.drive, idx, mode="wrap", out=xe)
        else:  # contiguous lookup, then into the rows beside the ones column (a take into
            # the strided view, or an index with the ones column, measured slower)
            d = self._work(("drive", b, x.shape), lambda: np.empty(x.shape, np.float32))
            np.take(self.drive, idx, mode="wrap", out=d)
            np.copyto(xe[:, :n_x], d)
        return xe

    def codes(self, inp: tuple, rng=None) -> np.ndarray:
        """Codes for the work arrays ``inp`` of :meth:`inputs`."""
        return self.levels(inp, rng).astype(np.int64)

    def levels(self, inp: tuple, rng=None) -> np.ndarray:
        """The codes as float32 (a work array, valid until the next call): what a calibration
        scales without an int64 -> float32 pass. ``inp``: :meth:`inputs`' (op, mag)."""
        op, mag = inp
        y, t, k = self._scratch(op.shape[0], op.shape[0])
        return self._levels_into(op, mag, y, t, k, self._noise(rng, y.shape))[0]

    def _levels_into(self, op, mag, y, t, k, noise, act_q=None) -> tuple:
        """:meth:`levels` of the rows ``op`` / ``mag`` (:meth:`inputs`) into ``y``, with work
        arrays ``t`` (float32) and ``k`` (intp, INL), and these rows' ADC noise (or None).
        Returns (``y``, act): ``act_q`` (a calibration's activity weights, or None) makes the
        low-rank matmul also give each vector's activity ``mag @ act_q`` (act; else None)."""
        np.matmul(op, self._a_main, out=y)  # without a cubic term the offset too
        lr = self.abs_factors
        act = None
        if self.cubic is not None:  # y + cubic y^3 + off, operation by operation
            np.multiply(y, y, out=t)
            t *= y
            _row_op(np.multiply, t, self.cubic, self._tiles[0], t)
            y += t
            if lr is None:  # (with low-rank offsets the offset joins their matmul)
                _row_op(np.add, y, self.off, self._tiles[1], y)
        if lr is not None:  # y += [1, |d| @ u] @ [off (or 0); v]: a K = r + 1 product added
            # by BLAS (beta = 1: no temporary), the offset row riding along; with ``act_q``
            # its column after u's gives the calibration's activity in the same matmul
            u, v_ext = lr
            if act_q is not None:
                u = self._u_with(act_q)
            b, r1 = op.shape[0], v_ext.shape[0]
            s1 = self._work(("abs1", b, u.shape[1]),
                            lambda: np.ones((b, u.shape[1] + 1), np.float32))
            np.matmul(mag, u, out=s1[:, 1:])
            _add_matmul(s1[:, :r1], v_ext, y)
            if act_q is not None:
                act = s1[:, r1]
        elif self.a_abs is not None and not self.fused:  # the magnitudes' offsets, outside
            # the cubic (a fused chain's product took them already)
            np.matmul(mag, self.a_abs, out=t)
            y += t
        return self._adc(y, None, t, k, noise, bounded=not self.clip_needed), act

    @property
    def main_operator(self) -> np.ndarray:
        """The operator :meth:`inputs`' ``op`` meets in the call's main product (float32):
        ``a``, or ``a`` with the offset row, or (:attr:`fused`) with ``a_abs`` below that."""
        return self._a_main

    def _u_with(self, act_q: np.ndarray) -> np.ndarray:
        """The low-rank factor u with ``act_q`` as one more column (kept per calibration)."""
        hit = self._u_cal.get(id(act_q))
        if hit is None or hit[0] is not act_q:
            if len(self._u_cal) > 4:
                self._u_cal.clear()
            u = np.hstack([self.abs_factors[0], np.asarray(act_q, np.float32)[:, None]])
            hit = self._u_cal[id(act_q)] = (act_q, np.ascontiguousarray(u))
        return hit[1]

    def _noise(self, rng, shape) -> np.ndarray | None:
        """A call's ADC noise in code units, drawn at once (float32 normals x noise_lsb), or
        None without ``rng`` or noise."""
        if rng is None or self.noise_lsb <= 0:
            return None
        return self.noise_lsb * rng.standard_normal(shape, dtype=np.float32)

    @property
    def n_levels(self) -> int:
        """Allowed integer inputs (the tables' length), 0 without a table."""
        if self.n_planes:
            return self.plane_tab.shape[0]
        return 0 if self.drive is None else self.drive.shape[0]

    def run(self, x: np.ndarray, rng=None, cal: Calibration | None = None,
            check: bool = False, magnitudes=None) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Checked integer inputs -> (int64 codes, float32 calibrated values or None), both
        new arrays: the lookup, the matmul, the line's cubic and offset, the ADC, the int64
        codes through an int32 work array (exact: integers in [lo, hi]; a direct float32 ->
        int64 cast is twice as slow) and the calibration's two passes.

        ``check``: signed-integer inputs whose range is not checked yet; their table index
        x - x_lo is (one pass over it as unsigned: a negative index is huge), and None is
        returned, before any other work, when an input lies outside the table.
        ``magnitudes``: a function of ``x`` giving the drives' magnitudes for a calibration's
        activity term where the work array does not hold them (per-plane chains)."""
        if check:
            if not self.n_levels or x.dtype.kind != "i":
                raise ValueError("check needs a table and signed-integer inputs")
            if int(self._index(x).view(np.uintp).max()) >= self.n_levels:
                return None
        op, mag = self.inputs(x, indexed=check)
        b, m = x.shape[0], self.a.shape[1]
        code = _reusable(self._pool, (b, m), np.int64)
        value = None if cal is None else _reusable(self._pool, (b, m), np.float32)
        y, t, k = self._scratch(b, b)
        # with a calibration the values' array is the work array t until they are written
        # (1 MB less to stream through the cache; blocks of rows kept in L2 measured slower)
        t = t if value is None else value
        # a calibration's activity rides in the low-rank matmul where there is one
        act_q = (cal.act_q if cal is not None and cal.act_coef is not None
                 and self.abs_factors is not None and not self.n_planes else None)
        lev, act = self._levels_into(op, mag, y, t, k, self._noise(rng, (b, m)), act_q)
        i32 = t.view(np.int32)  # t is free again: the int32 codes
        np.copyto(i32, lev, casting="unsafe")
        np.copyto(code, i32)
        if value is not None:
            if cal.act_coef is not None and act is None:
                act = cal.activity(self._magnitudes(x, op, mag) if not self.n_planes
                                   else magnitudes(x))
            cal.apply_into(lev, value, act)
        return code, value

    def _magnitudes(self, x: np.ndarray, op: np.ndarray, mag) -> np.ndarray:
        """The effective drives' magnitudes |d(x)| (batch, inputs) of a drive-table chain:
        :meth:`inputs`' ``mag`` when it keeps one, else |drives| of ``op``."""
        return mag if mag is not None else np.abs(op[:, :x.shape[1]])

    def adc(self, y: np.ndarray, rng=None, t=None, k=None) -> np.ndarray:
        """INL, noise, floor, clip of code units after the ADC gain and offset (``y`` is
        overwritten; ``t``, ``k``: optional float32 / intp work arrays of its shape)."""
        return self._adc(y, rng, t, k).astype(np.int64)

    def _adc(self, y: np.ndarray, rng=None, t=None, k=None, noise=None,
             bounded: bool = False) -> np.ndarray:
        """:meth:`adc` up to the float32 codes (in ``y``); ``noise``: drawn already.
        ``bounded``: ``y`` is known to lie in [lo, hi + 1) (:attr:`clip_needed` False): no
        clip unless noise is added."""
        if self.inl is not None:
            t = np.empty_like(y) if t is None else t
            k = np.empty(y.shape, np.intp) if k is None else k
            np.floor(y, out=t)
            np.subtract(t, self.lo, out=k, casting="unsafe")  # code - lo
            np.take(self.inl, k, out=t, mode="clip")  # clipped index = clipped code
            y += t
        if noise is not None:
            y += noise
        elif rng is not None and self.noise_lsb > 0:
            y += self.noise_lsb * rng.standard_normal(y.shape, dtype=np.float32)
        np.floor(y, out=y)
        if not bounded or noise is not None or (rng is not None and self.noise_lsb > 0):
            np.clip(y, self.lo, self.hi, out=y)
        return y


#: margin (LSB) by which :func:`_reach_lsb`'s bound must stay inside the code range for a chain
#: to skip the ADC's clip: far above float32 rounding of the values (~1e-5 LSB)
CLIP_MARGIN_LSB = 1e-2


def _reach_lsb(chain: FastChain) -> np.ndarray | None:
    """Per line, a bound on |value - off| before the ADC's floor over every allowed input:
    |z| <= Z = max|drive| sum_i |a_ij| (bit planes: sum over all rows), the cubic
    |c| Z^3, the magnitudes' offsets max|drive| sum_i |a_abs_ij| and max |INL|
    (float64). None for a chain on unbounded float inputs (no table)."""
    if chain.n_planes:
        d_max = 1.0
    elif chain.drive is not None:
        d_max = float(np.max(np.abs(chain.drive)))
    else:
        return None
    z = d_max * np.abs(chain.a.astype(np.float64)).sum(axis=0)
    out = z.copy()
    if chain.cubic is not None:
        out += np.abs(chain.cubic.astype(np.float64)) * z ** 3
    if chain.a_abs is not None:
        out += d_max * np.abs(chain.a_abs.astype(np.float64)).sum(axis=0)
    if chain.inl is not None:
        out += float(np.max(np.abs(chain.inl)))
    return out


def _add_matmul(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    """c += a @ b for float32 ``a`` (n, K), ``b`` (K, m) and C-contiguous ``c`` (n, m): BLAS's
    sgemm with beta = 1 on the transposed problem (c^T += b^T a^T, Fortran order as scipy's
    wrapper takes it), one pass over ``c`` instead of a product and an add."""
    r = _sgemm(1.0, b.T, a.T, beta=1.0, c=c.T, overwrite_c=1)
    if not np.shares_memory(r, c):  # not updated in place (cannot happen for a C-contiguous c)
        np.copyto(c, r.T)


#: the largest rank :func:`_low_rank` factors (beyond it the dense product is as cheap)
LOW_RANK_MAX = 8


def _low_rank(a: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Float32 factors (u, v) with u @ v = ``a`` to float32 precision when ``a`` has rank
    <= :data:`LOW_RANK_MAX` (singular values beyond 1e-6 of the largest are zero in float32
    terms), else None. A zero matrix is rank 0: None (the dense product is exact)."""
    if a is None or min(a.shape) <= LOW_RANK_MAX:
        return None
    u, s, vt = np.linalg.svd(np.asarray(a, dtype=np.float64), full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return None
    r = int(np.sum(s > 1e-6 * s[0]))
    if r > LOW_RANK_MAX:
        return None
    return (u[:, :r] * s[:r]).astype(np.float32), vt[:r].astype(np.float32)


def _fold_chain(model, a_v: np.ndarray, in_bits: int, n_rows: int, g_sum_s: np.ndarray,
                out_bits: int, w_lines: np.ndarray | None = None,
                act_op: np.ndarray | None = None, n_cells: int | None = None
                ) -> FastChain | None:
    """Fold ``line_transfer`` (probed per line as off + alpha v + c v^3) and the ADC
    (``model.adc`` of schema pycim.macro/1) into a :class:`FastChain`; verify both against the
    model's own calls on random probes; None when the model does not have that form.
    ``n_cells``: cells on each driven line (the hold pedestal's, ``line_transfer``)."""
    adc = getattr(model, "adc", None)
    if not isinstance(adc, dict) or not {"gain", "offset_lsb", "noise_lsb"} <= set(adc):
        return None
    lt = lambda v: np.asarray(model.line_transfer(v, in_bits, n_rows, g_sum_s,
                                                  n_cells=n_cells), float)
    n = g_sum_s.shape[0]
    h_big = model.weight_sum(in_bits) * model.v_read_v  # |v| <= W Vread
    h = 1e-3 * h_big
    ones = np.ones(n)
    off = lt(0 * ones)
    p_h, m_h, p_big, m_big = lt(h * ones), lt(-h * ones), lt(h_big * ones), lt(-h_big * ones)
    # odd part: alpha h + c h^3 at h and at h_big
    o1, o2 = (p_h - m_h) / 2, (p_big - m_big) / 2
    c = (o2 / h_big - o1 / h) / (h_big ** 2 - h ** 2)
    alpha = o1 / h - c * h ** 2
    rng = np.random.default_rng(1)
    v_test = rng.uniform(-h_big, h_big, (16, n))
    if not (np.all(alpha > 0) and np.allclose(off + alpha * v_test + c * v_test ** 3, lt(v_test),
                                              rtol=1e-9, atol=1e-12 * h_big)):
        return None
    lsb = model.lsb_v(out_bits)
    k = float(adc["gain"]) / lsb
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    inl_tab = adc.get("inl_lsb", {}).get(str(out_bits))
    inl = None
    if inl_tab:
        inl = np.asarray(inl_tab, dtype=np.float32)
        if inl.shape != (hi - lo + 1,):
            return None
        if not np.any(inl):
            inl = None
    # a cubic part below 1e-9 of the linear one at full scale is rounding (a_cubic = 0)
    has_cubic = np.any(np.abs(c) * h_big ** 2 > 1e-9 * np.abs(alpha))
    cubic = (c / (k ** 2 * alpha ** 3)).astype(np.float32) if has_cubic else None
    x_lo, x_hi = input_range(in_bits)
    xs = np.arange(x_lo, x_hi + 1)
    common = {"off": (k * off + float(adc["offset_lsb"])).astype(np.float32), "cubic": cubic,
              "inl": inl, "noise_lsb": float(adc["noise_lsb"]), "lo": lo, "hi": hi}
    # the active-fraction offsets b_act act + b_load load + b_act_line dev (sum_p w_p of
    # each): linear in the drives' magnitudes (act_op: the stacked (3, drives, lines) operators)
    b_act = model.act_coefs()
    if act_op is not None and any(b_act):
        act_op = k * sum(b * op for b, op in zip(b_act, act_op) if b)
    else:
        act_op = None
    if w_lines is None:  # every line weighs the planes alike: one operator on the drives
        chain = FastChain(a=(a_v * (k * alpha)).astype(np.float32),
                          drive=model.drive(xs, in_bits).astype(np.float32), x_lo=x_lo,
                          a_abs=None if act_op is None else act_op.astype(np.float32),
                          **common)
    else:  # per-line plane weights: one operator per plane, stacked
        a_pl = np.vstack([a_v * (k * alpha * w_lines[p]) for p in range(w_lines.shape[0])])
        ab = None if act_op is None else np.vstack(
            [act_op * w_lines[p] for p in range(w_lines.shape[0])]).astype(np.float32)
        chain = FastChain(a=a_pl.astype(np.float32), n_planes=w_lines.shape[0], x_lo=x_lo,
                          a_abs=ab, **common)
    # the ADC part against the model's own output_codes (float32 rounding may move a value
    # that sits on a code edge by one code: allow 0.1 % of such cases)
    y_test = rng.uniform(lo - 2, hi + 2, 4096)
    ref = model.output_codes(y_test, out_bits)
    got = chain.adc((float(adc["gain"]) * y_test + float(adc["offset_lsb"])).astype(np.float32))
    if np.mean(got != ref) > 1e-3 or np.max(np.abs(got - ref)) > 1:
        return None
    return chain


class _CoreLock:
    """A core's calls share it; a change of its model or calibrations takes it alone.

    Any number of threads run calls at once (:meth:`shared`); a change
    (:meth:`exclusive`: the ADC full scale, a foreground calibration) waits until the calls
    under way have returned, and calls that arrive meanwhile wait for it, so every call sees
    one model and one set of calibrations from start to end. The changing thread may run
    calls itself (a calibration measures through the core's own MVMs), and a thread may
    nest calls. Not pickled: :meth:`Core.__getstate__` leaves it out."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers: dict[int, int] = {}  # thread -> calls it holds
        self._writer: int | None = None
        self._writes = 0

    @contextmanager
    def shared(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer != me and me not in self._readers:
                while self._writer is not None:
                    self._cond.wait()
            self._readers[me] = self._readers.get(me, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                if self._readers[me] > 1:
                    self._readers[me] -= 1
                else:
                    del self._readers[me]
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer != me:
                if me in self._readers:
                    raise RuntimeError("a core cannot be changed from inside one of its own "
                                       "calls")
                while self._writer is not None:
                    self._cond.wait()
                self._writer = me  # calls arriving from now on wait
                while self._readers:
                    self._cond.wait()
            self._writes += 1
        try:
            yield
        finally:
            with self._cond:
                self._writes -= 1
                if not self._writes:
                    self._writer = None
                    self._cond.notify_all()


class Core:
    """One programmed core.

    Parameters
    ----------
    weights : (n_in, n_out) array in [-1, 1], n_in <= 128, n_out <= 256
    model : MacroModel, optional
        Default: :meth:`MacroModel.load` (the packaged fit, else the ideal closed form).
    seed : int
        Programming-noise seed, an integer >= 0 (Python or numpy); the same seed gives the
        SPICE flow's conductances.
    prog_tol_s : float
        Write-verify tolerance (0 = program exactly the targets).

    Threads may call one core at once (each has its own work arrays). A change of the core
    (:meth:`set_adc_full_scale`, :meth:`calibrate_full_scale`, :meth:`calibrate`) waits for
    the calls under way and holds new ones until it is done, so a call sees one model and one
    set of calibrations throughout.
    """

    def __init__(self, weights, model=None, seed: int = 0, prog_tol_s: float = 1e-6,
                 adc_fs_v: float | None = None) -> None:
        w = check_weights(unmasked(weights, "weights"))
        prog_tol_s = check_tol_s(prog_tol_s, "prog_tol_s")
        seed = check_int(seed, "seed")
        if model is not None and not isinstance(model, MacroModel):
            raise InputError(f"model must be a MacroModel (MacroModel.load / packaged), got "
                             f"{type(model).__name__}")
        self.model = default_model() if model is None else model
        if adc_fs_v is not None:  # the layer's ADC full scale (else the model's)
            self.model = self.model.with_(adc_fs_v=_check_fs(adc_fs_v))
        self.weights = w
        self.seed = seed
        self.n_in, self.n_out = w.shape
        prog = program(w, seed, noise=prog_tol_s > 0, tol_s=max(prog_tol_s, 1e-12))
        target = program(w, seed, noise=False)
        self.g_pos_s, self.g_neg_s = prog.g_pos_s, prog.g_neg_s
        self.target_g_pos_s, self.target_g_neg_s = target.g_pos_s, target.g_neg_s
        self.v_read_v = float(self.model.v_read_v)
        # what the cells conduct in the array (series access-FET and wire resistance)
        # precomputed float32 operators (Vread folded in): volts summed over planes per unit x,
        # on the effective conductances (each direction's model); forward normalises per
        # column, backward per bit-line
        # each direction's on first use: with the wires resolved (a fitted model's
        # wire_scale) a full core's operator costs 2.4 / 3.9 CPU-s forward / backward
        self._a_dir: dict[str, np.ndarray] = {}
        # stacked active fractions of each sensed line per unit |drive| (the model's b_act_v,
        # b_load_v and b_act_line_v terms; on the programmed conductances, as the fit):
        # forward (3, n_in, n_out), backward (3, n_out, 2 n_in)
        self._act_op = {d: active_fraction(self.g_pos_s, self.g_neg_s,
                                           np.eye(self.n_in if d == "forward" else self.n_out),
                                           d) for d in ("forward", "backward")}
        # the model's line parameters take the programmed conductance of each sensed line
        # (as pycim.macro.engine passes it): forward per column, backward per physical row
        graw, gpr, gnr = self.g_pos_s + self.g_neg_s, self.g_pos_s, self.g_neg_s
        self.g_sum_fwd_s = line_conductance_s(gpr, gnr, "forward")
        self.g_sum_bwd_s = line_conductance_s(gpr, gnr, "backward")
        # array energy: programmed conductance each driven line sees (forward: rows i of G+
        # and G- together, both driven with |x_i|; backward: column j of both)
        self._g_row_fwd_s = graw.sum(axis=1)
        self._g_row_bwd_s = self.g_sum_fwd_s
        self._g_total_s = float(graw.sum())
        # line voltage / Vread per unit drive on the programmed G (the activity's line term)
        self._u_fwd = ((gpr - gnr) / self.g_sum_fwd_s).astype(np.float32)
        self._u_bwd = (interleave_rows(gpr, gnr) / self.g_sum_bwd_s[:, None]).T.astype(np.float32)
        # their quadratic forms: sum_j v_j^2 S_j = p (U diag(S) U^T) p for a plane p (driven
        # lines x driven lines: half the work of v = p U then v^2 . S on a forward core)
        self._m_fwd = self._line_form(self._u_fwd, self.g_sum_fwd_s)
        self._m_bwd = self._line_form(self._u_bwd, self.g_sum_bwd_s)
        #: the model's range-check messages by (direction, in_bits, out_bits), with the model
        #: they were made for
        self._range_msgs: dict[tuple, tuple] = {}
        #: (planes, inputs) signed bit planes of every input by in_bits (:meth:`_activity`)
        self._plane_tabs: dict[int, np.ndarray] = {}
        #: work array of :meth:`_pop_sums` (reused between calls of the same shape)
        #: per thread (threading.get_ident()): (uint8, int8) work arrays of one batch shape
        self._pop_bufs: dict[int, tuple] = {}
        #: per (forward, in_bits, out_bits, rows, cols): (model, energy at activity 0 and 1,
        #: latency) (:meth:`_account`)
        self._energy_cache: dict = {}
        self._fast: dict[tuple, FastChain | None] = {}
        self._w_lines: dict[tuple, np.ndarray | None] = {}
        #: per direction, the lumped operator and the wires' factorisation of a few-vector call
        #: (:meth:`MacroModel.plane_system`), made on first use
        self._systems: dict[str, object] = {}
        #: per direction, the model's per-polarity network (:meth:`MacroModel.polarity_system`;
        #: None without departures), made on first use
        self._polarity: dict[str, object] = {}
        #: foreground calibrations by (direction, in_bits, out_bits) (:meth:`calibrate`)
        self.calibrations: dict[tuple[str, int, int], Calibration] = {}
        #: calls share the core, changes take it alone (:class:`_CoreLock`)
        self._lock = _CoreLock()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = _CoreLock()

    # -- helpers ---------------------------------------------------------------------------
    def _operator(self, direction: str) -> np.ndarray:
        """float32 line operator of ``direction`` with Vread folded in (volts per unit x on
        the effective conductances, that direction's model), made on first use."""
        a = self._a_dir.get(direction)
        if a is None:
            md = self.model.for_direction(direction)
            a = md.line_operator(self.g_pos_s, self.g_neg_s, direction)
            a = self._a_dir[direction] = (self.v_read_v * a).astype(np.float32)
        return a

    def lsb_v(self, out_bits: int) -> float:
        """Line-referred volts (summed over planes) per output code step."""
        return self.model.lsb_v(out_bits)

    @staticmethod
    def n_windows(in_bits: int) -> int:
        """Samples (integrations) per MVM: 2^(planes) - 1 (1 for 1-bit inputs)."""
        planes = 1 if in_bits == 1 else in_bits - 1
        return 2 ** planes - 1

    def line_weights(self, direction: str, in_bits: int) -> np.ndarray | None:
        """The model's per-line plane weights (planes, sensed lines)
        (:meth:`MacroModel.plane_line_weights`), or None when every line weighs the planes as
        the held weights do within ``LINE_WEIGHT_RTOL`` (the lines settle in the read pulse)
        and the drive table applies."""
        key = (direction, in_bits)
        if key not in self._w_lines:
            fwd = direction == "forward"
            n_rows = 2 * self.n_in if fwd else self.n_out
            g = self.g_sum_fwd_s if fwd else self.g_sum_bwd_s
            w = self.model.for_direction(direction).plane_line_weights(in_bits, n_rows, g)
            w0 = self.model.plane_weights(in_bits)[:, None]
            same = float(np.max(np.abs(w / w0 - 1.0))) <= LINE_WEIGHT_RTOL
            self._w_lines[key] = None if same else w
        return self._w_lines[key]

    def _volts(self, x, in_bits: int, fwd: bool) -> np.ndarray:
        """sum_p w'_p v_p (float32) of checked integer inputs: one matmul of the drives, or
        one per plane when the lines' plane weights differ (:meth:`line_weights`); a few
        inputs on a model that resolves the wires (:meth:`_wires_per_vector`): the wires'
        term solved for these drives alone."""
        d = "forward" if fwd else "backward"
        md = self.model.for_direction(d)
        polar = bool(np.any(md.polarity_coefs()))
        if not self._wires_per_vector(d, x, in_bits):
            v = self._plane_sum(x, in_bits, d, self._operator(d), np.float32)
            return v + self._polarity_sum(x, in_bits, d) if polar else v
        w = self.line_weights(d, in_bits)
        if w is None and not polar:
            drives, wts = self.model.drive(x, in_bits)[:, None, :], None
        else:  # per plane (the per-polarity share depends on each plane's signs)
            drives = bit_planes(np.asarray(x).astype(np.int16), in_bits, float)
            wts = self.model.plane_weights(in_bits)[:, None] if w is None else w
        sys_ = self._systems.get(d)
        if sys_ is None:
            sys_ = self._systems[d] = md.plane_system(self.g_pos_s, self.g_neg_s, d)
        v = md.plane_lines(self.g_pos_s, self.g_neg_s, drives, d, system=sys_)  # (b, p, lines)
        v = v[:, 0] if wts is None else np.einsum("bpn,pn->bn", v, wts)
        return (self.v_read_v * v).astype(np.float32)

    #: a model that resolves the wires (``wire_scale``) solves them per drive vector when a
    #: call has at most this fraction of the driven lines' count of vectors (the operator
    #: costs one solve per input: a full core 2.4 / 3.9 CPU-s, a vector ~25 ms)
    WIRES_PER_VECTOR_FRACTION = 1 / 8

    def _wires_per_vector(self, direction: str, x, in_bits: int) -> bool:
        """Whether this call's few drive vectors take the wires' term on their own
        (:meth:`MacroModel.plane_lines`) rather than through the whole operator: the same
        numbers within the model's ``WIRE_TOL``; decided by the call alone."""
        if not self.model.for_direction(direction).line.get("wire_scale", 0.0):
            return False
        fwd = direction == "forward"
        n_d = 2 * self.n_in if fwd else self.n_out
        n_b = np.shape(x)[0] if np.ndim(x) == 2 else 1
        n_vec = n_b * (1 if self.line_weights(direction, in_bits) is None
                       else max(in_bits - 1, 1))
        return n_vec <= self.WIRES_PER_VECTOR_FRACTION * n_d

    def _plane_sum(self, x, in_bits: int, direction: str, op: np.ndarray, dtype,
                   magnitude: bool = False) -> np.ndarray:
        """sum_p w'_p (d_p @ op) in ``dtype``: one matmul of the drives d(x) (their magnitudes
        if ``magnitude``), or one per plane when the lines' plane weights differ
        (:meth:`line_weights`)."""
        w = self.line_weights(direction, in_bits)
        if w is None:
            d = self.model.drive(x, in_bits).astype(dtype)
            return (np.abs(d) if magnitude else d) @ op
        planes = bit_planes(np.asarray(x).astype(np.int16), in_bits, dtype)
        if magnitude:
            planes = np.abs(planes)
        return sum((planes[:, p] @ op) * w[p].astype(dtype) for p in range(w.shape[0]))

    def _polarity_sum(self, x, in_bits: int, direction: str) -> np.ndarray:
        """sum_p w'_p (float32, (batch, lines), volts) of the model's per-polarity share of
        each plane's lines (:meth:`MacroModel.polarity_lines`), evaluated per plane."""
        md = self.model.for_direction(direction)
        pol = self._polarity.get(direction)
        if pol is None:
            pol = self._polarity[direction] = md.polarity_system(
                self.g_pos_s, self.g_neg_s, direction).astype(np.float32)
        w = self.line_weights(direction, in_bits)
        planes = bit_planes(np.asarray(x).astype(np.int16), in_bits, np.float32)
        if w is None:  # the held weights: summed before the last products
            v = md.polarity_lines(planes, pol, self.model.plane_weights(in_bits))
        else:
            v = np.einsum("bpn,pn->bn", md.polarity_lines(planes, pol), w)
        return (self.v_read_v * v).astype(np.float32)

    def _act_sum(self, x, in_bits: int, fwd: bool) -> np.ndarray | None:
        """sum_p w'_p act_p (float64, (2, batch, lines)) of checked integer inputs: the stacked
        active fractions (:func:`pycim.cim.closed_form.active_fraction`) summed like
        :meth:`_volts`; None when the model has none of ``b_act_v``, ``b_load_v``,
        ``b_act_line_v``."""
        d = "forward" if fwd else "backward"
        if not any(self.model.for_direction(d).act_coefs()):
            return None
        return self._plane_sum(x, in_bits, d, self._act_op[d], np.float64, magnitude=True)

    def drive(self, x, in_bits: int) -> np.ndarray:
        """Integer inputs -> float32 effective drives (:meth:`MacroModel.drive`: the held plane
        weights), what the closed form's matmul takes.

        Parameters
        ----------
        x : integers (any shape) in the in_bits range the MVM calls accept
            (:func:`input_range`).
        in_bits : input width 1..8.

        Raises
        ------
        InputError
            A bad width, a non-integer or out-of-range input (:meth:`MacroModel.drive`).
        """
        return self.model.drive(x, in_bits).astype(np.float32)

    def _convert(self, v, n_rows, n_sense, g_sum, in_bits, out_bits, rng, keep_y, direction,
                 act=None):
        """The model's own chain: line transfer, code units, ADC (float64, any model).
        ``n_sense``: the sensed lines, i.e. the cells on each driven line."""
        m = self.model.for_direction(direction)
        v = m.line_transfer(v, in_bits, n_rows, g_sum, act, n_cells=n_sense)
        y = v * (1.0 / self.lsb_v(out_bits))
        code = m.output_codes(y, out_bits, rng=rng)
        return code, (y if keep_y else None)

    def _activity(self, x: np.ndarray, fwd: bool, in_bits: int) -> float:
        """Mean (V_drive - V_line)^2 / Vread^2 over the cells, conductance-weighted and
        averaged over the read pulses (one per plane; as
        :func:`pycim.cim.closed_form.array_activity` with equal plane weights) and the vectors.

        Per plane and vector, sum_cells G (u - v)^2 = sum_i u_i^2 G_i - sum_j v_j^2 S_j with the
        floating lines at v_j = sum_i u_i G_ij / S_j; over the planes sum_p u_p^2 is the
        number of set magnitude bits of x. The second term needs the planes: it is evaluated
        on at most ``ACTIVITY_SAMPLE`` evenly spaced vectors of the batch (all of a smaller
        batch)."""
        b = x.shape[0]
        n_pl = 1 if in_bits == 1 else in_bits - 1
        g_line = self._g_row_fwd_s if fwd else self._g_row_bwd_s
        # sum over the batch first: sum_b pop(x_b) . g = (sum_b pop(x_b)) . g
        first = float(self._pop_sums(x) @ g_line) / b
        xf = x
        idx = (slice(None) if b <= ACTIVITY_SAMPLE
               else slice(0, b - 1 - (b - 1) % (ACTIVITY_SAMPLE - 1) + 1,
                          (b - 1) // (ACTIVITY_SAMPLE - 1)))  # evenly spaced, a view
        xs = xf[idx]
        tab = self._plane_tabs.get(in_bits)
        if tab is None:  # (P, inputs): bit_planes of every allowed input, index x - x_lo
            lo_x, hi_x = input_range(in_bits)
            tab = bit_planes(np.arange(lo_x, hi_x + 1)[:, None], in_bits, np.float32)[:, :, 0].T
            self._plane_tabs[in_bits] = tab = np.ascontiguousarray(tab)
        sel = np.subtract(xs, input_range(in_bits)[0], dtype=np.intp, casting="unsafe")
        planes = np.take(tab, sel, axis=1, mode="wrap").transpose(1, 0, 2)  # (k, P, n)
        planes = np.ascontiguousarray(planes)  # = bit_planes(xs, in_bits, np.float32)
        k, n_p, n_d = planes.shape
        pl = planes.reshape(k * n_p, n_d)
        q = pl @ (self._m_fwd if fwd else self._m_bwd)  # sum_j v_j^2 S_j = p . (M p)
        second = float(q.ravel().astype(np.float64) @ pl.ravel()) / k
        return (first - second) / (self._g_total_s * n_pl)

    @staticmethod
    def _line_form(u: np.ndarray, s: np.ndarray) -> np.ndarray:
        """U diag(S) U^T (float32, from float64) for line voltages v = p U per unit drive and
        line conductances S: the activity's line-swing term p M p of a plane p."""
        u64 = u.astype(np.float64)
        return ((u64 * np.asarray(s, np.float64)) @ u64.T).astype(np.float32)

    def _pop_sums(self, x: np.ndarray) -> np.ndarray:
        """Set magnitude bits of the checked integer inputs summed over the batch, per input
        (float64 (n,), exact integers): ``np.bitwise_count`` (popcount of |x|) of x as int8
        into a reused uint8 work array, summed exactly (byte lanes of uint64 words, then int64; a batch
        smaller than 72 or a width not a multiple of 8: int32 / int64 directly)."""
        me = threading.get_ident()
        bufs = self._pop_bufs.get(me)
        if bufs is None or bufs[0].shape != x.shape:
            bufs = self._pop_bufs[me] = (np.empty(x.shape, np.uint8),
                                         np.empty(x.shape, np.int8))
        buf, x8 = bufs
        if x.dtype != np.int8:  # checked inputs: integers of at most 8 bits, |x| <= 127
            np.copyto(x8, x, casting="unsafe")  # bitwise_count is 9x faster on int8
            x = x8
        np.bitwise_count(x, out=buf)
        b, n = buf.shape
        # inputs of at most 8 bits have at most 7 set bits: 36 rows summed in a byte lane
        # stay below 256, so add them as uint64 words (8 lanes at once, no carry between
        # lanes), then the few per-lane partial sums exactly
        g = min(255 // 7, b)
        nb = b // g
        if n % 8 or nb < 2:
            acc = np.int32 if b < (1 << 28) else np.int64
            return np.add.reduce(buf, axis=0, dtype=acc).astype(np.float64)
        w = buf.view(np.uint64)[:g * nb].reshape(g, nb, n // 8)
        part = np.add.reduce(w, axis=0).view(np.uint8).reshape(nb, n)
        tot = np.add.reduce(part, axis=0, dtype=np.int64)
        if g * nb < b:
            tot += np.add.reduce(buf[g * nb:], axis=0, dtype=np.int64)
        return tot.astype(np.float64)

    def _account(self, x, fwd, in_bits, out_bits, n_rows, n_cols):
        """Energy (array activity from the integer inputs, :meth:`_activity`) and latency of a
        call."""
        batch = x.shape[0]
        act = self._activity(x, fwd, in_bits)
        # the model's energy is affine in the activity (the array term): its values at
        # activity 0 and 1 and the latency are kept per (model, widths, lines)
        key = (fwd, in_bits, out_bits, n_rows, n_cols)
        model, e0, e1, t1 = self._energy_cache.get(key, (None, None, None, None))
        if model is not self.model:
            # every physical row's word line is pulsed: 2 n_in in either direction
            e0, e1 = (self.model.energy_j(in_bits, out_bits, n_rows, n_cols, self._g_total_s,
                                          activity=a, n_wl=2 * self.n_in) for a in (0.0, 1.0))
            t1 = float(self.model.latency_s(in_bits, out_bits))
            self._energy_cache[key] = (self.model, e0, e1, t1)
        e = {k: float((e0[k] + act * (e1[k] - e0[k])) * batch) for k in e0}
        return e, batch * t1

    def fast_chain(self, direction: str, in_bits: int, out_bits: int) -> FastChain | None:
        """The folded float32 chain for (direction, in_bits, out_bits), built once and cached;
        None when the model's line transfer is not of the form off + alpha v + c v^3 per line
        or its ADC not the pycim.macro/1 one, or when the model has per-polarity departures
        (:meth:`MacroModel.polarity_coefs`: not linear in the drives); then the model's own
        calls are used."""
        with self._lock.shared():
            return self._fast_chain(direction, in_bits, out_bits)

    def _fast_chain(self, direction: str, in_bits: int, out_bits: int) -> FastChain | None:
        key = (direction, in_bits, out_bits)
        if key not in self._fast and np.any(
                self.model.for_direction(direction).polarity_coefs()):
            self._fast[key] = None
        if key not in self._fast:
            if direction == "forward":
                a, n_rows, g = self._operator("forward").astype(float), 2 * self.n_in, self.g_sum_fwd_s
                n_cells = self.n_out
            else:
                a, n_rows, g = self._operator("backward").astype(float), self.n_out, self.g_sum_bwd_s
                n_cells = 2 * self.n_in
            model = self.model.for_direction(direction)
            self._fast[key] = _fold_chain(model, a, in_bits, n_rows, g, out_bits,
                                          self.line_weights(direction, in_bits),
                                          self._act_op[direction], n_cells)
            gain = model.line_gain(in_bits, n_rows, g)
            if np.any(gain <= 0):
                warnings.warn(
                    f"model '{model.source}': the {direction} line gain is <= 0 on "
                    f"{int(np.count_nonzero(gain <= 0))} of {gain.size} lines ({n_rows} driven "
                    f"rows, line conductance up to {float(np.max(g)) * 1e3:.3g} mS): its gain "
                    f"terms extrapolate far outside the fitted range, so these codes are "
                    f"meaningless", OutOfRangeWarning, stacklevel=3)
        return self._fast[key]

    # -- ADC full scale ---------------------------------------------------------------------
    @property
    def adc_fs_v(self) -> float:
        """The core's ADC full scale (V, integrator-referred)."""
        return float(self.model.adc_fs_v)

    def set_adc_full_scale(self, adc_fs_v: float) -> None:
        """Set the ADC full scale (0.05-0.8 V, the neuron's range); drops the folded chains and
        the foreground calibrations, which were made at the old LSB."""
        fs = _check_fs(adc_fs_v)
        with self._lock.exclusive():
            self.model = self.model.with_(adc_fs_v=fs)
            self._fast.clear()
            self.calibrations.clear()

    def calibrate_full_scale(self, x, in_bits: int = 4, out_bits: int = 6,
                             direction: str = "forward", percentile: float = FS_PERCENTILE,
                             rng=None) -> FullScaleCalibration:
        """Per-layer ADC range: choose and set the full scale so the layer's outputs use the
        code range.

        The calibration batch ``x`` runs through the core's own MVMs with the widest range
        the neuron has (full scale 0.8 V, ``MAX_OUT_BITS`` = 10-bit conversion: LSB 1.6 mV,
        the readout a chip would use to measure its layer), the integrated values are read
        back as (code + 1/2) LSB, and their ``percentile`` of |value| becomes the full scale,
        clipped to the neuron's range (0.05-0.8 V and an ``out_bits`` LSB not below
        ``MIN_LSB_V``). Offsets of the layer are part of the measured values, so a range that
        is not centred on zero is covered too. Then :meth:`set_adc_full_scale` (foreground
        calibrations are dropped: run :meth:`calibrate` afterwards).
        """
        from ..cim.request import ADC_FS_RANGE_V
        from ..specs.neuron import MIN_LSB_V

        in_bits = check_bits(in_bits, "in_bits")
        out_bits = check_bits(out_bits, "out_bits", MAX_OUT_BITS)
        if direction not in ("forward", "backward"):
            raise InputError(f"direction must be forward or backward, got {direction!r}")
        if isinstance(percentile, (bool, np.bool_)) \
                or not isinstance(percentile, (int, float, np.integer, np.floating)) \
                or not 50.0 <= percentile <= 100.0:
            raise InputError(f"percentile must be a number in 50..100, got {percentile!r}")
        n_drive = self.n_in if direction == "forward" else self.n_out
        x = checked_inputs(x, n_drive, in_bits, "calibration x")
        lo_v = max(ADC_FS_RANGE_V[0], MIN_LSB_V * 2 ** out_bits / 2)
        hi_v = ADC_FS_RANGE_V[1]
        if lo_v > hi_v:
            raise InputError(f"out_bits {out_bits}: no full scale in the neuron's range gives an "
                             f"LSB >= {MIN_LSB_V * 1e3:g} mV")
        with self._lock.exclusive():  # no call sees the readout's full scale
            saved, saved_cal = self.model, dict(self.calibrations)
            self.set_adc_full_scale(hi_v)
            try:
                code = self._run(direction, x, in_bits, MAX_OUT_BITS, rng, False, False).code
            except BaseException:
                self.model = saved
                self._fast.clear()
                self.calibrations.clear()
                self.calibrations.update(saved_cal)
                raise
            q_int = 2.0 * hi_v / 2 ** MAX_OUT_BITS  # integrator volts per code of the readout
            u = np.abs((code.astype(float) + 0.5) * q_int)
            wanted = float(np.percentile(u, percentile))
            fs = float(np.clip(wanted, lo_v, hi_v))
            limited = "low" if wanted < lo_v else ("high" if wanted > hi_v else "")
            self.model = saved
            self.set_adc_full_scale(fs)
        return FullScaleCalibration(direction, in_bits, out_bits, float(percentile), wanted, fs,
                                    lo_v, hi_v, limited, int(x.shape[0]),
                                    float(np.mean(u > fs)))

    # -- calibration -----------------------------------------------------------------------
    def reference_y(self, x, in_bits: int = 4, out_bits: int = 6,
                    direction: str = "forward") -> np.ndarray:
        """The closed form on the *target* conductances (no programming error, ideal lines),
        in code units of ``out_bits``, float64: forward (batch, n_out); backward per
        bit-line (batch, 2 n_in). The chip's scheme: the inputs' effective drives (held plane
        weights, :meth:`MacroModel.drive`), as the SPICE flow's ``y_target``. What the
        digital side knows; what a calibrated core's ``value`` estimates."""
        in_bits = check_bits(in_bits, "in_bits")
        out_bits = check_bits(out_bits, "out_bits", MAX_OUT_BITS)
        gp, gn = self.target_g_pos_s, self.target_g_neg_s
        if direction not in ("forward", "backward"):
            raise InputError(f"direction must be forward or backward, got {direction!r}")
        n = self.n_in if direction == "forward" else self.n_out
        xd = self.model.drive(checked_inputs(x, n, in_bits), in_bits)
        return neuron_lines_v(gp, gn, xd, self.v_read_v, direction) / self.lsb_v(out_bits)

    def calibrate(self, direction: str = "forward", in_bits: int = 4, out_bits: int = 6,
                  n_vectors: int = CAL_VECTORS, seed: int = 0, rng=None) -> Calibration:
        """Foreground calibration at programming time, as a chip does it: run ``n_vectors``
        MVMs (the zero vector and random integers over the whole in_bits range, each vector
        with its own share of nonzero inputs, 10-100 %; ``seed``) through the core itself,
        fit each sensed line's code gain, offset and activity slope against
        :meth:`reference_y` (clipped codes excluded, :func:`fit_lines_activity`; the activity
        as :class:`Calibration` defines it) and store the digital correction; later calls
        with the same (direction, in_bits, out_bits) return it as :attr:`MvmResult.value`.
        Uses the model only through the core's own MVMs (and the plane weights of its drive,
        as :meth:`reference_y`). ``rng``: ADC noise during the calibration MVMs (averaged by
        the fit; a numpy Generator or None). ``seed`` and ``n_vectors``: integers (Python or
        numpy), ``seed`` >= 0 (no None: a calibration is reproducible), ``n_vectors`` >= 8.

        Raises
        ------
        InputError
            A bad argument; ``out_bits`` 1 or any setting where every calibration code is a
            clip code (nothing to fit: the key's earlier calibration, if any, is kept).
        """
        in_bits = check_bits(in_bits, "in_bits")
        out_bits = check_bits(out_bits, "out_bits", MAX_OUT_BITS)
        if direction not in ("forward", "backward"):
            raise InputError(f"direction must be forward or backward, got {direction!r}")
        n_vectors = check_int(n_vectors, "n_vectors", 8)
        seed = check_int(seed, "seed")  # None would make the calibration nondeterministic
        check_rng(rng)
        if out_bits < 2:
            raise InputError("calibrate: out_bits must be >= 2 (a 1-bit code is always a clip "
                             "code, so there is nothing to fit)")
        n_drive = self.n_in if direction == "forward" else self.n_out
        lo_x, hi_x = input_range(in_bits)
        gen = np.random.default_rng(seed)
        x = gen.integers(lo_x, hi_x + 1, (n_vectors, n_drive))
        # every vector its own density of nonzero inputs (10-100 %): the activity varies
        x *= gen.random((n_vectors, n_drive)) < gen.uniform(0.1, 1.0, (n_vectors, 1))
        x[0] = 0  # the zero vector: the offset alone
        key = (direction, in_bits, out_bits)
        with self._lock.exclusive():  # no call sees the core without its calibration
            return self._calibrate(key, x, rng, n_vectors)

    def _calibrate(self, key, x, rng, n_vectors: int) -> Calibration:
        old = self.calibrations.pop(key, None)  # measure raw codes
        try:
            cal = self._measure_calibration(key, x, rng, n_vectors)
        except BaseException:  # the core keeps the calibration it had
            if old is not None:
                self.calibrations[key] = old
            raise
        self.calibrations[key] = cal
        return cal

    def _measure_calibration(self, key, x, rng, n_vectors: int) -> Calibration:
        direction, in_bits, out_bits = key
        code = self._run(direction, x, in_bits, out_bits, rng, False, False).code
        y_ref = self.reference_y(x, in_bits, out_bits, direction)
        lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
        used = (code > lo) & (code < hi)
        if not used.any():  # (the earlier calibration, if any, stays: _calibrate)
            raise InputError(f"calibrate: all {code.size} calibration codes ({direction}, in_bits "
                             f"{in_bits}, out_bits {out_bits}) are clip codes, so no line can be "
                             f"fitted (a wider out_bits or ADC full scale is needed)")
        # each driven line's share of the target conductance (what the programmer knows)
        gt = self.target_g_pos_s + self.target_g_neg_s
        q = (gt.sum(axis=1) if direction == "forward" else gt.sum(axis=0)) / gt.sum()
        mag = np.abs(self.model.drive(x, in_bits))
        act = mag @ q
        gain, offset, slope = fit_lines_activity(code, y_ref, act, lo, hi)
        scale, shift = 1.0 / gain, (0.5 - offset) / gain
        coef = -slope / gain
        raw = (code + 0.5 - y_ref)[used]
        cor = (code * scale + shift + act[:, None] * coef - y_ref)[used]
        rms = lambda e: float(np.sqrt(np.mean(e * e))) if e.size else float("nan")
        cal = Calibration(direction, in_bits, out_bits, gain, offset, scale.astype(np.float32),
                          shift.astype(np.float32), n_vectors, rms(raw), rms(cor),
                          act_coef=coef.astype(np.float32), act_q=q.astype(np.float32))
        return cal

    def _run(self, direction, x, in_bits, out_bits, rng, keep_y, exact):
        with self._lock.shared():
            return self._run_shared(direction, x, in_bits, out_bits, rng, keep_y, exact)

    def _run_shared(self, direction, x, in_bits, out_bits, rng, keep_y, exact):
        in_bits = check_bits(in_bits, "in_bits")
        out_bits = check_bits(out_bits, "out_bits", MAX_OUT_BITS)
        check_rng(rng)
        fwd = direction == "forward"
        n_drive = self.n_in if fwd else self.n_out
        n_rows = 2 * self.n_in if fwd else self.n_out  # driven physical lines
        n_sense = self.n_out if fwd else 2 * self.n_in
        g_sum = self.g_sum_fwd_s if fwd else self.g_sum_bwd_s
        few = self._wires_per_vector(direction, x, in_bits)  # then the model's own chain
        chain = None if (keep_y or exact or few) else self._fast_chain(direction, in_bits,
                                                                       out_bits)
        # signed integers on the fast path: the lookup's index checks the range in one pass
        defer = chain is not None and bool(chain.n_levels) and \
            np.asarray(x).dtype.kind == "i"
        x = checked_inputs(x, n_drive, in_bits, bounds=not defer)
        cal = self.calibrations.get((direction, in_bits, out_bits))
        if chain is not None:  # float32 codes: the correction scales them directly
            out = chain.run(x, rng, cal, check=defer,
                            magnitudes=lambda v: np.abs(self.model._drive(v, in_bits)))
            if out is None:  # an input outside the range: the one-line error
                checked_inputs(x, n_drive, in_bits)
                raise AssertionError("inputs outside the table passed the range check")
            (code, value), y = out, None
        # the model's range check depends on the call's widths only: its messages are kept
        # per (model, direction, widths) and warned on every call, as check_range does
        key = (direction, in_bits, out_bits)
        model, msgs = self._range_msgs.get(key, (None, None))
        if model is not self.model:
            msgs = self.model.for_direction(direction).range_warnings(
                in_bits=in_bits, out_bits=out_bits, n_rows=n_rows, g_sum_s=g_sum,
                read_pulse_s=self.model.timing["t_window_s"])
            self._range_msgs[key] = (self.model, msgs)
        for msg in msgs:
            warnings.warn(msg, OutOfRangeWarning, stacklevel=1)
        if chain is None:
            v = self._volts(x, in_bits, fwd)
            code, y = self._convert(v, n_rows, n_sense, g_sum, in_bits, out_bits, rng, keep_y,
                                    direction, self._act_sum(x, in_bits, fwd))
            value = None if cal is None else cal.apply(
                code, cal.activity(np.abs(self.model.drive(x, in_bits))))
        e, t = self._account(x, fwd, in_bits, out_bits, n_rows, n_sense)
        return MvmResult(code, e, t, y, macs=x.shape[0] * self.n_in * self.n_out, value=value)

    # -- MVMs ------------------------------------------------------------------------------
    def forward_volts(self, x, in_bits: int = 4) -> np.ndarray:
        """Closed form sum_p w_p v_p (held plane weights; volts, float32) of each output:
        (batch, n_out)."""
        in_bits = check_bits(in_bits, "in_bits")
        x = checked_inputs(x, self.n_in, in_bits)
        with self._lock.shared():
            return self._volts(x, in_bits, True)

    def backward_volts(self, x, in_bits: int = 4) -> np.ndarray:
        """Closed form sum_p w_p v_p of every physical row (batch, 2 n_in): row 2i is G+."""
        in_bits = check_bits(in_bits, "in_bits")
        x = checked_inputs(x, self.n_out, in_bits)
        with self._lock.shared():
            return self._volts(x, in_bits, False)

    def forward(self, x, in_bits: int = 4, out_bits: int = 6, rng=None, keep_y: bool = False,
                exact: bool = False) -> MvmResult:
        """y = x W on the programmed array: signed codes (batch, n_out).

        x : integers (n_in,) or (batch, n_in) in the in_bits range (:func:`input_range`).
        rng : numpy Generator (``np.random.default_rng(seed)``) turning on the model's ADC
            noise, or None; anything else (a seed, a ``RandomState``) is refused on every path
            (the fast chain draws float32 normals: same distribution, not the same stream as
            the model's own call).
        keep_y : also return the pre-ADC code units (uses the model's own calls).
        exact : use the model's own float64 calls instead of the folded float32 chain.
        A core calibrated for (forward, in_bits, out_bits) also returns ``value``.
        """
        return self._run("forward", x, in_bits, out_bits, rng, keep_y, exact)

    def backward_lines(self, x, in_bits: int = 4, out_bits: int = 6, rng=None,
                       keep_y: bool = False, exact: bool = False) -> MvmResult:
        """Backward MVM with every bit-line's own code: (batch, 2 n_in), row 2i holds G+."""
        return self._run("backward", x, in_bits, out_bits, rng, keep_y, exact)

    def backward(self, x, in_bits: int = 4, out_bits: int = 6, rng=None, keep_y: bool = False,
                 exact: bool = False) -> MvmResult:
        """y = x W^T on the same programmed array: code(row 2i) - code(row 2i+1), (batch, n_in)
        (the SPICE flow's backward convention)."""
        r = self.backward_lines(x, in_bits, out_bits, rng, keep_y, exact)
        y = None if r.y is None else r.y[:, 0::2] - r.y[:, 1::2]
        value = None if r.value is None else r.value[:, 0::2] - r.value[:, 1::2]
        return MvmResult(r.code[:, 0::2] - r.code[:, 1::2], r.energy_j, r.latency_s, y, r.macs,
                         value)


__all__ = [
    "ACTIVITY_SAMPLE",
    "CAL_VECTORS",
    "CORE_COLS",
    "CORE_IN",
    "CORE_OUT",
    "CORE_ROWS",
    "FS_PERCENTILE",
    "LINE_WEIGHT_RTOL",
    "Calibration",
    "Core",
    "FastChain",
    "FullScaleCalibration",
    "MvmResult",
    "as_inputs",
    "check_bits",
    "check_int",
    "checked_inputs",
    "default_model",
    "fit_lines",
    "input_range",
]

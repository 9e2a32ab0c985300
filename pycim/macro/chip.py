"""The 48-core chip macro-model: layers tiled onto cores, digital partial-sum accumulation.

Mapping: each layer's weight matrix (:mod:`pycim.macro.layers`) is divided by its max |W| (the
weight scale) and cut into 128 x 256 tiles, one :class:`~pycim.macro.core.Core` each, on
consecutive cores (core k programmed with seed ``seed * n_cores + k``). A network needing more
than ``n_cores`` cores raises :class:`~pycim.errors.InputError` naming the layer that overflows.

Where quantisation happens:

* inputs of every layer: the activation quantiser :func:`pycim.macro.layers.quantize` (signed
  ``in_bits`` integers, one step per layer);
* each tile's neurons: its ADC turns the analog partial sum of its <= 128 rows into a signed
  ``out_bits`` code per column (saturating at the code range);
* foreground calibration (``calibrate=True``, the default): right after programming, every
  core runs :meth:`Core.calibrate` at the chip's (in_bits, out_bits) (forward; the backward
  bit-lines on the layer's first backward call, once):
  ``CAL_VECTORS`` known input vectors (zero + random) through the core's own MVMs, a per-column
  fit of code gain and offset against the closed form on the target conductances, stored as a
  digital correction ``value = scale code + shift`` per column (per bit-line backward). It
  removes what the fitted model adds on top of the closed form and is constant per column:
  the line and integrator offset (b0 and its g_sum terms, -3 to -7 codes at 8 bits), the ADC
  offset, the line gain's rows / g_sum terms and the series resistance's compression of the
  column sum (gain 0.78..0.86 on the digits demo), and the column's programming error;
* digital side: each tile's calibrated value (uncalibrated: the code's mid-point, code + 1/2)
  is scaled back to weight x input units with the tile's own column factor
  LSB * sum_i (G+ + G-)_ij / (Vread (g_max - g_min)) * w_scale * (2^P - 1) / W (target
  conductances; the last factor maps the held-line scheme's full-scale drive W =
  :meth:`MacroModel.weight_sum` back to the full-scale input 2^P - 1, so each input x counts
  as its effective drive d(x) (2^P - 1) / W: within 0.18 of x at 4 bits, where the held plane
  weights are not binary), so the
  per-code factor of a calibrated column is that factor times its measured 1 / gain; then
  the row tiles' partial sums are added in floating point. The factor differs from tile to
  tile because every column normalises by its own total conductance, so raw partial codes
  cannot simply be added.

Backward (x W^T) uses the same tiles: every bit-line is converted separately
(:meth:`Core.backward_lines`, calibrated per bit-line) and output
i = s+_i v_2i - s-_i v_2i+1 with each row's own factor (v: calibrated value, uncalibrated
code + 1/2), then the column tiles' partial sums are added.

Energy of a call: the sum over the cores used of :meth:`MacroModel.energy_j` (inputs' activity
included). Latency: the cores of one layer run in parallel and each converts its vectors one
after another (one MVM each, :meth:`MacroModel.latency_s`), so a layer takes
(vectors per call) x t_MVM (a conv layer: batch x output positions vectors); layers run one after
another (no pipelining between layers); the digital adder's time is neglected. Latency per
inference is the call latency at batch 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import assumptions
from ..cim.closed_form import line_conductance_s
from ..errors import InputError
from ..specs.neuron import MAX_OUT_BITS
from ..validate import check_int
from .core import CAL_VECTORS, Core, check_bits, default_model
from .inputs import unmasked
from .layers import Conv2d, Dense, Tile, finite_reals, plan, quantize
from .model import MacroModel

N_CORES = 48


@dataclass
class LayerCall:
    """One layer MVM on the chip: ``y`` approximates x W (forward) or x W^T (backward) in input
    x weight units (input integers times the layer's float weights)."""

    y: np.ndarray
    energy_j: dict[str, float]
    latency_s: float
    macs: int


@dataclass
class NetworkResult:
    """A forward pass of the whole network: outputs, energy and latency of the call, per layer."""

    outputs: np.ndarray
    energy_j: dict[str, float]
    latency_s: float
    macs: int
    layers: dict[str, LayerCall] = field(default_factory=dict)


def _add_energy(acc: dict, e: dict) -> None:
    for k, v in e.items():
        acc[k] = acc.get(k, 0.0) + v


class Chip:
    """A network programmed onto the chip.

    Parameters
    ----------
    layers : list of :class:`Dense` / :class:`Conv2d`, in order
    model : MacroModel (default: :meth:`MacroModel.load`)
    seed : programming-noise seed of the chip, an integer >= 0 (core k uses
        ``seed * n_cores + k``)
    prog_tol_s : write-verify tolerance (0: exact targets)
    in_bits, out_bits : input and ADC resolution of every MVM
    n_cores : cores on the chip (48)
    calibrate : bool, foreground-calibrate every core after programming (module docstring);
        False reconstructs the raw codes at their mid-point (the closed form's reconstruction)
    cal_vectors : calibration MVMs per core and direction (an integer >= 8)
    """

    def __init__(self, layers, model=None, seed: int = 0, prog_tol_s: float = 1e-6,
                 in_bits: int = 4, out_bits: int = 6, n_cores: int = N_CORES,
                 calibrate: bool = True, cal_vectors: int = CAL_VECTORS) -> None:
        n_cores = check_int(n_cores, "n_cores", 1)
        seed = check_int(seed, "seed")  # a Python int: seed * n_cores cannot wrap
        if not isinstance(calibrate, (bool, np.bool_)):
            raise InputError(f"calibrate must be True or False, got {calibrate!r}")
        cal_vectors = check_int(cal_vectors, "cal_vectors", 8)
        if model is not None and not isinstance(model, MacroModel):
            raise InputError(f"model must be a MacroModel (MacroModel.load / packaged), got "
                             f"{type(model).__name__}")
        self.layers = list(layers)
        for l in self.layers:
            if not isinstance(l, (Dense, Conv2d)):
                raise InputError(f"layers: need Dense or Conv2d, got {type(l).__name__}")
        self.in_bits = check_bits(in_bits, "in_bits")
        self.out_bits = check_bits(out_bits, "out_bits", MAX_OUT_BITS)
        self.n_cores = n_cores
        self.calibrated = bool(calibrate)
        self._cal_vectors = cal_vectors
        self.model = default_model() if model is None else model
        self.plan = plan(self.layers, n_cores)  # raises before anything is programmed
        self.by_name = {l.name: k for k, l in enumerate(self.layers)}
        dg = assumptions.value("g_max_s") - assumptions.value("g_min_s")
        lsb = self.model.lsb_v(self.out_bits)
        # the held-line scheme's full-scale drive back to the full-scale input
        n_pl = 1 if self.in_bits == 1 else self.in_bits - 1
        kappa = (2 ** n_pl - 1) / self.model.weight_sum(self.in_bits)
        self.cores: dict[int, Core] = {}
        self._scale: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.w_scale: dict[str, float] = {}
        for l, tiles in zip(self.layers, self.plan):
            w = l.matrix
            ws = float(np.max(np.abs(w)))
            self.w_scale[l.name] = ws
            for t in tiles:
                core = Core(w[t.r0:t.r1, t.c0:t.c1] / ws, model=self.model,
                            seed=seed * n_cores + t.core, prog_tol_s=prog_tol_s)
                self.cores[t.core] = core
                k = lsb / (core.v_read_v * dg) * ws * kappa
                gp, gn = core.target_g_pos_s, core.target_g_neg_s
                s_bwd = line_conductance_s(gp, gn, "backward")  # BL 2i: G+ row i, 2i+1: G-
                self._scale[t.core] = (k * line_conductance_s(gp, gn, "forward"),  # per column
                                       k * s_bwd[0::2], k * s_bwd[1::2])  # backward rows
                if self.calibrated:
                    self._calibrate(core, "forward")

    def _calibrate(self, core: Core, direction: str) -> None:
        """Foreground calibration of one core for ``direction`` at the chip's bits (once)."""
        if (direction, self.in_bits, self.out_bits) not in core.calibrations:
            core.calibrate(direction, self.in_bits, self.out_bits, n_vectors=self._cal_vectors,
                           seed=core.seed)

    @property
    def cores_used(self) -> int:
        return len(self.cores)

    def _tiles(self, name: str) -> tuple[Dense | Conv2d, list[Tile]]:
        if name not in self.by_name:
            raise InputError(f"layer: unknown name {name!r}; known: {', '.join(self.by_name)}")
        k = self.by_name[name]
        return self.layers[k], self.plan[k]

    # -- one layer -------------------------------------------------------------------------
    def forward_layer(self, name: str, x_int, rng=None) -> LayerCall:
        """x W of layer ``name`` for integer input vectors (vectors, n_in) (im2col done)."""
        layer, tiles = self._tiles(name)
        n_in, n_out = layer.matrix.shape
        x_int = unmasked(x_int, f"layer {name!r}: input vectors")
        if x_int.ndim != 2 or x_int.shape[1] != n_in:
            raise InputError(f"layer {name!r}: input vectors must be (vectors, {n_in}), "
                             f"got {x_int.shape}")
        y = np.zeros((x_int.shape[0], n_out))
        energy: dict[str, float] = {}
        lat, macs = 0.0, 0
        for t in tiles:
            r = self.cores[t.core].forward(x_int[:, t.r0:t.r1], self.in_bits, self.out_bits, rng)
            v = r.code + 0.5 if r.value is None else r.value
            y[:, t.c0:t.c1] += v * self._scale[t.core][0]
            _add_energy(energy, r.energy_j)
            lat, macs = max(lat, r.latency_s), macs + r.macs
        return LayerCall(y, energy, lat, macs)

    def backward_layer(self, name: str, y_int, rng=None) -> LayerCall:
        """y W^T of layer ``name`` on the same programmed cores: (vectors, n_out) -> n_in."""
        layer, tiles = self._tiles(name)
        n_in, n_out = layer.matrix.shape
        y_int = unmasked(y_int, f"layer {name!r}: backward input")
        if y_int.ndim != 2 or y_int.shape[1] != n_out:
            raise InputError(f"layer {name!r}: backward input must be (vectors, {n_out}), "
                             f"got {y_int.shape}")
        x = np.zeros((y_int.shape[0], n_in))
        energy: dict[str, float] = {}
        lat, macs = 0.0, 0
        for t in tiles:
            if self.calibrated:
                self._calibrate(self.cores[t.core], "backward")
            r = self.cores[t.core].backward_lines(y_int[:, t.c0:t.c1], self.in_bits,
                                                  self.out_bits, rng)
            _, sp, sn = self._scale[t.core]
            v = r.code + 0.5 if r.value is None else r.value
            x[:, t.r0:t.r1] += v[:, 0::2] * sp - v[:, 1::2] * sn
            _add_energy(energy, r.energy_j)
            lat, macs = max(lat, r.latency_s), macs + r.macs
        return LayerCall(x, energy, lat, macs)

    # -- the network -----------------------------------------------------------------------
    def run(self, x, rng=None) -> NetworkResult:
        """Forward pass: per layer quantise the input (its ``in_step``), im2col, tiled MVMs,
        bias and activation digitally. ``x``: (batch, n_in) or NHWC (batch, H, W, C), finite
        real numbers (InputError naming a NaN or infinite value, a masked array or another
        dtype)."""
        a = finite_reals(x, "x")
        energy: dict[str, float] = {}
        lat, macs, calls = 0.0, 0, {}
        for l in self.layers:
            if isinstance(l, Dense) and a.ndim > 2:
                a = a.reshape(a.shape[0], -1)
            q = quantize(a, l.in_step, self.in_bits)
            vec, shape = l.vectors(q)
            c = self.forward_layer(l.name, vec, rng)
            a = c.y.reshape(shape + (c.y.shape[1],)) * l.in_step
            if l.bias is not None:
                a = a + l.bias
            if l.activation == "relu":
                a = np.maximum(a, 0.0)
            _add_energy(energy, c.energy_j)
            lat, macs = lat + c.latency_s, macs + c.macs
            calls[l.name] = c
        return NetworkResult(a, energy, lat, macs, calls)


def software_forward(layers, x, in_bits: int | None = None) -> np.ndarray:
    """The same network in float64 numpy: exact weights, inputs quantised with each layer's
    quantiser when ``in_bits`` is given, else not at all."""
    a = np.asarray(x, dtype=float)
    for l in layers:
        if isinstance(l, Dense) and a.ndim > 2:
            a = a.reshape(a.shape[0], -1)
        if in_bits is not None:
            a = quantize(a, l.in_step, in_bits) * l.in_step
        vec, shape = l.vectors(a)
        y = vec @ l.matrix
        a = y.reshape(shape + (y.shape[1],))
        if l.bias is not None:
            a = a + l.bias
        if l.activation == "relu":
            a = np.maximum(a, 0.0)
    return a


__all__ = ["Chip", "LayerCall", "N_CORES", "NetworkResult", "software_forward"]

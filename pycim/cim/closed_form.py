"""The ideal MVM: settled line voltages of a linear array with ideal wires and drivers.

Forward (inputs on the bit-line pairs, source-lines sensed), for every mapping::

    V_SL,j - Vref = Vread * sum_i p_i (G+_ij - G-_ij) / sum_i (G+_ij + G-_ij)

Backward, ``row_pair``: every bit-line is sensed on its own, BL r settles to
Vread * sum_j p_j G_rj / sum_j G_rj, and output i is V(BL 2i) - V(BL 2i+1). Backward,
``transposable``: the forward form on the transposed conductances.
"""

from __future__ import annotations

import numpy as np

from .. import assumptions
from ..errors import InputError


def sense_views(g_pos, g_neg, direction: str, mapping: str = "row_pair"):
    """Per sensed neuron: (numerator matrix N, normaliser S) so that one plane's ideal line
    voltage is v_read * (plane @ N) / S. Backward ``row_pair`` senses every bit-line (G+ rows
    and G- rows separately, interleaved; outputs are differences of neighbours)."""
    if direction not in ("forward", "backward"):
        raise InputError(f"direction must be 'forward' or 'backward', got {direction!r}")
    if mapping not in ("row_pair", "transposable"):
        raise InputError(f"mapping must be 'row_pair' or 'transposable', got {mapping!r}")
    if direction == "forward":
        return g_pos - g_neg, (g_pos + g_neg).sum(axis=0)
    if mapping == "transposable":
        return (g_pos - g_neg).T, (g_pos + g_neg).sum(axis=1)
    n = np.empty((g_pos.shape[1], 2 * g_pos.shape[0]))
    n[:, 0::2], n[:, 1::2] = g_pos.T, g_neg.T
    s = np.empty(2 * g_pos.shape[0])
    s[0::2], s[1::2] = g_pos.sum(axis=1), g_neg.sum(axis=1)
    return n, s


def line_conductance_s(g_pos, g_neg, direction: str, mapping: str = "row_pair") -> np.ndarray:
    """The conductance on each sensed neuron's line: the normaliser S of :func:`sense_views`
    (forward: sum_i G+ + G- per column; backward row_pair: each bit-line's own sum)."""
    return sense_views(g_pos, g_neg, direction, mapping)[1]


def neuron_lines_v(g_pos, g_neg, planes, v_read: float, direction: str,
                   mapping: str = "row_pair") -> np.ndarray:
    """Ideal line voltage minus Vref at every sensed neuron: (..., n_neurons)."""
    n, s = sense_views(g_pos, g_neg, direction, mapping)
    return v_read * (planes @ n) / s


def active_fraction(g_pos, g_neg, planes, direction: str,
                    mapping: str = "row_pair") -> np.ndarray:
    """Per plane and sensed line, (3, ..., n_neurons) from planes (..., n_drive):

    0. the share of the line's conductance driven away from Vref, in [0, 1]:
       sum_i |s_i| G_i / sum_i G_i over the line's cells (s_i the cell's drive level, -1, 0
       or +1; forward, and backward transposable, a row pair is driven with +-x alike);
    1. the same with each cell weighted by the total conductance its driven line carries
       (over every sensed line), in units of ``G_LOAD_REF_S``: the driven lines' load;
    2. forward only (0 backward): the line's own share 0. minus the array's, times
       n_rows / 256 (n_rows the driven physical rows, 2 n_in; 256 a full core's).

    Forward, 0. and 1. are taken over the whole array (mean field: sum_i |s_i| Gr_i / sum Gr,
    Gr_i the row pair's conductance, the same for every source-line): on a 64 x 64 core with
    sparse inputs the mean field gave the SPICE lines within -2.3 mV mean against -2.4 mV for
    the per-line form (-6.1 mV without the terms). Each source-line's own share scatters
    about the array's (0.022 RMS on the fit sweeps' full cores),
    and the settled lines follow that scatter: in the fit data the residual of a mean-field
    model falls with it at 3, 8, 16, 25 and 36 mV per unit of share on 8 x 8, 16 x 16,
    32 x 32, 64 x 64 and 128 x 256 cores (16 to 256 driven rows; one slope over all of them
    on the share scaled by n_rows / 256: full cores 0.94 -> 0.50 mV RMS;
    ``benchmarks/act_share_residual.py``). 2. is that deviation, the macro-model's
    ``b_act_line_v`` term; backward, 0. is per line already.

    The macro-model's ``b_act_v``, ``b_load_v`` and ``b_act_line_v`` terms."""
    a = np.abs(np.asarray(planes, dtype=float))
    if direction == "forward":  # driven row pair i: rows of G+ and G-, each its own load
        g = g_pos + g_neg
        gl = g_pos * g_pos.sum(axis=1, keepdims=True) + g_neg * g_neg.sum(axis=1, keepdims=True)
        gt = g.sum()  # mean field: every source-line takes the array's fractions
        act = (a @ g.sum(axis=1)) / gt
        load = (a @ gl.sum(axis=1)) / gt / G_LOAD_REF_S
        shp = (*act.shape, g.shape[1])
        dev = ((a @ g) / g.sum(axis=0) - act[..., None]) * (2 * g.shape[0] / ACT_LINE_REF_ROWS)
        return np.stack([np.broadcast_to(act[..., None], shp),
                         np.broadcast_to(load[..., None], shp), dev])
    else:
        if mapping == "transposable":
            g = (g_pos + g_neg).T
        else:
            g, _ = sense_views(g_pos, g_neg, direction, mapping)
        gl = g * g.sum(axis=1, keepdims=True)
    s = g.sum(axis=0)
    act = (a @ g) / s
    return np.stack([act, (a @ gl) / s / G_LOAD_REF_S, np.zeros_like(act)])


#: driven physical rows at which :func:`active_fraction`'s per-line term takes its share
#: unscaled (a full core)
ACT_LINE_REF_ROWS = 256
#: conductance normalisation of :func:`active_fraction`'s load term
G_LOAD_REF_S = 1e-3


def pair_difference(v: np.ndarray, direction: str, mapping: str = "row_pair") -> np.ndarray:
    """Per-neuron values -> per-output values (backward row_pair: neighbour differences)."""
    if direction == "backward" and mapping == "row_pair":
        return v[..., 0::2] - v[..., 1::2]
    return v


def closed_form_planes(g_pos, g_neg, planes, v_read: float, direction: str,
                       mapping: str = "row_pair") -> np.ndarray:
    """Ideal settled line voltage minus Vref per output: planes (..., n_drive) ->
    (..., n_out). Works on bit planes or on whole integer inputs."""
    return pair_difference(neuron_lines_v(g_pos, g_neg, planes, v_read, direction, mapping),
                           direction, mapping)


def line_operator(g_pos, g_neg, direction: str, mapping: str = "row_pair",
                  r_drive_ohm=0.0) -> np.ndarray:
    """A with ``line volts - Vref = v_read * plane @ A`` (drive inputs x sensed neurons), the
    settled resistive network with each driven line behind a series resistance.

    With ``r_drive_ohm`` = 0 this is the closed form N / S (:func:`sense_views`). Otherwise
    every physical driven line i (its driver's on-resistance and its wire, lumped) reaches
    its cells through R_i, and every line of the array floats (the sensed ones and, in the
    transposable mapping, the spare copies). Kirchhoff on the driven nodes r and the floating
    lines l, with G the conductances (driven x floating), u the drive levels and
    a_i = R_i / (1 + R_i sum_j G_ij)::

        r = (u + R G l) / (1 + R G 1)
        (diag(G^T 1) - G^T diag(a) G) l = G^T diag(1 / (1 + R G 1)) u

    so the drive sags by the current its line carries, which depends on the other lines'
    voltages (a plane of equal inputs loses nothing: every cell sees the same voltage).

    Parameters
    ----------
    g_pos, g_neg : (n_in, n_out) conductances (the caller's effective ones), S.
    direction, mapping : as :func:`sense_views`.
    r_drive_ohm : scalar or one value per physical driven line (forward: the 2 n_in rows,
        backward: the columns of :func:`pycim.cim.mapping.physical_conductances`), ohm >= 0.
    """
    from .mapping import physical_conductances

    r = np.asarray(r_drive_ohm, dtype=float)
    if np.any(~np.isfinite(r)) or np.any(r < 0):
        raise InputError(f"r_drive_ohm must be finite and >= 0, got {r_drive_ohm!r}")
    if not np.any(r > 0):
        n, s = sense_views(g_pos, g_neg, direction, mapping)
        return n / s
    gp, gn = np.asarray(g_pos, dtype=float), np.asarray(g_neg, dtype=float)
    g = physical_conductances(gp, gn, mapping)
    if direction == "backward":
        g = g.T
    n_d = g.shape[0]
    r = np.broadcast_to(r, (n_d,))
    gr = g.sum(axis=1)
    k = 1.0 / (1.0 + r * gr)
    m = np.diag(g.sum(axis=0)) - (g.T * (r * k)) @ g
    t = np.linalg.solve(m, g.T * k)  # (floating lines, driven lines)
    return _drive_inputs(t.T, direction, mapping)  # physical drive -> floating line voltage


def _drive_inputs(a: np.ndarray, direction: str, mapping: str) -> np.ndarray:
    """An operator (physical driven lines x floating lines) as one on the inputs and the
    sensed lines: a row pair drives +x on its even and -x on its odd line, and in the
    transposable mapping only the even floating lines are sensed (odd: the spare copies)."""
    if direction == "forward" or mapping == "transposable":
        a = a[0::2] - a[1::2]
        if mapping == "transposable":
            a = a[:, 0::2]
    return a


#: convergence of :func:`wire_line_operator`'s iteration: the largest change of any node
#: voltage per unit drive in the last sweep (0.2 V reads: 2e-11 V)
WIRE_TOL = 1e-10
WIRE_MAX_ITER = 200
#: :func:`wire_correction` gives up early when a drive's change per pass grows this many times
#: over the smallest change it had
DIVERGED = 1e3


def _ladder_factor(g, g_wire: float, tap, g_drive):
    """Forward sweep of the Thomas algorithm for L ladders at once: line l's nodes p (cell
    conductance ``g[l, p]`` to the other family, ``g_wire`` between neighbours, ``g_drive[l]``
    to its source at node ``tap[l]``). Returns (c', denominator), each (L, P)."""
    n_l, n_p = g.shape
    diag = g + 2.0 * g_wire
    diag[:, 0] -= g_wire
    diag[:, -1] -= g_wire
    diag[np.arange(n_l), tap] += g_drive
    cp, den = np.empty((n_l, n_p)), np.empty((n_l, n_p))
    den[:, 0] = diag[:, 0]
    cp[:, 0] = -g_wire / den[:, 0]
    for p in range(1, n_p):
        den[:, p] = diag[:, p] + g_wire * cp[:, p - 1]
        cp[:, p] = -g_wire / den[:, p]
    return cp, den


def _ladder_solve(cp, den, g_wire: float, rhs):
    """The ladders' node voltages (L, P, K) for injected currents ``rhs`` (L, P, K)."""
    d = np.empty_like(rhs)
    d[:, 0] = rhs[:, 0] / den[:, 0, None]
    for p in range(1, rhs.shape[1]):
        d[:, p] = (rhs[:, p] + g_wire * d[:, p - 1]) / den[:, p, None]
    v = d  # back substitution in place
    for p in range(rhs.shape[1] - 2, -1, -1):
        v[:, p] -= cp[:, p, None] * v[:, p + 1]
    return v


def wire_line_operator(g_pos, g_neg, direction: str, mapping: str = "row_pair",
                       r_drive_ohm=0.0, r_bl_cell_ohm: float | None = None,
                       r_sl_cell_ohm: float | None = None) -> np.ndarray:
    """:func:`line_operator` with the wires resolved by position: the DC solution of the
    linear array as it is wired.

    Every bit-line (row of the physical array) and source-line (column) is a ladder of one
    wire segment per cell pitch, ``r_bl_cell_ohm`` along a bit-line and ``r_sl_cell_ohm``
    along a source-line (defaults: ``wire_r_ohm_per_um`` x ``cell_pitch_x_um`` and
    ``cell_pitch_y_um``, :mod:`pycim.assumptions`), every cell a conductance between its
    bit-line node and its source-line node. Each driven line's source reaches its ladder at
    its port, the TNSA tap (:func:`pycim.cim.mapping.tnsa_taps`: the centre of its neuron's
    corelet), through ``r_drive_ohm`` (> 0); each sensed line is read at its own tap; every
    other line floats. :func:`line_operator` lumps the wires into the drive resistance; on a
    full core the two differ by ~1 mV RMS (``benchmarks/wire_residuals.py``).

    Solved for a unit source on every driven line at once by block Gauss-Seidel between the
    two line families, each family's ladders exactly (tridiagonal, vectorised over lines and
    sources) given the other's node voltages, until no node moves by more than
    :data:`WIRE_TOL` per unit drive (a 128 x 256 core: ~20 sweeps, seconds; memory 4 x
    rows x cols x driven lines floats). Checked against ngspice's operating point of the
    generated array (``tests/test_line_operator.py``).

    Returns A with ``line volts - Vref = v_read * plane @ A``, shaped as :func:`line_operator`'s.
    """
    g, r, r_bl, r_sl, bl_tap, sl_tap = _wired_array(g_pos, g_neg, direction, mapping,
                                                     r_drive_ohm, r_bl_cell_ohm, r_sl_cell_ohm,
                                                     zero_drive=False)
    n_r, n_c = g.shape
    fwd = direction == "forward"
    n_d = r.size
    g_wb, g_ws = 1.0 / r_bl, 1.0 / r_sl
    g_d = 1.0 / r
    zero_r, zero_c = np.zeros(n_r), np.zeros(n_c)
    bl_f = _ladder_factor(g, g_wb, bl_tap, g_d if fwd else zero_r)  # bit-line r along c
    sl_f = _ladder_factor(g.T.copy(), g_ws, sl_tap, zero_c if fwd else g_d)  # SL c along r
    inj_b, inj_s = np.zeros((n_r, n_c, n_d)), np.zeros((n_c, n_r, n_d))
    if fwd:
        inj_b[np.arange(n_r), bl_tap, np.arange(n_d)] = g_d
    else:
        inj_s[np.arange(n_c), sl_tap, np.arange(n_d)] = g_d
    vb, vs = np.zeros((n_r, n_c, n_d)), np.zeros((n_c, n_r, n_d))
    for _ in range(WIRE_MAX_ITER):
        vb_new = _ladder_solve(*bl_f, g_wb, g[:, :, None] * vs.transpose(1, 0, 2) + inj_b)
        vs_new = _ladder_solve(*sl_f, g_ws, g.T[:, :, None] * vb_new.transpose(1, 0, 2) + inj_s)
        moved = max(float(np.abs(vb_new - vb).max()), float(np.abs(vs_new - vs).max()))
        vb, vs = vb_new, vs_new
        if moved < WIRE_TOL:
            break
    else:
        raise RuntimeError(f"wire_line_operator: no convergence in {WIRE_MAX_ITER} sweeps "
                           f"(last change {moved:.3g} per unit drive)")
    a = (vs[np.arange(n_c), sl_tap, :].T if fwd  # (driven lines, floating lines' taps)
         else vb[np.arange(n_r), bl_tap, :].T)
    return _drive_inputs(a, direction, mapping)


def _cumsum_rows(s: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``np.cumsum(s, axis=0, out=out)`` for a 2-D ``s``, row by row: the same additions in
    the same order (bit for bit), 3.9x faster at 256 x 256 float64 (0.18 ms against 0.71:
    numpy's accumulate along the first axis walks the columns with a stride); it was 60 % of
    a per-vector wire solve."""
    np.copyto(out[0], s[0])
    for i in range(1, s.shape[0]):
        np.add(out[i - 1], s[i], out=out[i])
    return out


class _Ladders:
    """L ladders of P nodes with their taps, along ``axis`` of a (rows, cols) array of node
    sinks (axis 1: each row a ladder; axis 0: each column). :meth:`drop` gives the node volts
    minus the tap's when node p sinks ``s`` (into its cells) and each line's net current
    enters at its tap; segment p joins nodes p and p + 1 (``r_seg`` ohm)."""

    def __init__(self, n_l: int, n_p: int, tap, r_seg: float, axis: int):
        self.tap = np.asarray(tap)
        self.lines = np.arange(n_l)
        # past the tap every segment carries the line's whole current less the sinks before
        # it, the other way round before the tap: the node's drop gains r_seg x the total
        # per segment beyond the tap
        ramp = r_seg * np.maximum(np.arange(n_p)[None, :] - self.tap[:, None], 0)
        self.ramp = ramp if axis == 1 else np.ascontiguousarray(ramp.T)
        self.r_seg = r_seg
        self.axis = axis

    def drop(self, s):
        """delta(p) = r_seg (S(p) - S(tap)) - r_seg total max(p - tap, 0), with c(q) the sinks
        of nodes 0..q (inclusive cumulative sum) and S(p) = sum of c(q) over q < p."""
        if self.axis == 1:
            c = np.cumsum(s, axis=1)
            out = np.empty_like(c)
            total = c[:, -1:].copy()
            out[:, 0] = 0.0
            np.cumsum(c[:, :-1], axis=1, out=out[:, 1:])
            out -= out[self.lines, self.tap][:, None]
        else:
            c = _cumsum_rows(s, np.empty_like(s))
            out = np.empty_like(c)
            total = c[-1:, :].copy()
            out[0, :] = 0.0
            _cumsum_rows(c[:-1, :], out[1:, :])
            out -= out[self.tap, self.lines][None, :]
        out *= self.r_seg
        total = total * self.ramp
        out -= total
        return out


def wire_correction(g_pos, g_neg, direction: str, mapping: str = "row_pair",
                    r_drive_ohm=0.0, r_bl_cell_ohm: float | None = None,
                    r_sl_cell_ohm: float | None = None, planes=None,
                    tol: float = 1e-8) -> np.ndarray:
    """The wires' IR drop by position: :func:`wire_line_operator` minus :func:`line_operator`
    (the same ``r_drive_ohm``, each driven line's source at its TNSA tap), or its product with
    given input planes at a cost in proportion to their number.

    A fixed-point iteration preconditioned by the lumped network (every line one node, each
    driven line behind ``r_drive_ohm``; Y its nodal matrix): the tap voltages give every
    cell's current; along each line's ladder those currents drop
    ``delta(p) = -r_seg * sum over the segments from the tap to p of the current they carry``
    (the tap feeds the line, every cell sinks its current); each cell's current moves by
    G (delta_BL - delta_SL), and the lines' KCL with those currents as sources gives the tap
    voltages again (``V = V_lumped - Y^-1 sum``). Each pass cuts the error by ~(wire R x line
    conductance), 0.26 on a full core; it stops when no tap moves by more than ``tol`` per
    unit drive (1e-8: 2 nV at a 0.2 V read) and refuses wires too resistive for it to
    converge (:func:`wire_line_operator` solves those). Checked against
    :func:`wire_line_operator` and through it against ngspice (``tests/test_line_operator.py``).

    Parameters
    ----------
    g_pos, g_neg, direction, mapping, r_drive_ohm, r_bl_cell_ohm, r_sl_cell_ohm
        as :func:`wire_line_operator` (``r_drive_ohm`` may be 0: ideal drivers at the taps).
    planes : (K, inputs) or None
        None: the operator's correction dA (inputs x sensed lines), the wired array's
        operator being ``A + dA``. Given: ``planes @ dA`` (K x sensed lines), solved for
        those K drives only (the fit's few planes per point, not a full operator).
    tol : float
        Convergence per unit drive, > 0.

    See Also
    --------
    wire_system : the factored network alone, for many calls on the same conductances.
    """
    _check_tol(tol)  # before the factorisation
    return wire_system(g_pos, g_neg, direction, mapping, r_drive_ohm, r_bl_cell_ohm,
                       r_sl_cell_ohm).correction(planes, tol)


def _check_tol(tol) -> None:
    if not (np.isfinite(tol) and tol > 0):
        raise InputError(f"tol must be finite and > 0, got {tol!r}")


class WireSystem:
    """The part of :func:`wire_correction` that depends on the conductances alone: the lumped
    nodal matrix's LU factors and the lines' ladders. Build it once (:func:`wire_system`)
    and call :meth:`correction` for each set of drives: the same numbers as
    :func:`wire_correction`, without refactoring the network (a full core's factorisation
    is ~0.1 CPU-s of a one-vector call's ~0.15)."""

    def __init__(self, g, r, r_bl, r_sl, bl_tap, sl_tap, direction: str, mapping: str):
        n_r, n_c = g.shape
        self.g, self.n_r, self.n_c = g, n_r, n_c
        self.fwd = direction == "forward"
        self.mapping = mapping
        self.n_d = r.size
        self.pair = self.fwd or mapping == "transposable"  # inputs drive line pairs +x / -x
        self.n_in = self.n_d // 2 if self.pair else self.n_d
        # the lumped nodal matrix over (rows, cols); a driven line's source is an ideal one
        # when its R is 0, so its node is held (eliminated) rather than given an infinite
        # conductance
        self.g_d = np.where(r > 0, 1.0 / np.where(r > 0, r, 1.0), 0.0)
        self.held = r == 0
        y = np.zeros((n_r + n_c, n_r + n_c))
        y[:n_r, n_r:], y[n_r:, :n_r] = -g, -g.T
        diag = np.concatenate([g.sum(axis=1), g.sum(axis=0)])
        self.drv = np.arange(self.n_d) if self.fwd else n_r + np.arange(self.n_d)
        diag[self.drv] += self.g_d
        y[np.arange(n_r + n_c), np.arange(n_r + n_c)] = diag
        self.free = np.ones(n_r + n_c, dtype=bool)
        self.free[self.drv[self.held]] = False
        self.y_held = y[:, ~self.free]  # the held nodes' columns (ideal sources)
        self.lu = _lu(y[np.ix_(self.free, self.free)])
        self.ladders = (_Ladders(n_r, n_c, bl_tap, r_bl, axis=1),
                        _Ladders(n_c, n_r, sl_tap, r_sl, axis=0))

    def correction(self, planes=None, tol: float = 1e-8) -> np.ndarray:
        """:func:`wire_correction`'s result for ``planes`` (None: the operator's correction)
        on this system's conductances; ``tol`` as there."""
        _check_tol(tol)
        n_in, n_r = self.n_in, self.n_r
        if planes is None:
            # one unit drive per input: a row pair's +1 / -1 drive at once (its operator row
            # is the difference of its two lines' rows, by linearity: half the solves)
            x = np.eye(n_in)
        else:
            x = np.atleast_2d(np.asarray(planes, dtype=float))
            if x.ndim != 2 or x.shape[1] != n_in or not np.all(np.isfinite(x)):
                raise InputError(f"planes must be finite, shaped (K, {n_in}); got {x.shape}")
        u = np.zeros((self.n_d, x.shape[0]))
        if self.pair:
            u[0::2], u[1::2] = x.T, -x.T
        else:
            u[:] = x.T
        free, held, drv = self.free, self.held, self.drv
        v0 = np.zeros((n_r + self.n_c, u.shape[1]))
        v0[drv[held]] = u[held]  # ideal sources: their node is the drive
        rhs = np.zeros_like(v0)
        rhs[drv] = self.g_d[:, None] * u
        rhs -= self.y_held @ v0[~free]
        v0[free] = _lu_solve(self.lu, rhs[free])
        dv = np.zeros_like(v0)
        for k in range(u.shape[1]):  # one drive at a time: rows x cols arrays stay in cache
            dv[:, k] = _wire_drive(self.g, v0[:, k], free, self.lu, self.ladders, tol)
        a = (dv[n_r:] if self.fwd else dv[:n_r]).T  # (inputs or planes, floating lines)
        return a[:, 0::2] if self.mapping == "transposable" else a  # the sensed lines


def wire_system(g_pos, g_neg, direction: str, mapping: str = "row_pair", r_drive_ohm=0.0,
                r_bl_cell_ohm: float | None = None,
                r_sl_cell_ohm: float | None = None) -> WireSystem:
    """The factored network of :func:`wire_correction` (same arguments, without the drives):
    ``wire_system(...).correction(planes, tol)`` equals ``wire_correction(..., planes,
    tol)``."""
    g, r, r_bl, r_sl, bl_tap, sl_tap = _wired_array(g_pos, g_neg, direction, mapping,
                                                     r_drive_ohm, r_bl_cell_ohm, r_sl_cell_ohm,
                                                     zero_drive=True)
    return WireSystem(g, r, r_bl, r_sl, bl_tap, sl_tap, direction, mapping)


def _wire_drive(g, v0, free, lu, ladders, tol):
    """:func:`wire_correction` for one drive: the change of every tap voltage (rows, cols)
    by the fixed-point iteration lumped solve <- ladder drops <- cells' currents."""
    n_r = g.shape[0]
    v = v0
    extra_i = 0.0  # the cells' extra current from the wires (BL -> SL), (rows, cols)
    least = np.inf  # the smallest change so far
    for _ in range(WIRE_MAX_ITER):
        cur = v[:n_r, None] - v[None, n_r:]
        cur *= g
        cur += extra_i  # BL node -> SL node, per cell
        # BL drops minus SL drops (an SL sinks -cur: its drop is the negated one of cur's,
        # along the columns)
        extra_i = ladders[0].drop(cur)
        extra_i += ladders[1].drop(cur)
        extra_i *= g
        extra = np.concatenate([extra_i.sum(axis=1), -extra_i.sum(axis=0)])
        v_new = v0.copy()
        v_new[free] -= _lu_solve(lu, extra[free])
        moved = float(np.abs(v_new - v).max())
        v = v_new
        if moved < tol:
            return v - v0
        # diverging: the change grew 1000-fold over the smallest one so far (a contracting
        # iteration's change may grow for a pass or two first: the first pass starts from no
        # wire current, e.g. 3.7e-6, 8.7e-6, 6.4e-7, ... on a one-column core of 128 rows)
        if not moved <= DIVERGED * least:
            break
        least = min(least, moved)
    raise RuntimeError("wire_correction: the iteration does not converge for these wires "
                       f"(last change {moved:.3g} per unit drive); wire_line_operator solves "
                       "them exactly")


def _lu(m):
    import scipy.linalg

    return scipy.linalg.lu_factor(m, check_finite=False)


def _lu_solve(lu, b):
    import scipy.linalg

    return scipy.linalg.lu_solve(lu, b, check_finite=False)


def _wired_array(g_pos, g_neg, direction, mapping, r_drive_ohm, r_bl_cell_ohm, r_sl_cell_ohm,
                 zero_drive: bool):
    """The checked inputs of the wired-array solvers: (physical G, drive R per driven line,
    wire ohm per cell along a bit-line and a source-line, bit-line taps, source-line taps);
    ``zero_drive``: whether a drive resistance may be 0 (an ideal source at the tap)."""
    from .mapping import physical_conductances, tnsa_taps

    if direction not in ("forward", "backward"):
        raise InputError(f"direction must be 'forward' or 'backward', got {direction!r}")
    r_bl, r_sl = _wire_cell_ohm(r_bl_cell_ohm, r_sl_cell_ohm)
    g = physical_conductances(np.asarray(g_pos, dtype=float), np.asarray(g_neg, dtype=float),
                              mapping)
    n_r, n_c = g.shape
    r = np.broadcast_to(np.asarray(r_drive_ohm, dtype=float),
                        (n_r if direction == "forward" else n_c,))
    if np.any(~np.isfinite(r)) or np.any(r < 0) or (not zero_drive and np.any(r == 0)):
        raise InputError(f"r_drive_ohm must be finite and {'>=' if zero_drive else '>'} 0, "
                         f"got {r_drive_ohm!r}")
    bl_tap, sl_tap = (np.asarray(t) for t in tnsa_taps(n_r, n_c))
    return g, r, r_bl, r_sl, bl_tap, sl_tap


def _wire_cell_ohm(r_bl_cell_ohm, r_sl_cell_ohm):
    """Wire ohm per cell along a bit-line and a source-line (defaults from the pitches)."""
    r_bl = (assumptions.value("wire_r_ohm_per_um") * assumptions.value("cell_pitch_x_um")
            if r_bl_cell_ohm is None else r_bl_cell_ohm)
    r_sl = (assumptions.value("wire_r_ohm_per_um") * assumptions.value("cell_pitch_y_um")
            if r_sl_cell_ohm is None else r_sl_cell_ohm)
    for name, v in (("r_bl_cell_ohm", r_bl), ("r_sl_cell_ohm", r_sl)):
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
            raise InputError(f"{name} must be a finite number > 0, got {v!r}")
    return r_bl, r_sl


def ideal_output(plane_v: np.ndarray, in_bits: int, lsb_v: float,
                 c_hold_f: float | None = None, c_sample_f: float | None = None) -> np.ndarray:
    """Planes' settled volts (batch, planes, n) -> the ideal output in LSB (line-referred
    ``lsb_v``) of the chip's scheme: plane n (LSB first) is pulsed once, its settled line held
    on the neuron's C_hold and sampled 2^(n-1) times, so it weighs :func:`held_plane_weights`
    ``(in_bits, c_hold_f, c_sample_f)`` instead of 2^(n-1). Defaults: the effective capacitances
    ``neuron_c_hold_eff_f`` and ``neuron_c_sample_eff_f`` (:mod:`pycim.assumptions`)."""
    ch = assumptions.value("neuron_c_hold_eff_f") if c_hold_f is None else c_hold_f
    cs = assumptions.value("neuron_c_sample_eff_f") if c_sample_f is None else c_sample_f
    w = held_plane_weights(in_bits, ch, cs)
    return np.einsum("bpn,p->bn", plane_v, w) / lsb_v


def array_activity(g_phys: np.ndarray, line_planes: np.ndarray, direction: str,
                   plane_weights: np.ndarray) -> float:
    """Mean (V_drive - V_line)^2 / v_read^2 over the cells, conductance-weighted and window-
    weighted: sum_w sum_ij G_ij (u_i - v_j)^2 / (n_windows sum_ij G_ij), with the floating
    lines at their weighted averages v_j (ideal array)."""
    g = g_phys if direction == "forward" else g_phys.T  # (drive lines, sensed lines)
    s = g.sum(axis=0)
    num = line_planes @ g  # (planes, sense)
    v = num / s
    p_plane = (line_planes ** 2) @ g - v * v * s  # sum_i G (u_i - v_j)^2 per plane and line
    tot = float(np.sum(plane_weights[:, None] * p_plane))
    return tot / (float(plane_weights.sum()) * float(g.sum()))


def settling_time_constants_s(g_phys: np.ndarray, direction: str, mapping: str = "row_pair",
                              c_hold_f: float | None = None) -> np.ndarray:
    """Lower bound of each sensed line's settling time constant during a read pulse (s): the
    neuron's hold capacitor (``neuron_c_hold_eff_f``) charged through the line's source
    resistance 1 / sum_i G_i (the cells on it in parallel to the driven lines). Access FETs,
    wires, the line's own capacitance and the driven lines' RC only make it slower: a 16-row
    corner of 1 uS cells gives 8 ns, a full 256-row core 1 ns, but the full 128 x 256 core
    measures 12-16 ns to 0.5 mV (benchmarks/read_settling_core.py), its driven lines' RC; the
    SPICE flow therefore also measures the lines' drift where it reads them
    (:func:`pycim.flows.mvm.check_line_drift`)."""
    ch = assumptions.value("neuron_c_hold_eff_f") if c_hold_f is None else c_hold_f
    g = np.asarray(g_phys, dtype=float)
    g_line = g.sum(axis=0) if direction == "forward" else g.sum(axis=1)
    return ch / g_line


def held_line_gain(c_hold_f, c_sample_f, n_samples, in_pulse: bool = False):
    """Sum of the per-sample factors when a held value is re-sampled ``n_samples`` times.

    Each sample connects C_sample, its top plate reset to Vref by the previous integration, to
    the floating hold node (the neuron's C_hold, ``c_hold_f``): charge sharing leaves both at
    V_k = V_(k-1) C_hold / (C_hold + C_s) (relative to Vref), and C_s V_k is integrated. With
    r = C_hold / (C_hold + C_s) and V0 the settled line voltage:

    * ``in_pulse=False`` (default, the chip's scheme: every sample from the held value):
      sum_{k=1}^{N} r^k;
    * ``in_pulse=True`` (a first sample taken while the line is still driven):
      sum_{k=0}^{N-1} r^k = (1 - r^N) / (1 - r).

    Broadcasts over array arguments; ``n_samples`` >= 1. The ideal integrated voltage of one
    plane is then (C_s / C_i) V0 * held_line_gain(...), instead of (C_s / C_i) V0 N.
    """
    ch = np.asarray(c_hold_f, dtype=float)
    cs = np.asarray(c_sample_f, dtype=float)
    n = np.asarray(n_samples)
    if np.any(ch <= 0) or np.any(cs < 0) or np.any(n < 1):
        raise InputError("held_line_gain needs c_hold_f > 0, c_sample_f >= 0, n_samples >= 1")
    r = ch / (ch + cs)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(r < 1.0, (1.0 - r ** n) / np.where(r < 1.0, 1.0 - r, 1.0), n)
    return s if in_pulse else r * s


def held_plane_weights(in_bits: int, c_hold_f, c_sample_f, in_pulse: bool = False) -> np.ndarray:
    """Per magnitude plane (LSB first) the weight that replaces 2^(n-1) for a held value:
    ``held_line_gain(c_hold_f, c_sample_f, 2^(n-1), in_pulse)``; use with :func:`ideal_output`-
    style sums, e.g. ``einsum("bpn,p->bn", plane_v, held_plane_weights(...)) / lsb``."""
    planes = max(int(in_bits) - 1, 1)
    return np.array([float(held_line_gain(c_hold_f, c_sample_f, 2 ** (n - 1), in_pulse))
                     for n in range(1, planes + 1)])

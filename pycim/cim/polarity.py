"""The lumped line network with each driven line's drive and series resistance set by its drive
polarity, to first order about the reference network of :func:`pycim.cim.closed_form.
line_operator` (issue 18 item 2, twenty-sixth round): what the macro-model's ``dr_*_ohm`` terms
add to its lines (:meth:`pycim.macro.model.MacroModel.polarity_lines`).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


#: the departures :class:`PolaritySystem` resolves, in its basis' order: each driven line's
#: drive resistance and its cells' series resistance, for a line driven above Vref (``pos``)
#: and below it (``neg``); a line held at Vref keeps the reference network's
POLARITY_TERMS = ("drive_pos", "drive_neg", "series_pos", "series_neg")


class PolaritySystem:
    """The lumped network of :func:`pycim.cim.closed_form.line_operator` with each driven
    line's drive resistance and its cells' series resistance departing from the reference by
    an amount set by the line's drive polarity, to first order in the departures.

    Backward, the access FETs sit on the driven source-lines with their source at the line's
    low end, so their on-resistance depends on the drive's sign, and the transmission-gate
    drivers differ per rail: one network with per-polarity resistances takes the backward
    lines of the committed full cores from 0.61 to 0.18 mV RMS, where one symmetric network
    and active-fraction offsets cannot (``benchmarks/spread_refit.py polarity``).

    About the reference solution (driven nodes r0, floating lines l0, each driven line's
    current i0 into its cells), a drive departure dR_j is a source step -dR_j i0_j; a series
    departure dRs_j changes line j's cells by dG = -Ge^2 dRs_j (Ge the effective conductance,
    which already holds the reference series resistance), i.e. currents dG (r0_j - l0_k) out
    of the driven node, which its reference drive R_j turns into a source step, and into the
    floating line. Both reach the floating lines through the reference operators. The result
    is linear in the departures, so :meth:`basis` returns one term per departure per ohm, but
    quadratic in the drives (the currents depend on every line): it is evaluated per plane.

    Parameters
    ----------
    g_pos, g_neg : (n_in, n_out) effective conductances (the reference series resistance in),
        S.
    direction, mapping : as :func:`pycim.cim.closed_form.sense_views`.
    r_drive_ohm : the reference drive resistance, scalar or per physical driven line, >= 0.
    """

    def __init__(self, g_pos, g_neg, direction: str, mapping: str = "row_pair",
                 r_drive_ohm=0.0):
        from .mapping import physical_conductances

        r = np.asarray(r_drive_ohm, dtype=float)
        if np.any(~np.isfinite(r)) or np.any(r < 0):
            raise InputError(f"r_drive_ohm must be finite and >= 0, got {r_drive_ohm!r}")
        g = physical_conductances(np.asarray(g_pos, dtype=float),
                                  np.asarray(g_neg, dtype=float), mapping)
        self.g = g.T if direction == "backward" else g  # (driven, floating)
        self.direction, self.mapping = direction, mapping
        self.r = np.broadcast_to(r, (self.g.shape[0],)).copy()
        self.gr = self.g.sum(axis=1)
        self.k = 1.0 / (1.0 + self.r * self.gr)
        a = np.diag(self.g.sum(axis=0)) - (self.g.T * (self.r * self.k)) @ self.g
        self.a_inv = np.linalg.inv(a)  # symmetric: floating-line currents -> lines
        self.t_t = (self.a_inv @ (self.g.T * self.k)).T  # (driven, floating): sources -> lines
        self.g2 = self.g * self.g
        self.g2r = self.g2.sum(axis=1)
        #: [G^T | (G^2)^T]: a driven line's current and its cells' G^2-weighted sum, one product
        self.g_g2_t = np.ascontiguousarray(np.hstack([self.g.T, self.g2.T]))

    def astype(self, dtype) -> PolaritySystem:
        """A copy whose matrices are ``dtype`` (float32: :meth:`lines` in single precision,
        what a :class:`pycim.macro.core.Core` takes; the departures' share is a few mV)."""
        out = object.__new__(PolaritySystem)
        out.__dict__.update({k: (v.astype(dtype) if isinstance(v, np.ndarray) else v)
                             for k, v in self.__dict__.items()})
        return out

    def drive_levels(self, planes) -> np.ndarray:
        """Input planes (..., inputs) as the physical driven lines' levels: a row pair drives
        +x on its even and -x on its odd line (forward, and backward transposable)."""
        p = np.asarray(planes, dtype=self.g.dtype)
        if self.direction == "forward" or self.mapping == "transposable":
            u = np.empty((*p.shape[:-1], 2 * p.shape[-1]), dtype=p.dtype)
            u[..., 0::2], u[..., 1::2] = p, -p
            return u
        return p

    def _sensed(self, v: np.ndarray) -> np.ndarray:
        return v[..., 0::2] if self.mapping == "transposable" else v

    def basis(self, planes) -> np.ndarray:
        """(4, ..., sensed lines): the change of the sensed lines per unit read per ohm of
        each departure (:data:`POLARITY_TERMS`), for input planes (..., inputs) of levels -1,
        0 or 1: :meth:`lines` of each unit departure (what a fit takes as regressors)."""
        return np.stack([self.lines(planes, e) for e in np.eye(len(POLARITY_TERMS))])

    def lines(self, planes, departures_ohm, plane_weights=None) -> np.ndarray:
        """The departures' share of the sensed lines per unit read: ``departures_ohm``
        (:data:`POLARITY_TERMS` order) on :meth:`basis`, for planes (..., inputs); with
        ``plane_weights`` (one per plane, planes (..., planes, inputs)), their weighted sum
        over the planes (..., sensed): seven products per plane, the last two once per call
        when the planes are summed."""
        c = np.asarray(departures_ohm, dtype=self.g.dtype)
        u = self.drive_levels(planes)
        if u.shape[-1] != self.g.shape[0]:
            raise InputError(f"polarity lines: planes drive {u.shape[-1]} physical lines, "
                             f"the array has {self.g.shape[0]}")
        shape = u.shape[:-1]
        u = u.reshape(-1, u.shape[-1])  # 2-D: one BLAS product each, not one per vector
        l0 = u @ self.t_t
        n_d = u.shape[-1]
        both = l0 @ self.g_g2_t
        gl, g2l = both[:, :n_d], both[:, n_d:]
        r0 = (u + self.r * gl) * self.k
        i0 = (self.gr * u - gl) * self.k
        pos, neg = u > 0, u < 0
        dd = c[0] * pos + c[1] * neg  # each driven line's drive departure
        ds = c[2] * pos + c[3] * neg  # and its cells' series departure
        src = self.r * ds * (r0 * self.g2r - g2l) - dd * i0  # source steps
        n = u.shape[0]
        both = np.concatenate([ds, ds * r0]) @ self.g2
        inj = l0 * both[:n] - both[n:]  # currents into the floating lines
        src, inj = src.reshape(*shape, -1), inj.reshape(*shape, -1)
        if plane_weights is not None:
            w = np.asarray(plane_weights, dtype=self.g.dtype)[:, None]
            src, inj = (src * w).sum(axis=-2), (inj * w).sum(axis=-2)
        lead = src.shape[:-1]
        v = src.reshape(-1, src.shape[-1]) @ self.t_t \
            + inj.reshape(-1, inj.shape[-1]) @ self.a_inv
        return self._sensed(v.reshape(*lead, -1))


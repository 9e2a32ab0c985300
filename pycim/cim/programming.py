"""Programming model: weights -> target conductances -> the write-verify result.

The error each cell is left with comes from simulated write-verify: ``pycim/data/
programming_error.json``, fitted by :func:`pycim.characterize.write_verify.fit_programming_error`
from ``characterization/results/write_verify`` (one 1T1R cell, ngspice, ``rram_skywater`` with
SkyWater's parameters and the SKY130 access FET, the chip's SET/RESET ladders).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from ..errors import InputError
from ..validate import check_int, number
from .mapping import weights_to_conductances

SCHEMA = "pycim.programming_error/1"


@dataclass(frozen=True)
class Programmed:
    g_pos_s: np.ndarray
    g_neg_s: np.ndarray


@dataclass(frozen=True)
class ProgrammingError:
    """Final-G error of write-verify: mean(target) = intercept + slope * target, spread
    ``std_s``, standardised shape from the empirical quantiles ``z_quantiles`` at ``probs``;
    measured at verify tolerance ``tol_s``."""

    tol_s: float
    mean_intercept_s: float
    mean_slope: float
    std_s: float
    probs: tuple[float, ...]
    z_quantiles: tuple[float, ...]
    source: str

    @classmethod
    def from_dict(cls, d: dict) -> "ProgrammingError":
        if d.get("schema") != SCHEMA:
            raise InputError(f"programming error file: schema {d.get('schema')!r}, "
                             f"expected {SCHEMA!r}")
        f = d["fit"]
        p, q = tuple(map(float, f["probs"])), tuple(map(float, f["z_quantiles"]))
        if len(p) != len(q) or len(p) < 2 or p[0] != 0.0 or p[-1] != 1.0 \
                or any(b < a for a, b in zip(p, p[1:])) or any(b < a for a, b in zip(q, q[1:])):
            raise InputError("programming error file: probs/z_quantiles must be increasing, "
                             "same length, probs from 0 to 1")
        vals = (float(d["tol_s"]), float(f["mean_intercept_s"]), float(f["mean_slope"]),
                float(f["std_s"]))
        if not all(np.isfinite(vals)) or vals[0] <= 0 or vals[3] < 0:
            raise InputError("programming error file: tol_s > 0, finite fit, std_s >= 0 needed")
        return cls(*vals, p, q, str(d.get("source", "")))

    def sample_s(self, target_s: np.ndarray, u: np.ndarray, tol_s: float) -> np.ndarray:
        """Errors for cells with targets ``target_s`` from uniform draws ``u`` in [0, 1).

        The measured error scales with the verify band (``tol_s / self.tol_s``; an assumption:
        only the 1 uS band was simulated) and stays inside +-tol_s: the verify loop stops only
        there (the fitted tails can reach past it by a few percent of the band).
        """
        k = tol_s / self.tol_s
        z = np.interp(u, self.probs, self.z_quantiles)
        e = k * (self.mean_intercept_s + self.mean_slope * target_s + self.std_s * z)
        return np.clip(e, -tol_s, tol_s)


@lru_cache(maxsize=1)
def programming_error() -> ProgrammingError:
    """The packaged programming-error fit (``pycim/data/programming_error.json``)."""
    text = resources.files("pycim.data").joinpath("programming_error.json").read_text()
    return ProgrammingError.from_dict(json.loads(text))


#: widest write-verify band the programming model takes (S): its error fit is of a 1 uS band,
#: scaled with the band (an assumption); 10 uS is a tenth of the cell's range
MAX_TOL_S = 10e-6


def check_seed(seed: int, what: str = "--seed") -> int:
    """A random seed: an integer >= 0 (Python or numpy; not bool), returned as int."""
    return check_int(seed, what)


def check_tol_s(tol_s: float, what: str = "tol_s") -> float:
    """A write-verify band: a number in 0..MAX_TOL_S S (not bool)."""
    if isinstance(tol_s, (bool, np.bool_, str, bytes)):
        raise InputError(f"{what} must be a number in 0..10e-6 S, got {tol_s!r}")
    return number(tol_s, f"{what} (S)", lo=0.0, hi=MAX_TOL_S)


def program(w: np.ndarray, seed: int, noise: bool = True, tol_s: float = 1e-6) -> Programmed:
    """Write-verify programming model shared by every engine.

    Targets from the differential mapping; each cell's final conductance is its target plus an
    error drawn (seeded) from the simulated write-verify's final-G error distribution
    (:func:`programming_error`), within +-tol_s (authors' code: +-1 uS). Same seed, same
    conductances, whatever the engine. ``seed``: an integer >= 0; ``tol_s``: 0..10e-6 S.
    """
    seed = check_seed(seed, "seed")
    tol_s = check_tol_s(tol_s)
    gp, gn = weights_to_conductances(w)
    if noise:
        rng = np.random.default_rng(seed)
        u = rng.random((2,) + gp.shape)
        e = programming_error().sample_s(np.stack([gp, gn]), u, tol_s)
        gp = np.maximum(gp + e[0], 0.5e-6)
        gn = np.maximum(gn + e[1], 0.5e-6)
    return Programmed(gp, gn)

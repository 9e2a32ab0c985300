"""The energy fit with and without :data:`pycim.fit.fits.DRIVER_TIE` on the same MVMs.

    PYTHONPATH=. python benchmarks/energy_tie.py [RESULTS_DIR ...]

Until the twentieth round the fit stage tied a sensed line's driver energy to a third of a
driven line's (``e_drv_col = e_drv_row / 3``: its sweeps were square, rows and columns
collinear). The sweeps now hold 128 x 256 cores and 8-row backward arrays, which separate
them. This prints, for both fits on every vector of the fit sweeps (default:
characterization/results/fit, fit_full, fit_sparse, fit_mid, fit_fine; base: the packaged
model), the drivers' coefficients and each group's relative residual RMS / max, and the
total's per direction: the evidence for fitting every coefficient free.
"""

from __future__ import annotations

import sys
import warnings

from benchmarks.fit_data import mvm_fit_table


def main(argv: list[str]) -> None:
    from pycim.fit.fits import DRIVER_TIE, energy_rows, fit_energy_rows, mvm_points
    from pycim.macro.model import MacroModel

    df = mvm_fit_table(argv)
    base = MacroModel.load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = energy_rows(mvm_points(df))
    for name, ties in (("tied (e_drv_col = e_drv_row / 3)", DRIVER_TIE), ("free", None)):
        params, fits = fit_energy_rows(rows, base, ties)
        drv = ", ".join(f"{k} {v * 1e12:.3f} pJ" for k, v in params.items() if "drv" in k)
        print(f"{name}: {drv}")
        for f in fits:
            by = "".join(f"; {d} {v['rms']:.4f} / {v['max']:.4f}"
                         for d, v in (f.by_direction or {}).items())
            print(f"  {f.name:18s} rms {f.rms:.4f} max {f.max:.4f} (n {f.n}){by}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""The fit sweeps' committed results, for the benchmarks that read them."""

from __future__ import annotations

from pathlib import Path

#: the sweeps ``make fit`` fits the packaged model on (characterization/results/<name>)
RESULTS = ("fit", "fit_full", "fit_sparse", "fit_mid", "fit_fine")
ROOT = Path(__file__).resolve().parents[1] / "characterization" / "results"


def result_dirs(dirs=None) -> list[str]:
    """``dirs``, or the committed fit sweeps' directories when empty."""
    return list(dirs) if dirs else [str(ROOT / r) for r in RESULTS]


def mvm_fit_table(dirs=None):
    """The ``mvm_fit`` tables of ``dirs`` (default: :func:`result_dirs`), joined."""
    import pandas as pd

    from pycim.characterize.tables import load_results

    return pd.concat([load_results(d)["mvm_fit"] for d in result_dirs(dirs)],
                     ignore_index=True)

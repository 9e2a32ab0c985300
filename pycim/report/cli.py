"""``pycim report``: thin wrapper that prints where the report went and its headline numbers."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def run_report_cli(out: str, results: str | None, resimulate: bool, jobs: int | None) -> int:
    from .build import resimulate as rerun
    from .build import write_report

    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs must be >= 1, got {jobs}")
    if resimulate:
        if results is not None:
            raise InputError("--results and --resimulate exclude each other (resimulated "
                             "results go to OUT/sweep)")
        results = str(rerun(Path(out), jobs=jobs))
    j, h, nums = write_report(out, results)
    print("in bits  sim TOPS/W  paper TOPS/W  sim/paper")
    for b in sorted(nums["tops_per_w"], key=int):
        print(f"{b:>7}  {nums['tops_per_w'][b]:10.3g}  "
              f"{nums['paper']['tops_per_w'][b]['value']:12.4g}  "
              f"{nums['ratio_sim_over_paper']['tops_per_w'][b]:9.3g}")
    print(f"-> {h}\n-> {j}")
    return 0

"""``pycim report``: argument phase (every argument checked, both outputs reserved), then the
report: build the numbers and plots, write report.json and report.html, print the headline."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import InputError


def prepare_report(out: str, results: str | None, resimulate: bool, jobs: int | None, outs):
    """Check every argument and reserve ``OUT/report.json`` and ``OUT/report.html`` in ``outs``
    (:class:`pycim.files.Outputs`) before any work; return the work."""
    from ..characterize.tables import verify_results
    from ..files import check_output_dir
    from .build import DEFAULT_RESULTS

    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs must be >= 1, got {jobs}")
    if resimulate and results is not None:
        raise InputError("--results and --resimulate exclude each other (resimulated "
                         "results go to OUT/sweep)")
    if jobs is not None and not resimulate:
        raise InputError("--jobs is only used with --resimulate")
    if not resimulate:
        verify_results(DEFAULT_RESULTS if results is None else results)
        outs.inputs.append(("--results", DEFAULT_RESULTS if results is None else results))
    check_output_dir(out, "--out", outs.inputs)
    o_json = outs.file(Path(out) / "report.json", "--out", make_parents=True)
    o_html = outs.file(Path(out) / "report.html", "--out", make_parents=True)

    def work() -> int:
        from .build import build_numbers, report_json
        from .build import resimulate as rerun
        from .html import render_html
        from .plots import make_plots

        res = str(rerun(Path(out), jobs=jobs)) if resimulate else results
        t0 = time.perf_counter()
        nums = build_numbers(res)
        plots = make_plots(nums)
        o_json.write_text(report_json(nums))
        o_html.write_text(render_html(nums, plots, build_s=time.perf_counter() - t0))
        print("in bits  sim TOPS/W  paper TOPS/W  sim/paper")
        for b in sorted(nums["tops_per_w"], key=int):
            print(f"{b:>7}  {nums['tops_per_w'][b]:10.3g}  "
                  f"{nums['paper']['tops_per_w'][b]['value']:12.4g}  "
                  f"{nums['ratio_sim_over_paper']['tops_per_w'][b]:9.3g}")
        if nums["extrapolated_in_bits"]:
            print(f"note: {nums['extrapolation_note']}")
        print(f"-> {o_html.path}\n-> {o_json.path}")
        return 0
    return work


def run_report_cli(out: str, results: str | None, resimulate: bool, jobs: int | None) -> int:
    from ..files import Outputs

    with Outputs() as outs:
        rc = prepare_report(out, results, resimulate, jobs, outs)()
        outs.commit()
    return rc

"""pycim benchmarks: how fast and how big, each figure measured in this run.

Run with ``make bench``. Writes ``benchmarks/results.json`` and ``benchmarks/results.md``.
Each simulation case runs in a fresh child Python process so that the peak RSS of its simulator
(``getrusage(RUSAGE_CHILDREN).ru_maxrss``) belongs to that case alone. A missed target makes the
run exit 1 (benchmarks, not tests, carry speed targets).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from benchmarks.cases import CASES
t0 = time.perf_counter()
extra = CASES[{case!r}](**{kwargs!r}) or {{}}
wall = time.perf_counter() - t0
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
me = resource.getrusage(resource.RUSAGE_SELF)
rss, self_rss = ch.ru_maxrss * 1024, me.ru_maxrss * 1024
cpu = ch.ru_utime + ch.ru_stime + me.ru_utime + me.ru_stime  # contention-independent work
print("RESULT " + json.dumps({{"wall_s": wall, "cpu_s": cpu, "child_peak_rss_b": rss, "self_peak_rss_b": self_rss, **extra}}))
"""


def run_case(case: str, timeout_s: float = 3600, root: Path | None = None, **kwargs) -> dict:
    """Run benchmark case ``case`` in a fresh child process; ``root``: the tree whose
    ``benchmarks.cases`` and ``pycim`` it imports (default this one)."""
    code = CHILD.format(root=str(root or HERE.parent), case=case, kwargs=kwargs)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=timeout_s)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"case {case} {kwargs} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")


def machine() -> dict:
    import numpy

    from pycim import __version__, toolchain

    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "numpy": numpy.__version__, "pycim": __version__,
            "ngspice": toolchain.ngspice_version()[1], "date": time.strftime("%Y-%m-%d")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 256 x 256 cases")
    ap.add_argument("--only", nargs="*",
                    help="run only these groups; the other groups' figures already in "
                         "results.json are kept (each group records its own machine and date)")
    ap.add_argument("--render", action="store_true",
                    help="run nothing: rewrite results.md from results.json")
    args = ap.parse_args(argv)
    if args.render:
        results = json.loads((HERE / "results.json").read_text())
        (HERE / "results.md").write_text(markdown(results))
        print(f"wrote {HERE / 'results.md'}")
        return 0
    from benchmarks.groups import GROUPS

    unknown = sorted(set(args.only or ()) - set(GROUPS))
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    mine = {"machine": machine(), "figures": {}, "targets": [], "group_machine": {}}
    for name, group in GROUPS.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}", flush=True)
        figs, targets = group(run_case, quick=args.quick)
        mine["figures"][name] = figs
        mine["group_machine"][name] = mine["machine"]
        for t in targets:
            t["group"] = name
            print(f"   {'ok  ' if t['met'] else 'MISS'} {t['what']}: {t['value']:.4g} "
                  f"(target {t['target']})", flush=True)
        mine["targets"].extend(targets)
        # after every group; --only keeps the other groups, --quick the cases it skipped
        write(mine, keep_others=bool(args.only), keep_cases=args.quick)
    print(f"wrote {HERE / 'results.json'} and {HERE / 'results.md'}")
    return 0 if all(t["met"] for t in mine["targets"]) else 1


def write(mine: dict, keep_others: bool, keep_cases: bool = False) -> None:
    """Write this run's groups; with ``keep_others`` (``--only``), merge them into the groups
    results.json holds at this moment (read now, so concurrent ``--only`` runs of different
    groups do not drop each other's figures). With ``keep_cases`` (``--quick``), the cases a
    group skipped keep their earlier figures (and targets), marked ``"carried_over": true``,
    so a quick rerun never drops the larger cases other code reads."""
    from benchmarks.groups import GROUPS

    results = {"machine": mine["machine"], "figures": {}, "targets": [], "group_machine": {}}
    old = HERE / "results.json"
    if keep_others and old.is_file():
        prev = json.loads(old.read_text())
        keep = [g for g in prev.get("figures", {}) if g not in mine["figures"] and g in GROUPS]
        results["figures"] = {g: prev["figures"][g] for g in keep}
        results["targets"] = [t for t in prev.get("targets", []) if t.get("group") in keep]
        results["group_machine"] = {g: prev.get("group_machine", {}).get(g, prev["machine"])
                                    for g in keep}
    figures = {g: dict(c) for g, c in mine["figures"].items()}
    targets = list(mine["targets"])
    if keep_cases and old.is_file():
        prev = json.loads(old.read_text())
        for g, cases in figures.items():
            for case, vals in prev.get("figures", {}).get(g, {}).items():
                if case not in cases:
                    cases[case] = {**vals, "carried_over": True}
            seen = {t["what"] for t in targets if t.get("group") == g}
            targets += [t for t in prev.get("targets", [])
                        if t.get("group") == g and t["what"] not in seen]
    results["figures"].update(figures)
    results["targets"] += targets
    results["group_machine"].update(mine["group_machine"])
    for name, text in (("results.json", json.dumps(results, indent=1) + "\n"),
                       ("results.md", markdown(results))):
        tmp = HERE / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(text)
        tmp.replace(HERE / name)


def _cell(text) -> str:
    """A markdown table cell: pipes escaped (target names such as '|ratio - 1|')."""
    return str(text).replace("|", "\\|")


def markdown(results: dict) -> str:
    m = results["machine"]
    out = ["# pycim benchmark results", "",
           f"{m['date']}, {m['cpus']} CPUs, Python {m['python']}, {m['ngspice']}, pycim {m['pycim']}",
           ""]
    missed = [t for t in results["targets"] if not t["met"]]
    out += [f"{len(results['targets']) - len(missed)} of {len(results['targets'])} targets met"
            + (" (all in the table at the end)." if not missed else "; missed:"), ""]
    if missed:
        out += ["| group | target | value | limit |", "|---|---|---|---|"]
        out += [f"| {t.get('group', '')} | {_cell(t['what'])} | {t['value']:.4g} | "
                f"{_cell(t['target'])} |" for t in missed]
        out.append("")
    for name, figs in results["figures"].items():
        out += [f"## {name}", "", "| case | figure | value |", "|---|---|---|"]
        for case, vals in figs.items():
            for k, v in vals.items():
                out.append(f"| {_cell(case)} | {_cell(k)} | {v:.4g} |" if isinstance(v, float)
                           else f"| {_cell(case)} | {_cell(k)} | {_cell(v)} |")
        out.append("")
    out += ["## targets", "", "| target | value | limit | met |", "|---|---|---|---|"]
    for t in results["targets"]:
        out.append(f"| {_cell(t['what'])} | {t['value']:.4g} | {_cell(t['target'])} | "
                   f"{'yes' if t['met'] else 'NO'} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())

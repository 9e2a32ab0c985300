"""benchmarks/run.py keeps what a partial run did not rerun: other groups with ``--only``, the
skipped cases of a group with ``--quick`` (tests and the report read the larger cases)."""
import json

import benchmarks.run as run


def _mine(cases: dict, targets=()) -> dict:
    m = {"machine": {"date": "d"}, "figures": {"g": cases}, "targets": list(targets),
         "group_machine": {"g": {"date": "d"}}}
    for t in m["targets"]:
        t["group"] = "g"
    return m


def test_quick_rerun_keeps_skipped_cases(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "HERE", tmp_path)
    monkeypatch.setattr(run, "markdown", lambda r: "")
    monkeypatch.setattr("benchmarks.groups.GROUPS", {"g": None})
    run.write(_mine({"small": {"x": 1.0}, "big": {"x": 2.0}},
                    [{"what": "big ok", "value": 1, "target": 2, "met": True}]), False)
    run.write(_mine({"small": {"x": 3.0}}), False, keep_cases=True)
    d = json.loads((tmp_path / "results.json").read_text())
    assert d["figures"]["g"]["small"] == {"x": 3.0}
    assert d["figures"]["g"]["big"] == {"x": 2.0, "carried_over": True}
    assert [t["what"] for t in d["targets"]] == ["big ok"]
    run.write(_mine({"small": {"x": 4.0}}), False)  # a full run replaces the group
    d = json.loads((tmp_path / "results.json").read_text())
    assert set(d["figures"]["g"]) == {"small"}


def test_markdown_opens_with_the_missed_targets_and_keeps_table_cells():
    """results.md: the count of met targets and a table of the missed ones before the groups;
    a pipe inside a target's name ('|ratio - 1|') is escaped, so every table row keeps its
    columns."""
    targets = [{"what": "a ok", "value": 1.0, "target": "<= 2", "met": True, "group": "g"},
               {"what": "energy |ratio - 1|", "value": 0.5, "target": "<= 0.05", "met": False,
                "group": "g"}]
    m = {"machine": {"date": "d", "cpus": 2, "python": "3", "ngspice": "n", "pycim": "p"},
         "figures": {"g": {"c|1": {"x": 1.0}}}, "targets": targets}
    text = run.markdown(m)
    assert text.index("1 of 2 targets met; missed:") < text.index("## g")
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")]
    # a row's columns: its pipes that are not escaped
    cols = {ln: ln.replace("\\|", "").count("|") - 1 for ln in rows}
    assert set(cols.values()) <= {3, 4}, cols
    missed = [ln for ln in rows if "ratio - 1" in ln]
    assert len(missed) == 2 and all("\\|ratio - 1\\|" in ln for ln in missed)
    assert "| g | energy \\|ratio - 1\\| | 0.5 | <= 0.05 |" in missed
    assert "all in the table" in run.markdown({**m, "targets": targets[:1]})

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

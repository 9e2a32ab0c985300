"""Results integrity and the per-kind column checks (pycim.files.verify_manifest,
pycim.characterize.tables.check_table): tampered copies of the committed results are refused
with one line naming the file, table, column and value."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pycim.characterize.tables import ResultIntegrityError, load_results, verify_results
from pycim.errors import InputError
from pycim.files import MANIFEST, sha256_file, write_manifest

RESULTS = Path(__file__).resolve().parents[1] / "characterization" / "results"


def _copy(tmp_path: Path, src: str, name: str = "res") -> Path:
    d = tmp_path / name
    shutil.copytree(RESULTS / src, d)
    return d


def _rehash(d: Path) -> None:
    doc = json.loads((d / MANIFEST).read_text())
    write_manifest(d, [d / n for n in doc["files"]])


def _tamper(tmp_path, fn, src="report", table="energy_per_mac", name="res") -> Path:
    d = _copy(tmp_path, src, name)
    p = d / f"{table}.parquet"
    fn(pd.read_parquet(p)).to_parquet(p, index=False)
    _rehash(d)
    return d


def _set(col, value, row=3):
    def fn(df):
        if isinstance(value, str):  # the whole column stored as strings
            df[col] = df[col].astype(str).str.lower()
            return df
        if not np.issubdtype(df[col].dtype, np.floating):
            df[col] = df[col].astype(float)
        df.loc[row, col] = value
        return df
    return fn


def test_sha256_is_chunked_and_matches(tmp_path, monkeypatch):
    import hashlib

    import pycim.files as files

    p = tmp_path / "f.bin"
    data = np.random.default_rng(0).bytes(3 * files.HASH_CHUNK + 17)
    p.write_bytes(data)
    reads = []
    real_open = open

    class Spy:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            reads.append(n)
            return self.f.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    monkeypatch.setattr(files, "open", lambda *a, **k: Spy(real_open(*a, **k)), raising=False)
    assert sha256_file(p) == hashlib.sha256(data).hexdigest()
    assert reads and all(0 < n <= files.HASH_CHUNK for n in reads)


def test_manifest_schema_is_checked(tmp_path):
    d = _copy(tmp_path, "report")
    doc = json.loads((d / MANIFEST).read_text())
    doc["schema"] = "bogus/9"
    (d / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(ResultIntegrityError, match=r"manifest schema 'bogus/9'"):
        verify_results(d)


def test_symlinked_results_file_is_refused(tmp_path):
    d = _copy(tmp_path, "report")
    outside = tmp_path / "outside.parquet"
    shutil.move(d / "energy_per_mac.parquet", outside)
    (d / "energy_per_mac.parquet").symlink_to(outside)  # same bytes: the checksum matches
    assert sha256_file(d / "energy_per_mac.parquet") == sha256_file(outside)
    with pytest.raises(ResultIntegrityError, match=r"energy_per_mac\.parquet: .*symbolic link"):
        verify_results(d)


@pytest.mark.parametrize("col,value,needle", [
    ("e_total_j", np.inf, r"'e_total_j' must be finite: row 3 holds inf"),
    ("e_neuron_j", np.nan, r"'e_neuron_j' must be finite"),
    ("e_neuron_j", -1e-9, r"'e_neuron_j' must be >= 0"),
    ("latency_s", np.nan, r"'latency_s' must be finite"),
    ("latency_s", -1e-6, r"'latency_s' must be > 0"),
    ("macs", 0, r"'macs' must be > 0"),
    ("macs", 17, r"'macs' must be n_in x n_out"),
    ("in_bits", 99, r"'in_bits' must be <= 8: row 3 holds 99"),
    ("n_in", 4.5, r"'n_in' must be integral: row 3 holds 4.5"),
    ("e_total_j", "strings", r"'e_total_j' must be numeric, has dtype"),
    ("ideal", "strings", r"'ideal' must be bool"),
    ("e_total_j", 1.0, r"'e_total_j' must equal the sum"),
])
def test_report_table_refuses_bad_values(tmp_path, col, value, needle):
    d = _tamper(tmp_path, _set(col, value))
    with pytest.raises(InputError, match=r"energy_per_mac\.parquet: energy_per_mac table column "
                       + needle):
        load_results(d)


def test_duplicate_point_within_one_directory_is_refused(tmp_path):
    d = _tamper(tmp_path, lambda df: pd.concat([df, df.iloc[[5]]], ignore_index=True))
    with pytest.raises(InputError, match=r"energy_per_mac table row 26 repeats row 5 .*the "
                                         r"same point twice is refused"):
        load_results(d)


@pytest.mark.parametrize("col,value,needle", [
    ("v_settled_v", np.inf, r"'v_settled_v' must be finite"),
    ("v_settled_v", 1e6, r"'v_settled_v' must be <= 5"),
    ("code", np.inf, None),
    ("e_total_j", np.nan, None),
])
def test_fit_table_refuses_bad_values(tmp_path, col, value, needle):
    def fn(df):
        rec = {"v_settled_v": "line", "code": "code", "e_total_j": "energy"}[col]
        i = df.index[df["record"] == rec][0]
        df.loc[i, col] = value
        return df
    d = _tamper(tmp_path, fn, src="fit_mid", table="mvm_fit")
    with pytest.raises(InputError, match=r"mvm_fit table column " + (needle or f"'{col}' must")):
        load_results(d)


def test_mvm_fit_row_outside_its_point_is_refused(tmp_path):
    from pycim.fit.fits import mvm_points

    def fn(df):
        df.loc[df.index[df["record"] == "line"][0], "output"] = 999.0
        return df
    d = _tamper(tmp_path, fn, src="fit_mid", table="mvm_fit")
    with pytest.raises(InputError, match=r"column 'output' holds 999, outside 0\.\."):
        mvm_points(load_results(d)["mvm_fit"])


def test_every_committed_results_directory_verifies_and_loads():
    for d in sorted(p for p in RESULTS.iterdir() if p.is_dir()):
        assert verify_results(d)  # the held-out records too
        if d.name != "full_core_held_out":
            assert load_results(d)


# ---- held-out full cores, the report's JSON and HTML -----------------------------------------

def _results_root_copy(tmp_path, monkeypatch, dirs=("fit_full", "fit_sparse",
                                                    "full_core_held_out")) -> Path:
    from pycim.report import data

    root = tmp_path / "root"
    root.mkdir()
    for n in dirs:
        shutil.copytree(RESULTS / n, root / n)
    monkeypatch.setattr(data, "_results_root", lambda: root)
    return root


def _edit_record(d: Path, name: str, fn, rehash: bool = True) -> None:
    p = d / name
    r = json.loads(p.read_text())
    fn(r)
    p.write_text(json.dumps(r))
    if rehash:
        _rehash(d)


def test_held_out_records_are_read_through_their_manifest(tmp_path, monkeypatch):
    from pycim.report import data

    root = _results_root_copy(tmp_path, monkeypatch, ("full_core_held_out",))
    ho = root / "full_core_held_out"
    assert [n for n, _ in data.held_out_records()] == sorted(
        p.name for p in (RESULTS / "full_core_held_out").glob("spice_*.json"))
    name = sorted(ho.glob("spice_*.json"))[1].name
    _edit_record(ho, name, lambda r: r["energy_j"].update(total=r["energy_j"]["total"] * 0.99),
                 rehash=False)
    with pytest.raises(ResultIntegrityError, match=name + r": checksum mismatch"):
        data.held_out_records()
    _rehash(ho)
    shutil.copy(ho / name, ho / "spice_extra.json")
    with pytest.raises(ResultIntegrityError, match=r"spice_extra\.json is not in its manifest"):
        data.held_out_records()
    (ho / "spice_extra.json").unlink()
    (ho / MANIFEST).unlink()
    with pytest.raises(ResultIntegrityError, match=r"full_core_held_out: no manifest\.json"):
        data.held_out_records()


@pytest.mark.parametrize("key,value,needle", [
    ("total", float("nan"), r"'total' must be a finite number > 0.0, got nan"),
    ("total", -1.0, r"'total' must be a finite number > 0.0"),
    ("direction", "<script>x</script>", r"'direction' must be a string in"),
    ("in_bits", 4.5, r"'in_bits' must be an integer"),
])
def test_held_out_record_values_are_checked(tmp_path, monkeypatch, key, value, needle):
    from pycim.report import data

    ho = _results_root_copy(tmp_path, monkeypatch, ("full_core_held_out",)) / "full_core_held_out"
    name = sorted(ho.glob("spice_*.json"))[-1].name  # not the first: max() would skip a NaN
    _edit_record(ho, name, lambda r: (r["energy_j"] if key == "total" else r).update({key: value}))
    with pytest.raises(InputError, match=re.escape(name) + r": held-out record " + needle):
        data.held_out_records()


def test_html_escapes_every_data_string():
    from pycim.report.build import report_json
    from pycim.report.html import render_html

    evil = "<img src=x onerror=alert(1)>"
    nums = json.loads(json.dumps(_nums_cached()))
    nums["full_core"]["held_out"][0].update(file=evil, direction=evil)
    nums["measured"][0]["n_in"] = evil
    nums["explanations"]["4"] = evil
    nums["process_notes"][0]["note"] = evil
    nums["assumptions"][0]["reason"] = evil
    nums["sensitivity"]["skipped"] = [{"assumption": evil, "label": evil, "reason": evil}]
    nums["results_manifest_sha256"] = evil
    nums["comparisons"][0]["source"] = evil
    html = render_html(nums, [(k, k, b"") for k in ("efficiency", "ratio", "in_out", "breakdown",
                                                    "latency", "fit", "sensitivity")])
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert report_json(nums)  # strings are fine in JSON


_NUMS = {}


def _nums_cached():
    from pycim.report import build

    if "n" not in _NUMS:
        _NUMS["n"] = build.build_numbers()
    return _NUMS["n"]


def test_report_json_refuses_non_finite_values():
    from pycim.report.build import report_json

    nums = json.loads(json.dumps(_nums_cached()))
    nums["core"]["3"]["edp_js"] = float("inf")
    with pytest.raises(InputError, match=r"report: core\.3\.edp_js is not a finite number"):
        report_json(nums)
    assert "NaN" not in report_json(_nums_cached())


def test_report_flags_extrapolated_widths_and_committed_report_has_none():
    nums = _nums_cached()
    assert nums["measured_in_bits"] == list(range(1, 9)) and nums["extrapolated_in_bits"] == []
    assert nums["sensitivity"]["skipped"] == [] and nums["full_core"]["dirs_missing"] == []
    notes = {n["item"]: n["note"] for n in nums["process_notes"]}
    assert "capped" not in json.dumps(notes) and "one-phase throughout" not in notes[
        "input scheme"]
    assert nums["out_bits"]["8"] == 10 and "up to 10 bits" in notes["ADC width"]


def test_report_on_a_subset_flags_extrapolation_and_skips_undefined_sensitivity(tmp_path):
    """Only in_bits >= 5 rows: the fit may set p_neuron_on_w to 0, and the OTA-bias rule would
    make it negative: left out with its reason, not a crash; widths 1-4 flagged."""
    from pycim.report import build

    d = _tamper(tmp_path, lambda df: df[df["in_bits"] >= 5].reset_index(drop=True))
    nums = build.build_numbers(d)
    assert nums["measured_in_bits"] == [5, 6, 7, 8]
    assert nums["extrapolated_in_bits"] == [1, 2, 3, 4]
    skipped = {s["assumption"]: s["reason"] for s in nums["sensitivity"]["skipped"]}
    assert "neuron_ibias_a" in skipped and "negative" in skipped["neuron_ibias_a"]
    assert {r["assumption"] for r in nums["sensitivity"]["rows"]}.isdisjoint(skipped)
    build.report_json(nums)


def test_fit_energy_model_latency_check_is_not_bypassed():
    from pycim.report import data

    df = data.load_energy_table(RESULTS / "report")
    for bad in (float("nan"), -1.0):
        d2 = df.copy()
        d2.loc[2, "latency_s"] = bad if bad != -1.0 else -d2.loc[2, "latency_s"]
        with pytest.raises(InputError, match=r"row 2 .*simulated latency_s .*differs"):
            data.fit_energy_model(d2, full_cores=False)


def test_full_core_dirs_absent_are_reported_and_unverified_refused(tmp_path, monkeypatch):
    from pycim.report import data

    root = _results_root_copy(tmp_path, monkeypatch, ("fit_full",))
    missing = []
    rows = data.full_core_rows(missing)
    assert rows and missing == ["fit_sparse"]
    (root / "fit_sparse").mkdir()  # present but with no manifest: refused, not skipped
    with pytest.raises(ResultIntegrityError, match=r"fit_sparse: no manifest\.json"):
        data.full_core_rows([])


# ---- pycim fit arguments -------------------------------------------------------------------

def test_fit_refuses_idle_polarity_drop_and_dirs_without_fit_tables(tmp_path):
    from pycim.fit import fit_results, prepare_fit
    from pycim.files import Outputs

    with pytest.raises(InputError, match=r"dr_drive_pos_ohm is a per-polarity term"):
        with Outputs() as outs:
            prepare_fit(RESULTS / "fit_mid", tmp_path / "m.json", outs=outs,
                        drop_terms=("dr_drive_pos_ohm",))
    with pytest.raises(InputError, match=r"report holds none of the tables pycim fit reads"):
        with Outputs() as outs:
            prepare_fit([RESULTS / "fit_mid", RESULTS / "report"], tmp_path / "m.json",
                        outs=outs)
    with pytest.raises(InputError, match=r"report holds none of the tables pycim fit reads"):
        fit_results(RESULTS / "fit_mid", RESULTS / "report")

"""OSDI compile cache: content-addressed, corrupt entries rebuilt, never used."""

import shutil

import pytest

from pycim import toolchain
from pycim.errors import CompileError, InputError
from pycim.netlist import testbench as tb
from pycim.sim import Op
from pycim.tech import va


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCIM_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "rram_linear.va"
    shutil.copy(toolchain.CIRCUITS_DIR / "rram_linear.va", src)
    return src


def test_same_source_same_entry_and_no_rebuild(cache):
    a = va.compile_va(cache)
    mtime = a.stat().st_mtime_ns
    b = va.compile_va(cache)
    assert a == b and b.stat().st_mtime_ns == mtime


def test_changed_source_gets_new_entry(cache):
    a = va.compile_va(cache)
    cache.write_text(cache.read_text().replace("10e-6 from", "11e-6 from"))
    b = va.compile_va(cache)
    assert a != b and a.exists() and b.exists()


def test_key_includes_compiler_version(cache, monkeypatch):
    a = va.osdi_cache_entry(cache)
    monkeypatch.setattr(toolchain, "openvaf_version", lambda: "openvaf-r 99")
    assert va.osdi_cache_entry(cache) != a


@pytest.mark.parametrize("damage", ["truncate", "flip", "sidecar"])
def test_corrupt_entry_is_rebuilt(cache, damage):
    entry = va.compile_va(cache)
    good = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(good[: len(good) // 2])
    elif damage == "flip":
        entry.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    else:
        entry.with_suffix(".sha256").write_text("0" * 64 + "\n")
    again = va.compile_va(cache)
    assert again == entry and again.read_bytes() == good


def test_compile_error_carries_diagnostics(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCIM_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "bad.va"
    bad.write_text('`include "disciplines.vams"\nmodule bad(a); inout a; electrical a;\n'
                   "analog I(a) <+ undefined_thing;\nendmodule\n")
    with pytest.raises(CompileError) as exc:
        va.compile_va(bad)
    assert "undefined_thing" in str(exc.value)
    assert not list((tmp_path / "cache" / "osdi").glob("bad-*.osdi"))


def test_missing_source_is_input_error(tmp_path):
    with pytest.raises(InputError):
        va.compile_va(tmp_path / "nope.va")


def test_compiled_model_runs(ngspice):
    res = ngspice.run(tb.cell_iv(0.5e-9), Op())
    assert "n1.gx" in res

""".ci/backports-source: the bookworm-backports APT entry is derived from the machine's own
Debian entry (URIs and keyring), on synthetic /etc/apt trees in a tmp dir (``--root``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "backports-source"
# a reserved, never-resolving host (RFC 2606): test data only, not a registry
MIRROR = "http://mirror.invalid/debian"
SECURITY = "http://mirror.invalid/debian-security"
KEYRING = "/usr/share/keyrings/test-archive-keyring.gpg"
OUT = Path("etc/apt/sources.list.d/pycim-bookworm-backports.sources")


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "root"
    (root / "etc/apt/sources.list.d").mkdir(parents=True)
    for rel, text in files.items():
        (root / rel).write_text(text)
    return root


def _run(root: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *extra],
                          capture_output=True, text=True, timeout=60, check=False)


def _fields(text: str) -> dict[str, str]:
    """One deb822 stanza, read independently of the script (continuations joined by \\n)."""
    out, key = {}, None
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t":
            out[key] += "\n" + line
            continue
        key, _, val = line.partition(":")
        out[key] = val.strip()
    return out


DEBIAN_SOURCES = f"""Types: deb
# a snapshot comment, as Debian's images write it
URIs: {MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: {KEYRING}

Types: deb
URIs: {SECURITY}
Suites: bookworm-security
Components: main
Signed-By: {KEYRING}
"""


def test_deb822_source_gives_uris_and_keyring(tmp_path):
    root = _tree(tmp_path, {"etc/apt/sources.list.d/debian.sources": DEBIAN_SOURCES})
    p = _run(root)
    assert p.returncode == 0, p.stderr
    f = _fields((root / OUT).read_text())
    assert f == {"Types": "deb", "URIs": MIRROR, "Suites": "bookworm-backports",
                 "Components": "main", "Signed-By": KEYRING}
    # idempotent: a second run finds the entry and writes nothing
    before = (root / OUT).read_bytes()
    p2 = _run(root)
    assert p2.returncode == 0 and "already configured" in p2.stdout
    assert (root / OUT).read_bytes() == before
    assert sorted(x.name for x in (root / OUT).parent.iterdir()) == [
        "debian.sources", OUT.name]  # no temp file left


def test_one_line_sources_list(tmp_path):
    text = (f"# deb {SECURITY} bookworm-security main\n"
            f"deb-src {MIRROR} bookworm main\n"
            f"deb [arch=amd64 signed-by={KEYRING}] {MIRROR} bookworm main contrib\n")
    root = _tree(tmp_path, {"etc/apt/sources.list": text})
    p = _run(root)
    assert p.returncode == 0, p.stderr
    f = _fields((root / OUT).read_text())
    assert f["URIs"] == MIRROR and f["Signed-By"] == KEYRING
    assert f["Suites"] == "bookworm-backports" and f["Components"] == "main"


def test_no_keyring_no_signed_by_and_several_uris(tmp_path):
    root = _tree(tmp_path, {"etc/apt/sources.list.d/m.sources":
                            f"Types: deb deb-src\nURIs: {MIRROR} {SECURITY}\n"
                            "Suites: bookworm\nComponents: main non-free-firmware\n"})
    assert _run(root).returncode == 0
    f = _fields((root / OUT).read_text())
    assert f["URIs"] == f"{MIRROR} {SECURITY}" and "Signed-By" not in f


def test_inline_key_is_copied_verbatim(tmp_path):
    key = (" -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZ\n"
           " -----END PGP PUBLIC KEY BLOCK-----")
    root = _tree(tmp_path, {"etc/apt/sources.list.d/d.sources":
                            f"Types: deb\nURIs: {MIRROR}\nSuites: bookworm\nComponents: main\n"
                            f"Signed-By:\n{key}\n"})
    assert _run(root).returncode == 0
    assert _fields((root / OUT).read_text())["Signed-By"] == "\n" + key


def test_existing_backports_entry_is_left_alone(tmp_path):
    root = _tree(tmp_path, {
        "etc/apt/sources.list.d/debian.sources": DEBIAN_SOURCES,
        "etc/apt/sources.list.d/bp.list": f"deb {MIRROR} bookworm-backports main\n"})
    p = _run(root)
    assert p.returncode == 0 and "bp.list" in p.stdout
    assert not (root / OUT).exists()


@pytest.mark.parametrize("files", [
    {},  # no APT sources at all
    {"etc/apt/sources.list": "deb http://mirror.invalid/ubuntu jammy main\n"},  # not Debian
    {"etc/apt/sources.list.d/d.sources":  # disabled
     f"Enabled: no\nTypes: deb\nURIs: {MIRROR}\nSuites: bookworm\nComponents: main\n"},
    {"etc/apt/sources.list": f"deb-src {MIRROR} bookworm main\n"},  # sources only
    {"etc/apt/sources.list": f"# deb {MIRROR} bookworm main\n"},  # commented out
], ids=["empty", "ubuntu", "disabled", "deb-src", "commented"])
def test_no_debian_source_fails_with_one_clear_line(tmp_path, files):
    root = _tree(tmp_path, files)
    p = _run(root)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert re.match(r"backports-source: no enabled Debian 'bookworm' source entry with "
                    r"component main in .*etc/apt/sources\.list", lines[0])
    assert "rerun" in lines[0] and "Traceback" not in p.stderr
    assert not (root / OUT).exists()


def test_bad_codename_and_unreadable_deb822(tmp_path):
    root = _tree(tmp_path, {"etc/apt/sources.list.d/x.sources": " orphan continuation\n"})
    p = _run(root)
    assert p.returncode == 1 and "x.sources" in p.stderr and "Traceback" not in p.stderr
    p = _run(root, "--codename", "Book worm")
    assert p.returncode == 2 and "--codename" in p.stderr


def test_project_writes_no_registry_host():
    """The Makefile and the script name no host: every URI comes from the machine."""
    for f in (ROOT / "Makefile", SCRIPT):
        text = f.read_text()
        assert not re.search(r"\w+://", text), f
        assert "debian.org" not in text, f

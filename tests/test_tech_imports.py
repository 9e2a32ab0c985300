"""pycim.tech imports nothing from pycim.netlist, counting imports inside functions (ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pycim.tech

TECH = Path(pycim.tech.__file__).parent


def _imported(path: Path) -> list[str]:
    """Absolute module names every import statement of ``path`` names (relative resolved)."""
    pkg = ["pycim", "tech"]
    out = []
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.Import):
            out += [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = pkg[:len(pkg) - n.level + 1] if n.level else []
            mod = ".".join(base + ([n.module] if n.module else []))
            out += [mod] + [f"{mod}.{a.name}" for a in n.names]
    return out


def test_tech_imports_nothing_from_netlist():
    files = sorted(TECH.glob("*.py"))
    assert len(files) >= 8  # rram, va, corners, sky130 and its four job modules, __init__
    for f in files:
        bad = [m for m in _imported(f) if m == "pycim.netlist" or m.startswith("pycim.netlist.")]
        assert not bad, f"{f.name} imports {bad}"


def test_the_walker_sees_relative_and_nested_imports(tmp_path):
    """The check would catch the old edge: a function-level ``from ..netlist.circuit import``."""
    p = tmp_path / "x.py"
    p.write_text("def f():\n    from ..netlist.circuit import Model\n    return Model\n")
    assert "pycim.netlist.circuit" in _imported(p)

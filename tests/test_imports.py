"""The package's import graph, read from the source with ``ast`` (imports inside functions
count): no cycle between pycim's sub-packages (or top-level modules), no cycle between the
modules of one sub-package, and the layering edges the architecture forbids are absent."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "pycim"
#: (importer, imported) sub-package edges the layering forbids: the numpy macro-model needs no
#: SPICE stage; tech (PDK and device models) sits below the netlist emitter; cim (the numpy CIM
#: math) sits below every stage that uses it.
FORBIDDEN = {("macro", s) for s in ("flows", "netlist", "sim", "characterize", "measure")} | {
    ("tech", "netlist"), ("tech", "sim"), ("tech", "flows"),
    *{("cim", s) for s in ("flows", "netlist", "sim", "characterize", "measure", "macro",
                            "fit", "report")}}


def _module_name(path: Path, pkg: Path = PKG) -> str:
    rel = path.relative_to(pkg.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, pkg: Path = PKG) -> set[str]:
    """Absolute names of the pycim modules ``path`` imports, anywhere in the file."""
    mod = _module_name(path, pkg)
    is_pkg = path.name == "__init__.py"
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("pycim")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[:len(base) - node.level + 1]
                name = ".".join(parent + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if not name.startswith("pycim"):
                continue
            out.add(name)
            for a in node.names:  # ``from . import x``: x may be a module
                if (pkg.parent / Path(*name.split("."), a.name)).with_suffix(".py").is_file() or \
                        (pkg.parent / Path(*name.split("."), a.name, "__init__.py")).is_file():
                    out.add(f"{name}.{a.name}")
    return out


def _unit(module: str) -> str:
    """The sub-package (or top-level module) a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pycim"


def graph(level: str = "unit", pkg: Path = PKG) -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for path in pkg.rglob("*.py"):
        mod = _module_name(path, pkg)
        src = _unit(mod) if level == "unit" else mod
        for imp in _imports(path, pkg):
            dst = _unit(imp) if level == "unit" else imp
            if dst != src and dst != "pycim":
                g.setdefault(src, set()).add(dst)
        g.setdefault(src, set())
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_walker_sees_known_edges():
    """The walker is not vacuous: it finds edges that exist, relative and absolute."""
    g = graph()
    assert "netlist" in g["flows"] and "cim" in g["macro"] and "sim" in g["flows"]


def test_walker_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_cycle_between_subpackages():
    assert cycles(graph("unit")) == []


def test_no_cycle_between_modules():
    """Also within one sub-package (e.g. a spec module and the module that registers kinds)."""
    g = {k: {v for v in vs if not k.startswith(v + ".") and not (k + ".").startswith(v + ".")}
         for k, vs in graph("module").items()}
    # a package's __init__ re-exporting its modules is not a cycle of two jobs
    g = {k: {v for v in vs if not (v == k.rsplit(".", 1)[0])} for k, vs in g.items()}
    assert cycles(g) == []


@pytest.mark.parametrize("edge", sorted(FORBIDDEN))
def test_forbidden_edge_absent(edge):
    src, dst = edge
    assert dst not in graph().get(src, set()), f"{src} imports {dst}"


if __name__ == "__main__":  # python tests/test_imports.py [PATH/TO/pycim]: the package graph
    import sys

    pkg = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else PKG
    g = graph("unit", pkg)
    for k in sorted(g):
        print(f"{k:>12} -> {', '.join(sorted(g[k])) or '-'}")
    print("cycles:", cycles(g) or "none")
    print("forbidden:", sorted(e for e in FORBIDDEN if e[1] in g.get(e[0], set())) or "none")

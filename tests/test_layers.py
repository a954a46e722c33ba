"""The package's layers, as docs/layout.md states them: every import (module level or inside a function) goes to the
module's own layer or a lower one, no two modules import each other even indirectly, and nothing imports the study
or benchmark scripts."""
import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "equidiff_relaxed"


def stated_layers() -> list[list[str]]:
    """The layer order of docs/layout.md's ``Layers, bottom up:`` line, e.g. ``base < symmetry < data < ...``; each
    layer a top-level module group (``base`` is the package's own root modules)."""
    text = (REPO / "docs" / "layout.md").read_text()
    found = re.search(r"^Layers, bottom up: `([^`]+)`", text, re.MULTILINE)
    assert found, "docs/layout.md states no 'Layers, bottom up: `...`' line"
    return [[name.strip() for name in layer.split("|")] for layer in found.group(1).split("<")]


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


def imports(path: Path) -> list[str]:
    """Every module named by an import statement of ``path``, wherever it stands (type-checking-only blocks aside)."""
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "base"


def test_every_import_goes_down_the_stated_layers():
    order = stated_layers()
    rank = {name: i for i, layer in enumerate(order) for name in layer}
    package_dirs = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert set(rank) == package_dirs | {"base"}, "docs/layout.md's layers must name every subpackage once"
    known = modules()
    upward = []
    for name, path in known.items():
        for target in imports(path):
            if target.split(".")[0] in ("benchmarks", "studies"):
                upward.append(f"{name} imports {target} (study and benchmark scripts are not part of the package)")
            if not target.startswith("equidiff_relaxed.") or target not in known:
                continue
            if rank[layer_of(target)] > rank[layer_of(name)]:
                upward.append(f"{name} ({layer_of(name)}) imports {target} ({layer_of(target)})")
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    known = modules()
    graph = {name: {t for t in imports(path) if t in known and t != name} for name, path in known.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not circles, "\n".join(circles)


def test_the_docs_layer_line_is_checked_against_a_violation(tmp_path):
    """The checker itself: an upward import in a scratch copy of one module is reported."""
    order = stated_layers()
    rank = {name: i for i, layer in enumerate(order) for name in layer}
    assert rank["symmetry"] < rank["data"] < rank["nn"] < rank["policy"] < rank["eval"] < rank["train"] < rank["cli"]
    scratch = tmp_path / "scratch.py"
    scratch.write_text("def f():\n    from equidiff_relaxed.train.run import fit\n")
    assert "equidiff_relaxed.train.run" in imports(scratch)  # found inside a function too
    assert rank[layer_of("equidiff_relaxed.train.run")] > rank[layer_of("equidiff_relaxed.data.windows")]

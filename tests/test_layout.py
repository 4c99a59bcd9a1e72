"""The layout docs/architecture.md describes: the domain never imports the readers or writers,
no module imports another's private names, no import circle, no module is over 400
lines, at most 12 modules at the top level, every module is in the doc."""

from __future__ import annotations

import ast

from conftest import ROOT

SRC = ROOT / "src" / "dp4kit"
DOMAIN = [SRC / "canonical.py", SRC / "dp4.py", SRC / "aggregate.py", SRC / "calendar.py",
          *(SRC / "rules").glob("*.py"), *(SRC / "dedup").glob("*.py")]  # fmt: skip


def imported(path) -> set[str]:
    """Modules a file imports, leaving out `if TYPE_CHECKING:` blocks (annotations only)."""
    found = set()

    def visit(node) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            return
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def test_the_domain_imports_neither_readers_nor_writers():
    def outside(module: str) -> bool:
        return module.startswith(("dp4kit.io", "dp4kit.outputs"))

    wrong = {p.relative_to(SRC).as_posix(): sorted(m for m in imported(p) if outside(m))
             for p in DOMAIN}  # fmt: skip
    assert {k: v for k, v in wrong.items() if v} == {}
    assert "dp4kit.canonical" in imported(SRC / "dp4.py")  # the check reads real imports


def test_no_module_is_over_400_lines():
    sizes = {p.relative_to(SRC).as_posix(): len(p.read_text().splitlines())
             for p in SRC.rglob("*.py")}  # fmt: skip
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_the_top_level_holds_at_most_12_modules():
    top = sorted(p.name for p in SRC.glob("*.py"))
    assert len(top) <= 12, top
    assert "dp4.py" in top  # the count reads the package's own folder


def test_every_module_is_in_the_architecture_doc():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    modules = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
               if p.name != "__init__.py" or p.parent.name == "outputs"]  # fmt: skip
    missing = [m for m in modules if f"`{m}`" not in doc and not m.startswith("reference/")]
    assert missing == []


def private_imports(path) -> list[str]:
    """The private names (`_name`, not `__version__`) a file imports from dp4kit's modules,
    anywhere in it."""
    return [f"{node.module}.{alias.name}" for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dp4kit")
            for alias in node.names
            if alias.name.startswith("_") and not alias.name.startswith("__")]  # fmt: skip


def test_no_module_imports_another_modules_private_names(tmp_path):
    wrong = {p.relative_to(SRC).as_posix(): private_imports(p) for p in SRC.rglob("*.py")}
    assert {k: v for k, v in wrong.items() if v} == {}
    probe = tmp_path / "probe.py"  # the check finds one where there is one, in a function too
    probe.write_text(
        "from dp4kit import __version__\n"
        "def f():\n    from dp4kit.regions.cross_regency import (\n        _x, y)\n"
    )
    assert private_imports(probe) == ["dp4kit.regions.cross_regency._x"]


def module_of(path, folder) -> str:
    """`dp4kit.io.readers` for `folder`/io/readers.py (`folder` being the package dp4kit)."""
    parts = [folder.name, *path.relative_to(folder).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_circles(folder) -> list[list[str]]:
    """The import circles among the modules under `folder` (every import, in functions too,
    but not `if TYPE_CHECKING:` ones), each as its modules sorted: strongly connected parts
    of the import graph (Tarjan's algorithm)."""
    modules = {module_of(p, folder): p for p in folder.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set(imported(path))
        for node in ast.walk(ast.parse(path.read_text())):  # `from dp4kit.cli import operations`
            if isinstance(node, ast.ImportFrom) and node.module:
                found.update(f"{node.module}.{a.name}" for a in node.names)
        graph[name] = sorted(m for m in found if m in modules and m != name)
    index, low, stack, circles = {}, {}, [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = stack[stack.index(v) :]
            del stack[stack.index(v) :]
            if len(part) > 1:
                circles.append(sorted(part))

    for v in graph:
        if v not in index:
            visit(v)
    return sorted(circles)


def test_no_import_circle(tmp_path):
    assert import_circles(SRC) == []
    (tmp_path / "dp4kit").mkdir()  # the check finds one where there is one, in a function too
    (tmp_path / "dp4kit" / "a.py").write_text("from dp4kit import b\n")
    (tmp_path / "dp4kit" / "b.py").write_text("def f():\n    from dp4kit.a import x\n")
    assert import_circles(tmp_path / "dp4kit") == [["dp4kit.a", "dp4kit.b"]]

"""The layout docs/architecture.md describes: the domain never imports the readers/writers."""

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


def test_the_domain_does_not_import_io():
    wrong = {p.relative_to(SRC).as_posix(): sorted(m for m in imported(p) if "dp4kit.io" in m)
             for p in DOMAIN}  # fmt: skip
    assert {k: v for k, v in wrong.items() if v} == {}
    assert "dp4kit.canonical" in imported(SRC / "dp4.py")  # the check reads real imports

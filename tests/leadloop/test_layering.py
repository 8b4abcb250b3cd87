"""The leaves (connectors, scoring, drafting) never import the app or the review system."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEAVES = ("connectors", "scoring", "drafting")
FORBIDDEN = ("leadloop", "review_api")


def imported_packages(source: str) -> set[str]:
    """The top-level package of every import in a module, however it is written."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value.split(".")[0])
    return found


@pytest.mark.parametrize("leaf", LEAVES)
def test_leaf_imports_nothing_of_the_app(leaf: str) -> None:
    offenders = []
    for module in sorted((ROOT / leaf).rglob("*.py")):
        wrong = imported_packages(module.read_text("utf-8")) & set(FORBIDDEN)
        if wrong:
            offenders.append(f"{module.relative_to(ROOT)} imports {', '.join(sorted(wrong))}")
    assert not offenders, offenders


def test_the_walker_sees_every_kind_of_import() -> None:
    source = ("import leadloop.cli\nfrom review_api.store import db\n"
              "def f():\n    from leadloop import x\n"
              "importlib.import_module('review_api.keys')\nfrom . import sibling\n")
    assert imported_packages(source) == {"leadloop", "review_api"}

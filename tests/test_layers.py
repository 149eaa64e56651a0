"""Imports point downward: bot -> handlers -> services -> storage (DESIGN.md, "Layers";
docs/decisions.md, "Structure"). A module that reaches up, or skips the services to
read rows itself, fails here rather than in a reader's head."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each layer must not import (top-level package names).
FORBIDDEN = {
    "storage": {"services", "handlers", "bot", "jobs"},
    "services": {"handlers", "bot", "jobs"},
    # Handlers are platform-neutral and reach the database through the services.
    "handlers": {"storage", "bot", "jobs", "telegram", "aiohttp"},
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_only_what_lies_below_it(layer: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[layer])
        for path in sorted((ROOT / layer).rglob("*.py"))
    }
    assert {name: found for name, found in wrong.items() if found} == {}

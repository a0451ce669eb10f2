"""Imports run one way: the ground below the index, the index below the entry points."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"cert_core", "ingest", "retrieval", "cert_assistant", "ui", "evals", "app"}

# What each layer may import of the project (besides itself).
ALLOWED = {
    "cert_core": set(),
    "ingest": {"cert_core"},
    "retrieval": {"cert_core", "ingest"},
}


def project_imports(path: Path) -> set[str]:
    """The project's top-level packages that one file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names)
    return found & PROJECT


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_lower_layer_never_imports_a_higher_one(layer):
    wrong = {
        str(path.relative_to(ROOT)): sorted(project_imports(path) - ALLOWED[layer] - {layer})
        for path in sorted((ROOT / layer).rglob("*.py"))
    }
    assert {path: names for path, names in wrong.items() if names} == {}


def test_project_imports_reads_both_import_forms(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import ingest.store\nfrom ui.chat import x\nfrom . import y\nimport os\n")
    assert project_imports(source) == {"ingest", "ui"}

"""Imports point one way (see docs/architecture.md); one module owns each third-party SDK."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "agentlab"
IMPLEMENTATIONS = {"llm", "sandbox", "tasks", "scoring", "budget", "store"}
# Foundation and packaged data: importable from anywhere, importing nothing above them.
FOUNDATION = {"types", "errors", "protocols", "datasets"}
# Layers that may import the implementation packages, lowest first.
UPPER = ["agent", "coordinator", "selection_runner", "viewer", "cli"]
# A third-party SDK and the only places allowed to import it.
SDK_OWNERS = {
    "docker": {"sandbox/docker.py"},
    "ray": {"coordinator/executors/ray.py"},
    "llama_cpp": {"llm/local.py"},
    "swebench": {"tasks/official.py"},
    "datasets": {"tasks/instances.py"},
}


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def _area(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py")


def _agentlab_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "agentlab" and len(parts) > 1:
                found.add(parts[1])
    return found


def _top_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_one_way(path: Path) -> None:
    area = _area(path)
    imported = _agentlab_imports(path) - {area}
    if area in FOUNDATION:
        assert imported <= FOUNDATION, f"{area} may import only {FOUNDATION}, got {imported}"
    elif area in IMPLEMENTATIONS:
        assert not imported & IMPLEMENTATIONS, (
            f"implementation package {area} imports {imported & IMPLEMENTATIONS}: go through "
            "agentlab.protocols and let the composition root wire them"
        )
        assert not imported & set(UPPER), f"{area} imports an upper layer: {imported}"
    elif area in UPPER:
        above = set(UPPER[UPPER.index(area) + 1 :])
        assert not imported & above, f"{area} imports a layer above it: {imported & above}"


@pytest.mark.parametrize("sdk", sorted(SDK_OWNERS))
def test_one_module_owns_each_sdk(sdk: str) -> None:
    importers = {str(p.relative_to(ROOT)) for p in _modules() if sdk in _top_imports(p)}
    assert importers <= SDK_OWNERS[sdk], f"{sdk} imported outside its owner: {importers}"

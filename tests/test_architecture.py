"""Imports point one way (see docs/architecture.md); one module owns each third-party SDK."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "agentlab"
IMPLEMENTATIONS = {"llm", "sandbox", "tasks", "scoring", "budget", "store"}
# Foundation and packaged data: importable from anywhere, importing nothing above them.
FOUNDATION = {"types", "errors", "protocols", "datasets", "text"}
# Layers that may import the implementation packages, lowest first.
UPPER = ["agent", "coordinator", "viewer", "cli"]
# A third-party SDK and the only places allowed to import it.
SDK_OWNERS = {
    "docker": {"sandbox/docker.py"},
    "ray": {"coordinator/executors/ray.py"},
    "llama_cpp": {"llm/local.py"},
    "swebench": {"tasks/official.py"},
    "datasets": {"tasks/hub.py"},
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


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_above_sandbox_names_a_provider_module(path: Path) -> None:
    """Sandboxes, images and reaping go through the provider seam (agentlab.sandbox)."""
    if _area(path) == "sandbox":
        return
    concrete = {"agentlab.sandbox.docker", "agentlab.sandbox.process"}
    concrete |= {f"agentlab.sandbox.provider_{name}" for name in ("docker", "process")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    assert not found & concrete, f"imports a concrete sandbox provider: {found & concrete}"


def test_kind_names_are_compared_only_in_their_kind() -> None:
    """No dataset-name comparison outside the kind modules and their registry."""
    allowed = {
        ROOT / "coordinator" / "kinds" / "humaneval.py",
        ROOT / "coordinator" / "kinds" / "__init__.py",
    }
    allowed.add(ROOT / "coordinator" / "evaluation" / "__init__.py")
    hits = [
        str(p.relative_to(ROOT))
        for p in _modules()
        if p not in allowed and '"humaneval"' in p.read_text()
    ]
    assert not hits, f"'humaneval' named outside its kind: {hits}"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _runtime_agentlab_imports(path: Path, modules: set[str]) -> set[str]:
    """Modules imported at run time, at the top or inside a function (a function-level import
    must not hide a cycle); ``if TYPE_CHECKING:`` blocks do not count.

    ``from pkg import sub`` counts as importing ``pkg.sub`` when that is a module.
    """
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("agentlab.")}


def test_no_import_cycles() -> None:
    """Imports form no cycle between modules (a function-level import must not hide one)."""
    modules = {_module_name(p): p for p in _modules()}
    graph = {
        name: {
            m for m in _runtime_agentlab_imports(path, set(modules)) if m in modules and m != name
        }
        for name, path in modules.items()
    }
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt) :] if nxt in trail else [nxt]
                raise AssertionError(f"import cycle: {' -> '.join([*cycle, nxt])}")
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])

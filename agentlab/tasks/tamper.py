"""The test-tampering check: does a candidate patch change how the tests run?

Two layers, both before any candidate code runs:

* :func:`tampered_files` reads the patch with :mod:`agentlab.tasks.patches` (every git extended
  header, binary sections, renames, copies, context diffs) and flags protected paths and pytest
  option changes in ``setup.cfg`` / ``tox.ini`` / ``pyproject.toml`` hunks, whatever their
  context lines say.
* :func:`applied_tampering` runs as root in the sandbox after the patch applied: it compares
  ``git status`` (untracked and ignored files included) with the listing taken before, so a
  path the parser missed (a GNU ``patch`` header form, a symlink write) is still seen, and it
  compares the pytest sections of the config files that changed, parsed as pytest parses them.
"""

from __future__ import annotations

import configparser
import posixpath
import re
import tomllib
from typing import Any

from agentlab.protocols import Sandbox
from agentlab.tasks.patches import parse_patch, touched_paths

PYTEST_FILES = ("pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml")
CONFIG_FILES = ("tox.ini", "setup.cfg", "pyproject.toml")
STARTUP_HOOKS = ("sitecustomize.py", "usercustomize.py")
TEST_DIRS = ("test", "tests", "testing")
# Keys only pytest reads (a changed line setting one is flagged whatever section it is in);
# shared names (markers, filterwarnings, timeout, env ...) are left to the exact comparison
# of pytest's sections after the patch applied.
_PYTEST_KEYS = re.compile(
    r"^\s*(addopts|python_files|python_classes|python_functions|testpaths|norecursedirs|"
    r"confcutdir|required_plugins|usefixtures|pythonpath|xfail_strict|minversion|"
    r"consider_namespace_packages|empty_parameter_set_mark|doctest_optionflags|rootdir)"
    r"\s*[=:]"
)


def protected_reason(path: str, test_paths: set[str]) -> str | None:
    """Why ``path`` must not be written by a candidate, or None if it may be."""
    name = posixpath.basename(path)
    parts = path.split("/")
    if path in test_paths:
        return "a test_patch file"
    if ".git" in parts:
        return "under .git"
    if name == "conftest.py":
        return "a conftest"
    if name in PYTEST_FILES:
        return "pytest settings"
    if name in STARTUP_HOOKS or name.endswith(".pth"):
        return "an interpreter start-up hook"
    if name.endswith((".pyc", ".pyo")) or "__pycache__" in parts:
        return "compiled bytecode (imported in place of source)"
    if name == "entry_points.txt" or any(p.endswith((".dist-info", ".egg-info")) for p in parts):
        return "package metadata (entry points load pytest plugins)"
    if (name.startswith("test_") and name.endswith(".py")) or name.endswith("_test.py"):
        return "a test module"
    if any(p in TEST_DIRS for p in parts[:-1]):
        return "under a test directory"
    return None


def tampered_files(patch: str, test_patch: str) -> list[str]:
    """Files a candidate patch touches that decide how tests run, each once: tests, conftest
    files, pytest settings, start-up hooks, bytecode, package metadata, anything under ``.git``,
    and config files whose hunks change pytest options."""
    protected = set(touched_paths(test_patch))
    hits: list[str] = []
    for section in parse_patch(patch):
        for path in section.paths:
            bad = protected_reason(path, protected) is not None
            if not bad and posixpath.basename(path) in CONFIG_FILES:
                bad = any(_changes_pytest(h.added + h.removed, h.section) for h in section.hunks)
                bad = bad or (section.binary and path in section.written)
            if bad and path not in hits:
                hits.append(path)
    return hits


def _changes_pytest(changed: list[str], heading: str) -> bool:
    if "pytest" in heading:
        return True
    for line in changed:
        text = line.strip()
        # An added continuation line ("    -p x" under an existing addopts) names neither:
        # the comparison after apply sees it.
        if "pytest" in text or _PYTEST_KEYS.match(line):
            return True
    return False


STATUS = "git -c core.fsmonitor=false -c core.hooksPath=/dev/null status --porcelain=v1 -z "
STATUS += "--untracked-files=all --ignored=traditional --no-renames"


def status_entries(raw: str) -> set[str]:
    """Paths in ``git status --porcelain -z`` output (status codes dropped)."""
    return {entry[3:] for entry in raw.split("\0") if len(entry) > 3}


def record_status(repo: str, into: str) -> str:
    """The shell line (root, before applying) that saves ``repo``'s status listing."""
    return f"(cd {repo} && {STATUS}) > {into}"


async def applied_tampering(
    sandbox: Sandbox, repo: str, before_file: str, test_patch: str
) -> list[str]:
    """Root's check after the patch applied: every path that changed (``git status`` against
    the listing :func:`record_status` saved) that is protected, or a config file whose pytest
    sections changed."""
    after = await sandbox.exec(["bash", "-c", f"cd {repo} && {STATUS}"], timeout=120)
    before = await sandbox.exec(["cat", before_file])
    if not after.ok or not before.ok:
        return [f"(git status failed: {after.stderr.strip() or before.stderr.strip()})"]
    changed = sorted(status_entries(after.stdout) ^ status_entries(before.stdout))
    protected = set(touched_paths(test_patch))
    hits = [p for p in changed if protected_reason(p, protected) is not None]
    for path in changed:
        if posixpath.basename(path) in CONFIG_FILES and path not in hits:
            old = await sandbox.exec(
                ["bash", "-c", f"cd {repo} && git show HEAD:./{path} 2>/dev/null || true"]
            )
            new = await sandbox.exec(["bash", "-c", f"cat {repo}/{path} 2>/dev/null || true"])
            if pytest_sections(path, old.stdout) != pytest_sections(path, new.stdout):
                hits.append(path)
    return hits


def pytest_sections(path: str, text: str) -> Any:
    """The pytest configuration ``text`` holds, as pytest reads it (unparseable: the text)."""
    try:
        if path.endswith(".toml"):
            return tomllib.loads(text).get("tool", {}).get("pytest")
        parser = configparser.RawConfigParser(interpolation=None, strict=False)
        parser.read_string(text)
        return {
            s: dict(parser.items(s)) for s in parser.sections() if s in ("pytest", "tool:pytest")
        }
    except (tomllib.TOMLDecodeError, configparser.Error, AttributeError):
        return text  # pytest cannot read it either way; any change counts

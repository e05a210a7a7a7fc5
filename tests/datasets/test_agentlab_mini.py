"""The bundled agentlab-mini dataset is what it claims to be, checked on the host.

For every instance: clone the bundle, check out base_commit, apply test_patch and run the
spec's test command on the test files it touches. With no patch every FAIL_TO_PASS test
fails and every PASS_TO_PASS test passes; with the gold patch all of them pass. The example
predictions do what their names say, and rebuilding from sources gives identical files.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentlab.datasets import bundled_names, dataset_path
from agentlab.errors import DatasetError

ROOT = Path(__file__).resolve().parents[2]
DATA = dataset_path("agentlab-mini")
INSTANCES = [json.loads(line) for line in (DATA / "instances.jsonl").read_text().splitlines()]
SPECS = json.loads((DATA / "specs.json").read_text())
BY_ID = {inst["instance_id"]: inst for inst in INSTANCES}

_PYTEST = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED) (\S+)")
_UNITTEST = re.compile(r"^(\S+ \([\w.]+\)) \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure)$")
_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GIT_"))},
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def _run(cmd: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=_ENV, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{shlex.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def _checkout(inst: dict[str, Any], dest: Path) -> Path:
    owner, name = inst["repo"].split("/")
    bundle = DATA / "repos" / f"{owner}__{name}.bundle"
    _run(["git", "clone", "-q", str(bundle), str(dest)], dest.parent)
    _run(["git", "-c", "advice.detachedHead=false", "checkout", "-q", inst["base_commit"]], dest)
    return dest


def _apply(repo: Path, patch: str) -> None:
    (repo.parent / "p.diff").write_text(patch)
    _run(["git", "apply", "--verbose", str(repo.parent / "p.diff")], repo)


def _test_files(inst: dict[str, Any]) -> list[str]:
    return sorted(set(re.findall(r"^diff --git a/(\S+) b/", inst["test_patch"], flags=re.M)))


def _statuses(inst: dict[str, Any], repo: Path) -> dict[str, bool]:
    """Run the spec's test command on the touched test files; test id -> passed."""
    spec = SPECS[inst["repo"]][inst["version"]]
    cmd = [*shlex.split(spec["test_cmd"]), *_test_files(inst)]
    cmd[0] = sys.executable if cmd[0] == "python3" else cmd[0]
    proc = _run(cmd, repo, check=False)
    result: dict[str, bool] = {}
    if spec["log_parser"] == "pytest":
        for line in proc.stdout.splitlines():
            if m := _PYTEST.match(line):
                result[m.group(2)] = m.group(1) in ("PASSED", "XFAIL")
    else:
        for line in proc.stderr.splitlines():
            if m := _UNITTEST.match(line):
                result[m.group(1)] = m.group(2) in ("ok", "expected failure")
    return result


def _lists(inst: dict[str, Any]) -> tuple[list[str], list[str]]:
    return json.loads(inst["FAIL_TO_PASS"]), json.loads(inst["PASS_TO_PASS"])


def test_dataset_shape() -> None:
    repos = {inst["repo"] for inst in INSTANCES}
    assert len(INSTANCES) >= 15 and len(repos) >= 4
    assert {"pytest", "unittest"} <= {v["log_parser"] for s in SPECS.values() for v in s.values()}
    for inst in INSTANCES:
        owner_name = inst["repo"].replace("/", "__")
        assert re.fullmatch(rf"{re.escape(owner_name)}-\d+", inst["instance_id"])
        assert re.fullmatch(r"[0-9a-f]{40}", inst["base_commit"])
        assert inst["version"] in SPECS[inst["repo"]]
        f2p, p2p = _lists(inst)
        assert f2p and len(p2p) >= 5 and not set(f2p) & set(p2p)
        assert inst["problem_statement"].strip() and inst["created_at"].endswith("Z")
        assert all(f.startswith("tests/") for f in _test_files(inst))
    two_file_fixes = [i for i in INSTANCES if i["patch"].count("diff --git") >= 2]
    assert len(two_file_fixes) >= 3


def test_dataset_path_errors_name_the_dataset() -> None:
    assert bundled_names() == ["agentlab-mini"]
    assert dataset_path("agentlab_mini") == DATA
    with pytest.raises(
        DatasetError, match="no bundled dataset 'nope'; bundled datasets: agentlab-mini"
    ):
        dataset_path("nope")


@pytest.mark.parametrize("instance_id", sorted(BY_ID))
def test_empty_fails_and_gold_resolves(instance_id: str, tmp_path: Path) -> None:
    inst = BY_ID[instance_id]
    repo = _checkout(inst, tmp_path / "repo")
    f2p, p2p = _lists(inst)
    _apply(repo, inst["test_patch"])
    empty = _statuses(inst, repo)
    assert [t for t in f2p if empty.get(t, False)] == [], "FAIL_TO_PASS passes without a fix"
    assert [t for t in p2p if not empty.get(t, False)] == [], "PASS_TO_PASS fails at base"
    _apply(repo, inst["patch"])
    gold = _statuses(inst, repo)
    assert [t for t in f2p + p2p if not gold.get(t, False)] == [], "gold does not resolve"


def _example(name: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((DATA / "examples" / name).read_text())
    assert set(record) == {"instance_id", "model_name_or_path", "model_patch"}
    return record


def test_regressing_example_fixes_the_issue_but_breaks_a_regression_test(tmp_path: Path) -> None:
    pred = _example("predictions_regress.jsonl")
    inst = BY_ID[pred["instance_id"]]
    repo = _checkout(inst, tmp_path / "repo")
    _apply(repo, pred["model_patch"])
    _apply(repo, inst["test_patch"])
    status = _statuses(inst, repo)
    f2p, p2p = _lists(inst)
    assert all(status[t] for t in f2p)
    assert [t for t in p2p if not status.get(t, False)] == ["tests/test_quantity.py::test_subtract"]


def test_malformed_example_applies_with_none_of_the_three_methods(tmp_path: Path) -> None:
    pred = _example("predictions_malformed.jsonl")
    repo = _checkout(BY_ID[pred["instance_id"]], tmp_path / "repo")
    diff = tmp_path / "model.diff"
    diff.write_text(pred["model_patch"])
    for cmd in (
        ["git", "apply", "--verbose", str(diff)],
        ["git", "apply", "--verbose", "--reject", str(diff)],
        ["patch", "--batch", "--fuzz=5", "-p1", "-i", str(diff)],
    ):
        assert _run(cmd, repo, check=False).returncode != 0, cmd
        _run(["git", "checkout", "-q", "--", "."], repo)
        _run(["git", "clean", "-q", "-fdx"], repo)


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    build = ROOT / "datasets" / "agentlab-mini" / "build.py"
    _run([sys.executable, str(build), "--out", str(tmp_path)], ROOT)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    shipped = sorted(p.relative_to(DATA) for p in DATA.rglob("*") if p.is_file())
    assert built == shipped
    changed = [str(p) for p in built if (tmp_path / p).read_bytes() != (DATA / p).read_bytes()]
    assert changed == []

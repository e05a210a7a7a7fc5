"""Testing and editing state machines: the scripted model, a real Docker sandbox, real git."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentlab.agent.records import EditingStep, TestingStep
from agentlab.agent.trajectory import ModelChat, run_editing, run_testing
from agentlab.agent.workspace import Workspace
from agentlab.llm.testing import Rule, ScriptedModel
from agentlab.types import SandboxSpec

pytestmark = pytest.mark.docker

REPO = "/repo"
BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TEST = """\
import sys
from calc import add
print("add(2, 3) =", add(2, 3))
sys.exit(0 if add(2, 3) == 5 else 2)
"""
FENCED_TEST = f"```python\n{TEST}```"
FIX = "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"
FIX_AFTER_WRONG = (
    "calc.py\n<<<<<<< SEARCH\n    return b - a\n=======\n    return a + b\n>>>>>>> REPLACE\n"
)
WRONG_FIX = (
    "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return b - a\n>>>>>>> REPLACE\n"
)
TESTING_SYSTEM = "reproduction tests"
EDITING_SYSTEM = "fix bugs"


@pytest.fixture
async def ws(docker_backend: object, spec: SandboxSpec) -> AsyncIterator[Workspace]:
    """A sandbox holding a one-file git repository with a bug in add()."""
    from agentlab.sandbox.docker import DockerBackend

    assert isinstance(docker_backend, DockerBackend)
    async with docker_backend.open(spec) as sandbox:
        await sandbox.write_file(f"{REPO}/calc.py", BUGGY)
        setup = await sandbox.exec(
            "git init -q && git add -A && "
            "git -c user.name=t -c user.email=t@example.com commit -qm base",
            cwd=REPO,
        )
        assert setup.ok, setup.stderr
        yield Workspace(sandbox, repo_dir=REPO, test_timeout_s=30)


def _git_apply_on_host(repo: Path, diff: str) -> str:
    (repo / "calc.py").write_text(BUGGY)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "apply", "-"], cwd=repo, input=diff, text=True, check=True)
    return (repo / "calc.py").read_text()


def chat(model: ScriptedModel) -> ModelChat:
    return ModelChat.for_backend(model, "scripted")


async def test_testing_machine_writes_runs_and_approves(ws: Workspace) -> None:
    model = ScriptedModel([Rule(system=TESTING_SYSTEM, replies=(FENCED_TEST, "APPROVE"))])
    seen: list[TestingStep] = []

    async def record(step: TestingStep) -> None:
        seen.append(step)

    out = await run_testing(chat(model), ws, problem="add subtracts", context="", on_step=record)
    assert out.status == "approved"
    assert out.script == TEST
    assert [s.decision for s in out.steps] == ["WRITE", "APPROVE"]
    first = out.steps[0].run
    assert first is not None and first.exit_code == 2 and "add(2, 3) = -1" in first.stdout
    assert "exit code 2" in out.steps[0].messages[-1].content
    assert seen == list(out.steps)


async def test_testing_machine_revises_until_attempts_run_out(ws: Workspace) -> None:
    revised = TEST.replace("print(", "print('revised',")
    replies = (
        "```python\nimport sys\nsys.exit(1)\n```",
        f"REVISE\n```python\n{revised}```",
        f"REVISE\n```python\n{TEST}```",
    )
    model = ScriptedModel([Rule(system=TESTING_SYSTEM, replies=replies)])
    out = await run_testing(chat(model), ws, problem="p", context="", attempts=2)
    assert out.status == "exhausted"
    assert [s.decision for s in out.steps] == ["WRITE", "REVISE", "REVISE"]
    assert out.steps[2].run is None
    assert out.script == revised  # the last script that ran, not the unrun one


async def test_testing_machine_format_failure_is_an_outcome(ws: Workspace) -> None:
    model = ScriptedModel([Rule(system=TESTING_SYSTEM, replies=("I would run pytest.",))])
    out = await run_testing(chat(model), ws, problem="p", context="", max_fixes=1)
    assert out.status == "format_failure"
    assert out.script is None and "no test script found" in out.reason
    assert [s.decision for s in out.steps] == ["FORMAT_FAILURE"]
    assert model.calls == 2


async def test_editing_machine_fixes_and_diff_applies(ws: Workspace, tmp_path: Path) -> None:
    model = ScriptedModel([Rule(system=EDITING_SYSTEM, replies=(f"```\n{FIX}```", "APPROVE"))])
    out = await run_editing(
        chat(model), ws, problem="add subtracts", context="", test=TEST, iterations=3
    )
    assert out.status == "approved"
    assert [s.action for s in out.steps] == ["EDIT", "APPROVE"]
    edit = out.steps[0]
    assert edit.original is not None and edit.original.exit_code == 2
    assert edit.patched is not None and edit.patched.exit_code == 0
    assert "add(2, 3) = 5" in edit.patched.stdout
    # The sandbox tree is back to the original after the patched run.
    status = await ws.sandbox.exec(["git", "status", "--porcelain"], cwd=REPO)
    assert status.stdout == ""
    # The candidate diff applies to the original repository with real git.
    applied = await asyncio.to_thread(_git_apply_on_host, tmp_path, out.diff)
    assert applied == BUGGY.replace("a - b", "a + b")


async def test_editing_machine_rewrites_test_and_iterates(ws: Workspace) -> None:
    weak_test = "import sys\nsys.exit(0)\n"
    replies = (WRONG_FIX, f"REWRITE_TEST\n{FENCED_TEST}", FIX_AFTER_WRONG, "APPROVE")
    model = ScriptedModel([Rule(system=EDITING_SYSTEM, replies=replies)])
    out = await run_editing(chat(model), ws, problem="p", context="", test=weak_test, iterations=4)
    assert [s.action for s in out.steps] == ["EDIT", "REWRITE_TEST", "EDIT", "APPROVE"]
    rewrite = out.steps[1]
    assert rewrite.test == TEST
    assert rewrite.patched is not None and rewrite.patched.exit_code == 2  # b - a is wrong too
    final = out.steps[2]
    assert final.patched is not None and final.patched.exit_code == 0
    assert out.test == TEST
    assert "+    return a + b" in out.diff and "b - a" not in out.diff


async def test_editing_machine_fixes_format_then_succeeds(ws: Workspace) -> None:
    bad_search = FIX.replace("return a - b", "return a - c", 1)
    replies = ("The bug is in calc.py.", bad_search, FIX, "APPROVE")
    model = ScriptedModel([Rule(system=EDITING_SYSTEM, replies=replies)])
    out = await run_editing(chat(model), ws, problem="p", context="", test=TEST, max_fixes=2)
    assert out.status == "approved"
    first = out.steps[0]
    assert first.fixes == 2 and first.reply == FIX
    fix_turns = [m.content for m in first.messages if m.role == "user"]
    assert "no edit blocks and no decision" in fix_turns[0]
    assert "does not match the file" in fix_turns[1]


async def test_editing_machine_ends_with_format_failure(ws: Workspace) -> None:
    model = ScriptedModel([Rule(system=EDITING_SYSTEM, replies=("Let me think about it.",))])
    out = await run_editing(chat(model), ws, problem="p", context="", test=TEST, max_fixes=1)
    assert out.status == "format_failure"
    assert "no edit blocks and no decision" in out.reason
    assert out.diff == "" and len(out.steps) == 1 and model.calls == 2


async def test_editing_machine_resumes_without_repeating_steps(ws: Workspace) -> None:
    replies = (WRONG_FIX, FIX_AFTER_WRONG, "APPROVE")
    whole = await run_editing(
        chat(ScriptedModel([Rule(system=EDITING_SYSTEM, replies=replies)])),
        ws,
        problem="p",
        context="",
        test=TEST,
    )
    fresh = ScriptedModel([Rule(system=EDITING_SYSTEM, replies=replies)])
    seen: list[EditingStep] = []

    async def record(step: EditingStep) -> None:
        seen.append(step)

    resumed = await run_editing(
        chat(fresh),
        ws,
        problem="p",
        context="",
        test=TEST,
        prior=whole.steps[:1],
        on_step=record,
    )
    assert fresh.calls == 2  # only the two steps after the prior one
    assert [s.step for s in seen] == [1, 2]
    assert resumed.diff == whole.diff and resumed.status == whole.status == "approved"

    def shape(steps: tuple[EditingStep, ...]) -> list[object]:
        # Everything but exec timings, which differ between runs.
        return [(s.step, s.action, s.messages, s.diff, s.test, s.fixes) for s in steps]

    assert shape(resumed.steps) == shape(whole.steps)

"""The stdin/stdout kind as the registry and the scripted model see it (host only)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agentlab.config import DatasetConfig
from agentlab.coordinator.kinds import get_kind, kind_for
from agentlab.coordinator.kinds.stdio import SKELETON, StdioKind, prompt
from agentlab.errors import ConfigError
from agentlab.tasks import stdio

PROBLEMS = stdio.load_problems(stdio.BUNDLED["agentlab-stdio"])


def test_the_bundled_dataset_infers_its_kind() -> None:
    assert kind_for(DatasetConfig(name="agentlab-stdio")).name == "stdio"
    assert get_kind("stdio").name == "stdio"


def test_a_codecontests_file_is_claimed_and_needs_the_kind_named(tmp_path: Path) -> None:
    path = tmp_path / "contest.jsonl"
    row = {"name": "c/1", "description": "d", "public_tests": {"input": [], "output": []}}
    path.write_text(json.dumps(row) + "\n")
    assert StdioKind().claims(DatasetConfig(name=str(path)))
    with pytest.raises(ConfigError, match=r"set dataset\.kind"):
        kind_for(DatasetConfig(name=str(path)))  # any existing path is SWE's too
    assert kind_for(DatasetConfig(name=str(path), kind="stdio")).problem_ids(
        DatasetConfig(name=str(path))
    ) == ["c/1"]


def test_filters_and_unknown_ids_are_refused() -> None:
    kind = StdioKind()
    easy = kind.problem_ids(DatasetConfig(name="agentlab-stdio", include="sum-two|parity"))
    assert easy == ["agentlab-stdio/sum-two", "agentlab-stdio/parity"]
    with pytest.raises(ConfigError, match="not in agentlab-stdio: agentlab-stdio/nope"):
        kind.problem_ids(DatasetConfig(name="agentlab-stdio", instances=("agentlab-stdio/nope",)))
    with pytest.raises(ConfigError, match="keeps no problem"):
        kind.problem_ids(DatasetConfig(name="agentlab-stdio", include="^nothing$"))


def test_reference_rules_answer_each_problem_with_its_reference() -> None:
    rules = StdioKind().reference_rules(DatasetConfig(name="agentlab-stdio"))
    assert len(rules) == len(PROBLEMS)
    for problem in PROBLEMS.values():
        matching = [r for r in rules if r.user and re.search(r.user, prompt(problem))]
        assert len(matching) == 1, problem.task_id  # statements are told apart
        assert problem.reference and problem.reference in matching[0].replies[0]


def test_the_prompt_shows_the_examples_and_a_stdin_to_stdout_skeleton() -> None:
    problem = PROBLEMS["agentlab-stdio/sum-two"]
    text = prompt(problem)
    assert problem.statement in text
    assert "Example input:\n```\n1 2\n```\nExample output:\n```\n3\n```" in text
    assert f"```python\n{SKELETON}```" in text
    assert "data = sys.stdin.read().split()" in SKELETON and SKELETON.endswith("\nmain()\n")
    assert text.rstrip().endswith("Reply with the complete program in one ```python block.")

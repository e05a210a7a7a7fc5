"""The bundled agentlab-stdio dataset is what it claims to be.

On the host: at least 20 problems of mixed difficulty, each with examples, several hidden cases
and a reference solution, and a rebuild from the YAML sources is byte-identical. In the real
sandbox: every reference solution is accepted on every example and hidden case, and a wrong
solution per problem (printing the reference's first-case answer for every case) is not.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from agentlab.protocols import Sandbox
from agentlab.tasks import stdio

ROOT = Path(__file__).resolve().parents[2]
DATA = stdio.BUNDLED["agentlab-stdio"]
PROBLEMS = stdio.load_problems(DATA)


def test_at_least_twenty_problems_of_mixed_difficulty() -> None:
    assert len(PROBLEMS) >= 20
    levels = Counter(p.difficulty for p in PROBLEMS.values())
    assert set(levels) == {"easy", "medium", "hard"}
    assert levels["easy"] < len(PROBLEMS) / 2  # most problems are not trivial
    for problem in PROBLEMS.values():
        assert problem.task_id.startswith("agentlab-stdio/")
        assert problem.statement.strip() and problem.reference
        assert problem.examples and len(problem.hidden) >= 3, problem.task_id
        assert all(c.output is not None for c in (*problem.examples, *problem.hidden))
        assert problem.time_limit_s > 0 and problem.memory_limit_mb == 256


def test_hard_problems_carry_large_generated_cases() -> None:
    large = [p for p in PROBLEMS.values() if any(len(c.input) > 50_000 for c in p.hidden)]
    assert len(large) >= 5


@pytest.mark.slow
def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    build = ROOT / "datasets" / "agentlab-stdio" / "build.py"
    done = subprocess.run(
        [sys.executable, str(build), "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "problems.jsonl").read_bytes() == DATA.read_bytes()


@pytest.mark.docker
@pytest.mark.slow
async def test_every_reference_solution_passes_in_the_sandbox(
    stdio_sandbox: Sandbox,
) -> None:
    failures = {}
    for problem in PROBLEMS.values():
        assert problem.reference is not None
        cases = [*problem.examples, *problem.hidden]
        results = await stdio.run_cases(
            stdio_sandbox, {"ref": problem.reference}, cases, stdio.Limits.of(problem)
        )
        if not stdio.accepted(results["ref"], cases):
            failures[problem.task_id] = [r.verdict for r in results["ref"]]
    assert failures == {}


@pytest.mark.docker
@pytest.mark.slow
async def test_a_constant_answer_fails_every_problem(stdio_sandbox: Sandbox) -> None:
    accepted = []
    for problem in PROBLEMS.values():
        first = problem.hidden[0].output
        wrong = f"import sys\nsys.stdout.write({first!r})\n"
        results = await stdio.run_cases(
            stdio_sandbox, {"wrong": wrong}, problem.hidden, stdio.Limits.of(problem)
        )
        if stdio.accepted(results["wrong"], problem.hidden):
            accepted.append(problem.task_id)
        else:
            assert results["wrong"][-1].verdict == "wrong answer"
    assert accepted == []

"""`agentlab eval` on the stdin/stdout kind: gold and a predictions file, graded on the hidden
cases in the real Docker engine; `agentlab eval` as a real subprocess where the user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlab.coordinator.evaluation import EvalRequest
from agentlab.coordinator.evaluation.stdio import run_stdio
from agentlab.store import open_store
from agentlab.store.eval_store import EvalStore
from agentlab.tasks import stdio
from agentlab.tasks.harness import EvalConfig
from tests.coordinator.conftest import agentlab_cli

pytestmark = pytest.mark.docker

PROBLEMS = stdio.load_problems(stdio.BUNDLED["agentlab-stdio"])
SUM, PARITY, REVERSE = (f"agentlab-stdio/{n}" for n in ("sum-two", "parity", "reverse-line"))
# Defines main() and never calls it: graded as written, it prints nothing.
UNCALLED = "def main():\n    print('even' if int(input()) % 2 == 0 else 'odd')\n"


def _predictions(path: Path) -> Path:
    records = [
        (SUM, PROBLEMS[SUM].reference),
        (SUM, "a, b = map(int, input().split())\nprint(a - b)\n"),
        (PARITY, UNCALLED),
        (REVERSE, PROBLEMS[REVERSE].reference),
    ]
    path.write_text("".join(json.dumps({"task_id": t, "program": p}) + "\n" for t, p in records))
    return path


class _Counted:
    def __init__(self) -> None:
        self.begun: list[int] = []
        self.advanced: list[bool] = []

    def begin(self, total: int) -> None:
        self.begun.append(total)

    def advance(self, resolved: bool, error: bool) -> None:
        self.advanced.append(resolved)


@pytest.mark.slow
def test_gold_resolves_every_bundled_problem(base_image: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/eval.db"
    args = ("eval", "--dataset", "agentlab-stdio", "--predictions", "gold", "--store", url)
    done = agentlab_cli(*args, "--run-id", "gold")
    assert done.returncode == 0, done.stderr[-3000:]
    total = len(PROBLEMS)
    assert done.stdout.strip().splitlines()[-1] == (
        f"stdio: {total}/{total} passed; pass@1=1.0000; errors 0"
    )


def test_a_predictions_file_is_graded_per_sample(base_image: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/eval.db"
    path = _predictions(tmp_path / "programs.jsonl")
    done = agentlab_cli("eval", "-d", "agentlab-stdio", "-p", str(path), "--store", url)
    assert done.returncode == 0, done.stderr[-3000:]
    # sum-two 1 of 2, parity 0 of 1 (main never called), reverse-line 1 of 1.
    assert done.stdout.strip().splitlines()[-1] == "stdio: 2/4 passed; pass@1=0.5000; errors 0"
    rows = agentlab_cli(
        "sql",
        "--store",
        url,
        "--format",
        "json",
        "select instance_id, sample, resolved, error from evaluation order by instance_id, sample",
    )
    got = [(r["instance_id"], r["sample"], bool(r["resolved"])) for r in json.loads(rows.stdout)]
    assert got == [(PARITY, 0, False), (REVERSE, 0, True), (SUM, 0, True), (SUM, 1, False)]
    errors = {r["instance_id"]: r["error"] for r in json.loads(rows.stdout) if r["error"]}
    assert errors[PARITY].startswith("wrong answer on hidden case 1")


def test_bad_predictions_get_one_line(base_image: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"task_id": "agentlab-stdio/nope", "program": "print(1)"}) + "\n")
    done = agentlab_cli("eval", "-d", "agentlab-stdio", "-p", str(path))
    assert done.returncode != 0
    assert "task ids not in the dataset: agentlab-stdio/nope" in done.stderr
    assert "Traceback" not in done.stderr
    path.write_text(json.dumps({"task_id": SUM, "completion": "print(1)"}) + "\n")
    done = agentlab_cli("eval", "-d", "agentlab-stdio", "-p", str(path))
    assert done.returncode != 0 and "program must be a string" in done.stderr


async def test_a_rerun_grades_only_what_is_missing(
    docker_backend: object, base_image: str, tmp_path: Path, run_id: str
) -> None:
    from agentlab.sandbox.docker import DockerBackend

    assert isinstance(docker_backend, DockerBackend)
    request = EvalRequest(
        dataset="agentlab-stdio",
        predictions=str(_predictions(tmp_path / "programs.jsonl")),
        config=EvalConfig(run_id=run_id),
        instance_ids=(SUM, PARITY),  # reverse-line's prediction is left out
    )
    store = open_store(f"sqlite:///{tmp_path / 'eval.db'}")
    try:
        first, again = _Counted(), _Counted()
        summary = await run_stdio(request, docker_backend, EvalStore(store), first)
        repeat = await run_stdio(request, docker_backend, EvalStore(store), again)
    finally:
        store.close()
    assert first.begun == [3] and sorted(first.advanced) == [False, False, True]
    assert again.begun == [0] and again.advanced == []
    assert (summary.passed, summary.total, summary.errors) == (1, 3, 0)
    assert repeat.line() == summary.line() == "stdio: 1/3 passed; pass@1=0.2500; errors 0"

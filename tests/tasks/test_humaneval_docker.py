"""HumanEval through the sandbox: canonical solutions pass 164/164; wrong ones do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlab.coordinator.evaluation.humaneval import run_humaneval
from agentlab.store import open_store
from agentlab.store.eval_store import EvalStore
from agentlab.tasks.harness import EvalConfig

pytestmark = pytest.mark.docker


async def test_canonical_solutions_pass_164_of_164(
    tmp_path: Path, base_image: str, run_id: str
) -> None:
    from agentlab.sandbox.docker import DockerBackend

    store = open_store(f"sqlite:///{tmp_path / 'he.db'}")
    try:
        summary = await run_humaneval(
            "canonical", EvalConfig(run_id=run_id), EvalStore(store), DockerBackend()
        )
    finally:
        store.close()
    assert (summary.passed, summary.total, summary.errors) == (164, 164, 0)
    assert summary.pass_at == {"pass@1": 1.0}


async def test_samples_file_reports_unbiased_pass_at_k(
    tmp_path: Path, base_image: str, run_id: str
) -> None:
    from agentlab.sandbox.docker import DockerBackend
    from agentlab.tasks.humaneval import load_problems

    problem = load_problems()["HumanEval/0"]
    good = problem.canonical_solution
    hostile = "    import os\n    os.kill(1, 9)\n    while True:\n        pass\n"
    samples = [good, "    return None\n", hostile, good]
    path = tmp_path / "samples.jsonl"
    path.write_text(
        "".join(json.dumps({"task_id": "HumanEval/0", "completion": c}) + "\n" for c in samples)
    )
    store = open_store(f"sqlite:///{tmp_path / 'he.db'}")
    try:
        summary = await run_humaneval(
            str(path), EvalConfig(run_id=run_id), EvalStore(store), DockerBackend(), timeout=3.0
        )
    finally:
        store.close()
    assert (summary.passed, summary.total) == (2, 4)
    # n=4, c=2: pass@1 = 0.5 (pass@10 needs 10 samples per task, so it is left out)
    assert summary.pass_at == {"pass@1": 0.5}

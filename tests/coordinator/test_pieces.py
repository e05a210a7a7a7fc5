"""The run's pure pieces and store writes (no Docker): gold edit blocks, idempotent rows."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentlab.agent.edits import apply_edits, parse_edit_blocks
from agentlab.coordinator.kinds.humaneval import completion_from
from agentlab.coordinator.kinds.swe_gold import edit_blocks
from agentlab.store import Store
from agentlab.store.run_store import RunStore
from agentlab.tasks import humaneval as he
from agentlab.tasks.swebench import Dataset, diff_files
from agentlab.types import Candidate
from tests.coordinator.conftest import assert_no_duplicates, snapshot


def test_gold_patches_as_edit_blocks_reproduce_the_patched_files(
    mini: Dataset, tmp_path: Path
) -> None:
    for inst in mini.instances:
        repo = tmp_path / inst.instance_id
        bundle = str(mini.bundles[inst.repo])
        subprocess.run(["git", "clone", "-q", bundle, str(repo)], check=True)
        subprocess.run(["git", "checkout", "-q", inst.base_commit], cwd=repo, check=True)
        paths = diff_files(inst.patch)
        files = {p: (repo / p).read_text() if (repo / p).exists() else None for p in paths}
        edited = apply_edits(files, parse_edit_blocks(edit_blocks(inst.patch)))
        (tmp_path / "gold.diff").write_text(inst.patch)
        subprocess.run(["git", "apply", str(tmp_path / "gold.diff")], cwd=repo, check=True)
        for path, content in edited.items():
            assert (repo / path).read_text() == content, (inst.instance_id, path)


def test_completion_from_whole_function_or_body() -> None:
    problem = he.load_problems()["HumanEval/53"]
    whole = completion_from("```python\ndef add(x: int, y: int):\n    return x + y\n```", problem)
    body = completion_from("return x + y", problem)
    for completion in (whole, body):
        namespace: dict[str, object] = {}
        # Our own two-line functions and the problem's own check(): safe to run in-process.
        exec(he.program(problem, completion), namespace)


async def test_turns_and_candidates_are_written_once(store: Store) -> None:
    runs = RunStore(store)
    await runs.start_run("r1", name="t", config={}, config_hash="h", seed=0)
    for _ in range(2):  # a replayed step or candidate replaces, never duplicates
        await runs.save_turn("r1", "t1", 0, "testing", 0, "WRITE", "{}")
        await runs.set_trajectory("r1", "t1", 0, stage="testing", status="running", attempt=True)
        await runs.save_candidate("r1", Candidate(task_id="t1", sample=0, patch="d"))
    await runs.set_resolved("r1", "t1", 0, True)
    snap = snapshot(store, "r1")
    assert_no_duplicates(snap)
    assert snap["turns"] == [("t1", 0, "testing", 0, "WRITE")]
    assert snap["candidates"][0][5] is True
    state = await runs.load("r1")
    assert state.trajectories[("t1", 0)].attempts == 2

"""Generated tests for the agent kinds, written at selection so the vote matrix has tests.

A ``swe-agent`` or ``external`` trajectory leaves a diff and no test. Before the ``swe``
kind's selection (vote matrix, then the selectors) runs over such a run, every candidate
without a test gets one, written by the ``swe`` kind's own testing stage
(:meth:`SWEPipeline.write_test`: the run's ``testing`` model, ``sampling.test_attempts``
scripts, each run on the original code and reviewed) for the same (problem, sample), in a
fresh sandbox of the instance. Its steps are stored as ``testing`` turns of that sample (an
interrupted selection resumes them) and the approved script becomes the candidate's ``test``,
exactly where the ``swe`` kind keeps its tests.

The test writer sees the issue and the repository's source file list, not file contents (the
``swe`` context stage would cost one model call per file). It never sees a candidate, so its
test is an independent vote.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentlab.agent.context import source_files
from agentlab.agent.workspace import Workspace
from agentlab.config import SelectionSection
from agentlab.coordinator.env import RunEnv, first_leaf
from agentlab.coordinator.fanout import fan_out
from agentlab.coordinator.kinds.swe import TESTBED, SWEKind, SWEPipeline
from agentlab.scoring.selectors import Selector
from agentlab.types import Candidate

CONTEXT = "(No file contents shown. The repository is the working directory; its source files:)"


def check_testing_model(env: RunEnv) -> None:
    """Fail before the run, not after it, when selection will need a ``testing`` model."""
    if env.config.selection.enabled:
        env.config.models.for_role("testing")


async def write_missing_tests(pipeline: SWEPipeline) -> int:
    """Write and store a test for every candidate of the run that has none; returns how many."""
    env = pipeline.env
    rows = [r for r in await env.store.candidates(env.run_id) if not (r.test or "").strip()]
    rows = [r for r in rows if r.task_id in pipeline.by_id]

    async def work(row: Candidate) -> str | None:
        return await _write_one(pipeline, row.task_id, row.sample)

    async def save(row: Candidate, test: str | None) -> None:
        if test is not None:
            await env.store.set_test(env.run_id, row.task_id, row.sample, test)

    try:
        tests = await fan_out(
            rows, work, max_workers=env.config.concurrency.sandboxes, on_result=save
        )
    except BaseExceptionGroup as group:
        raise first_leaf(group) from group  # one error, as the caller classifies it
    return sum(t is not None for t in tests)


async def _write_one(pipeline: SWEPipeline, task_id: str, sample: int) -> str | None:
    env, instance = pipeline.env, pipeline.by_id[task_id]
    image = await pipeline.images.image_for(pipeline.dataset, instance)
    async with env.pool.open(pipeline.spec(image, task_id, sample), task_id) as sb:
        await pipeline.squash(sb)
        listed = await sb.exec(["git", "ls-files"], cwd=TESTBED, timeout=60)
        files = "\n".join(source_files(listed.stdout.splitlines()))
        ws = Workspace(sb, repo_dir=TESTBED)
        tested = await pipeline.write_test(ws, task_id, sample, f"{CONTEXT}\n{files}")
    return tested.script  # the last script that ran, as the swe kind keeps it (None: none did)


async def select_with_tests(
    kind: SWEKind,
    env: RunEnv,
    pipeline: SWEPipeline,
    section: SelectionSection,
    selectors: Sequence[Selector],
) -> None:
    """Write the missing tests, then the ``swe`` kind's selection over the run."""
    await write_missing_tests(pipeline)
    await SWEKind.select(kind, env, section, selectors)

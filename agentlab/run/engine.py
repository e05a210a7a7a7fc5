"""Running a pipeline over problems x samples: the one fan-out of ``agentlab run``.

Each (problem, sample) is one work item for :func:`agentlab.coordinator.fan_out`. An item
that the store says is finished (trajectory ``done``, candidate graded) is skipped; any other
resumes from its stored steps. Infrastructure failures are retried a few times in the run,
then left as ``error`` for the next ``--resume``; a problem whose every sample failed is
marked ``failed`` with the reason, and the run goes on. :class:`BudgetExceededError` is the
one error that ends the run, here and only here: the fan-out cancels the items in flight
(their finished steps are already stored) and the run is marked ``budget_exhausted``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from agentlab.coordinator import fan_out
from agentlab.errors import BudgetExceededError
from agentlab.run.env import INFRA_ERRORS, RunEnv, describe, first_leaf
from agentlab.store.run_tables import CandidateRow

ATTEMPTS = 2  # per item per invocation; an item still failing is retried on --resume
STAGES = ("context", "testing", "editing", "grading")


class Pipeline(Protocol):
    """One kind of problem (SWE-style, HumanEval): its trajectories and grading."""

    @property
    def dataset_name(self) -> str: ...

    def task_ids(self) -> list[str]: ...

    def stages(self) -> Sequence[str]: ...

    async def trajectory(self, task_id: str, sample: int) -> CandidateRow: ...

    async def grade(self, candidate: CandidateRow) -> bool: ...

    async def aclose(self) -> None: ...


@dataclass
class Outcome:
    """How a run ended."""

    status: str  # finished | budget_exhausted
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # failed problem -> reason


def finished(env: RunEnv, task_id: str, sample: int) -> bool:
    traj = env.state.trajectories.get((task_id, sample))
    cand = env.state.candidates.get((task_id, sample))
    return (
        traj is not None
        and traj.status == "done"
        and cand is not None
        and cand.resolved is not None
    )


async def execute(env: RunEnv, pipeline: Pipeline) -> Outcome:
    """Run every unfinished (problem, sample) of ``pipeline``; returns how the run ended."""
    k = env.config.sampling.k
    tasks = pipeline.task_ids()
    items = [(t, s) for t in tasks for s in range(k)]
    left = {t: k for t in tasks}
    failures: dict[str, list[str]] = defaultdict(list)
    outcome = Outcome("finished")
    stages = pipeline.stages()
    env.progress.begin({st: len(tasks) if st == "context" else len(items) for st in stages})
    for task_id, sample in items:
        if finished(env, task_id, sample):
            for stage in stages:
                if stage != "context":
                    env.progress.advance(stage)
    for task_id in tasks:
        if "context" in stages and all(finished(env, task_id, s) for s in range(k)):
            env.progress.advance("context")

    async def work(item: tuple[str, int]) -> None:
        task_id, sample = item
        try:
            if not finished(env, task_id, sample):
                error = await _attempts(env, pipeline, task_id, sample)
                if error is not None:
                    failures[task_id].append(error)
        finally:
            left[task_id] -= 1
        if left[task_id] == 0:
            await _close_task(env, pipeline, task_id, failures.get(task_id, []), outcome)

    width = env.config.concurrency.llm_calls + env.config.concurrency.sandboxes
    try:
        await fan_out(items, work, max_workers=width)
    except* BudgetExceededError as group:
        outcome.status, outcome.reason = "budget_exhausted", describe(first_leaf(group))
    return outcome


async def _attempts(env: RunEnv, pipeline: Pipeline, task_id: str, sample: int) -> str | None:
    """Run one item, retrying infrastructure failures; the last failure's reason, or None."""
    reason = ""
    candidate = env.state.candidates.get((task_id, sample))
    traj = env.state.trajectories.get((task_id, sample))
    if traj is None or traj.stage != "grading":
        candidate = None  # stored before its trajectory finished: rebuild it from the steps
    for _ in range(ATTEMPTS):
        await env.store.set_trajectory(env.run_id, task_id, sample, status="running", attempt=True)
        try:
            if candidate is None:
                candidate = await pipeline.trajectory(task_id, sample)
                await env.store.save_candidate(candidate)
                env.state.candidates[(task_id, sample)] = candidate
                await env.store.set_trajectory(
                    env.run_id, task_id, sample, stage="grading", status="running"
                )
            resolved = await pipeline.grade(candidate)
            await env.store.set_resolved(env.run_id, task_id, sample, resolved)
            candidate.resolved = resolved
            await env.store.set_trajectory(env.run_id, task_id, sample, stage="done", status="done")
            env.progress.advance("grading")
            return None
        except INFRA_ERRORS as exc:
            reason = describe(exc)
            await env.store.set_trajectory(
                env.run_id, task_id, sample, status="error", error=reason
            )
            env.progress.note(f"{task_id} sample {sample}: {reason}")
    return reason


async def _close_task(
    env: RunEnv, pipeline: Pipeline, task_id: str, errors: list[str], outcome: Outcome
) -> None:
    """Mark a problem done, or failed (with the reason) when no sample finished."""
    k = env.config.sampling.k
    if errors and len(errors) >= k:
        outcome.errors[task_id] = errors[-1]
        await env.store.set_task(
            env.run_id, task_id, dataset=pipeline.dataset_name, status="failed", error=errors[-1]
        )
    else:
        error = errors[-1] if errors else None  # some samples finished: done, note the rest
        await env.store.set_task(
            env.run_id, task_id, dataset=pipeline.dataset_name, status="done", error=error
        )

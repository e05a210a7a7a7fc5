"""Running a pipeline over problems x samples: the one fan-out of ``agentlab run``.

Each (problem, sample) is one :class:`~agentlab.types.WorkItem` handed to the run's
:class:`~agentlab.protocols.Executor` (local asyncio by default), which also decides where
each item's attempt runs. An item that the store says is finished (trajectory ``done``,
candidate graded) is skipped; any other resumes from its stored steps. Infrastructure
failures are retried a few times in the run, then left as ``error`` for the next
``--resume``; a problem whose every sample failed is marked ``failed`` with the reason, and
the run goes on. A prompt the model refuses as longer than its context window ends that
sample at once (trajectory ``context_exhausted`` with the reason; not retried, since it would
be refused again); the agent loop trims its history and rarely lets one through.
:class:`BudgetExceededError` is the one error that ends the run, here and only here: the
fan-out cancels the items in flight (their finished steps are already stored) and the run
is marked ``budget_exhausted``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from agentlab.config import AdaptivePolicyConfig
from agentlab.coordinator.allocation import TaskCaps
from agentlab.coordinator.env import INFRA_ERRORS, RunEnv, describe, first_leaf
from agentlab.coordinator.executors import make_executor
from agentlab.coordinator.kinds.base import Pipeline, TaskKind
from agentlab.coordinator.rounds import run_rounds
from agentlab.errors import BudgetExceededError, ContextOverflowError, ScopeBudgetExceededError
from agentlab.protocols import Executor
from agentlab.store.run_store import RunState
from agentlab.store.run_tables import Trajectory
from agentlab.types import WorkItem, WorkResult

ATTEMPTS = 2  # per item per invocation; an item still failing is retried on --resume
GRADING = "grading"  # the engine's own progress stage, after the kind's


@dataclass
class Outcome:
    """How a run ended."""

    status: str  # finished | budget_exhausted
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # failed problem -> reason
    stopped: dict[str, str] = field(default_factory=dict)  # adaptive: stopped problem -> why


def finished(env: RunEnv, task_id: str, sample: int) -> bool:
    traj = env.state.trajectories.get((task_id, sample))
    cand = env.state.candidates.get((task_id, sample))
    return (
        traj is not None
        and traj.status == "done"
        and cand is not None
        and cand.resolved is not None
    )


def _no_signal(_state: RunState, _task_id: str, _sample: int) -> bool:
    return False


async def execute(
    env: RunEnv,
    pipeline: Pipeline,
    *,
    kind: TaskKind | None = None,
    executor: Executor | None = None,
) -> Outcome:
    """Run every unfinished (problem, sample) of ``pipeline``; returns how the run ended.

    With ``budget.policy.type: uniform`` every problem's k samples fan out at once; with
    ``adaptive`` they run in rounds the allocation policy decides
    (:mod:`agentlab.coordinator.rounds`), reading each sample's own-test signal from ``kind``
    (no kind: no signal). Items go to ``executor`` (default: the local one).
    """
    signal = kind.own_test_signal if kind is not None else _no_signal
    kind_name = kind.name if kind is not None else pipeline.dataset_name
    k = env.config.sampling.k
    tasks = pipeline.task_ids()
    items = [(t, s) for t in tasks for s in range(k)]
    outcome = Outcome("finished")
    stages = pipeline.stages()
    totals = {st.name: len(tasks) if st.per_problem else len(items) for st in stages}
    env.progress.begin({**totals, GRADING: len(items)})
    for task_id, sample in items:
        if finished(env, task_id, sample):
            for stage in stages:
                if not stage.per_problem:
                    env.progress.advance(stage.name)
            env.progress.advance(GRADING)
    for task_id in tasks:
        if all(finished(env, task_id, s) for s in range(k)):
            for stage in stages:
                if stage.per_problem:
                    env.progress.advance(stage.name)
    policy = env.config.budget.policy
    adaptive = isinstance(policy, AdaptivePolicyConfig)
    # Adaptive rounds apply the per-problem cap in the (replayable) decision itself.
    caps = None if adaptive else await _task_caps(env)
    executor = executor or make_executor(env.config.executor)
    batch = _Batch(env, pipeline, outcome, caps, executor, kind_name)
    try:
        async with executor.bound(env):
            if isinstance(policy, AdaptivePolicyConfig):
                stops = await run_rounds(
                    env, tasks, policy, lambda t, s: finished(env, t, s), batch.run, signal
                )
                outcome.stopped = stops
                batch.capped.update(
                    {t: r for t, r in stops.items() if r.startswith("per_task_usd")}
                )
            else:
                await batch.run(items, close=True)
    except* BudgetExceededError as group:
        outcome.status, outcome.reason = "budget_exhausted", describe(first_leaf(group))
    if adaptive and outcome.status == "finished":
        for task_id in tasks:
            await batch.close(task_id)
    return outcome


async def _task_caps(env: RunEnv) -> TaskCaps | None:
    cap = env.config.budget.per_task_usd
    if cap is None:
        return None
    return TaskCaps(env, cap, await env.store.spend_by_sample(env.run_id))


class _Batch:
    """Runs items through the one fan-out; tracks failures and per-problem caps."""

    def __init__(
        self,
        env: RunEnv,
        pipeline: Pipeline,
        outcome: Outcome,
        caps: TaskCaps | None,
        executor: Executor,
        kind: str,
    ) -> None:
        self.env, self.pipeline, self.outcome, self.caps = env, pipeline, outcome, caps
        self.executor, self.kind = executor, kind
        self.failures: dict[str, list[str]] = defaultdict(list)
        self.capped: dict[str, str] = {}

    async def run(self, items: list[tuple[str, int]], close: bool = False) -> None:
        """Run ``items``; with ``close``, mark each problem once its last item ends."""
        left: dict[str, int] = defaultdict(int)
        for task_id, _ in items:
            left[task_id] += 1

        async def work(item: WorkItem) -> WorkResult:
            try:
                result = await self.one(item)
            finally:
                left[item.task_id] -= 1
            if close and left[item.task_id] == 0:
                await self.close(item.task_id)
            return result

        run_id = self.env.run_id
        records = [WorkItem(run_id=run_id, kind=self.kind, task_id=t, sample=s) for t, s in items]
        width = self.env.config.concurrency.in_flight
        await self.executor.run(records, work, max_workers=width)

    async def one(self, item: WorkItem) -> WorkResult:
        env, task_id, sample = self.env, item.task_id, item.sample
        if finished(env, task_id, sample):
            return WorkResult(run_id=env.run_id, task_id=task_id, sample=sample, status="skipped")
        held = 0.0
        if self.caps is not None:
            held, reason = self.caps.hold(task_id)
            if reason is not None:
                self.capped[task_id] = reason
                await env.store.set_trajectory(
                    env.run_id, task_id, sample, status="capped", error=reason
                )
                return WorkResult(
                    run_id=env.run_id, task_id=task_id, sample=sample, status="capped", error=reason
                )
        try:
            # The executor says where the attempt runs (here, or rebuilt on another node).
            error = await self.executor.attempt(
                item, lambda: _attempts(env, self.pipeline, task_id, sample)
            )
        except* ScopeBudgetExceededError as group:
            # The problem's child ledger refused a call or exec: stop this sample, not the run.
            error, reason = None, describe(first_leaf(group))
            self.capped[task_id] = reason
            await env.store.set_trajectory(
                env.run_id, task_id, sample, status="capped", error=reason
            )
        finally:
            if self.caps is not None:
                await self.caps.release(task_id, held)
        if error is not None:
            self.failures[task_id].append(error)
            return WorkResult(
                run_id=env.run_id, task_id=task_id, sample=sample, status="error", error=error
            )
        cand = env.state.candidates.get((task_id, sample))
        resolved = cand.resolved if cand is not None else None
        return WorkResult(
            run_id=env.run_id, task_id=task_id, sample=sample, status="done", resolved=resolved
        )

    async def close(self, task_id: str) -> None:
        """Mark a problem done, capped, or failed (with the reason) when no sample finished."""
        env, errors = self.env, self.failures.get(task_id, [])
        done = any(finished(env, task_id, s) for s in range(env.config.sampling.k))
        name = self.pipeline.dataset_name
        error: str | None
        if errors and not done:
            self.outcome.errors[task_id] = errors[-1]
            status, error = "failed", errors[-1]
        elif task_id in self.capped:
            status, error = "capped", self.capped[task_id]
        else:  # some samples finished: done, note the rest
            status, error = "done", errors[-1] if errors else None
        await env.store.set_task(env.run_id, task_id, dataset=name, status=status, error=error)


async def _attempts(env: RunEnv, pipeline: Pipeline, task_id: str, sample: int) -> str | None:
    """Run one item, retrying infrastructure failures; the last failure's reason, or None."""
    reason = ""
    key = (task_id, sample)
    candidate = env.state.candidates.get(key)
    traj = env.state.trajectories.get(key)
    if traj is None or traj.stage != GRADING:
        candidate = None  # stored before its trajectory finished: rebuild it from the steps
    for _ in range(ATTEMPTS):
        await env.store.set_trajectory(env.run_id, task_id, sample, status="running", attempt=True)
        try:
            if candidate is None:
                candidate = await pipeline.trajectory(task_id, sample)
                await env.store.save_candidate(env.run_id, candidate)
                env.state.candidates[key] = candidate
                await env.store.set_trajectory(
                    env.run_id, task_id, sample, stage=GRADING, status="running"
                )
            resolved = await pipeline.grade(candidate)
            await env.store.set_resolved(env.run_id, task_id, sample, resolved)
            env.state.candidates[key] = candidate.model_copy(update={"resolved": resolved})
            await env.store.set_trajectory(env.run_id, task_id, sample, stage="done", status="done")
            env.state.trajectories[(task_id, sample)] = Trajectory(
                run_id=env.run_id, task_id=task_id, sample=sample, stage="done", status="done"
            )
            env.progress.advance(GRADING)
            return None
        except INFRA_ERRORS as exc:
            reason = describe(exc)
            await env.store.set_trajectory(
                env.run_id, task_id, sample, status="error", error=reason
            )
            env.progress.note(f"{task_id} sample {sample}: {reason}")
        except ContextOverflowError as exc:
            reason = describe(exc)
            await env.store.set_trajectory(
                env.run_id, task_id, sample, status="context_exhausted", error=reason
            )
            env.progress.note(f"{task_id} sample {sample}: {reason}")
            return reason
    return reason

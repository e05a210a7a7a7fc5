"""Writes and reads of ``agentlab run``: the run row, problems, trajectories, turns, candidates.

Every write is idempotent on the tables' unique keys (run, task, sample, stage, step for a
turn; run, task, source, sample for a candidate), so a step replayed after a crash never
becomes a second row. Resume reads back, per trajectory, the finished steps of each stage;
the state machines replay them and continue at the next step.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from agentlab.errors import ConfigError
from agentlab.store import runs
from agentlab.store.db import Store
from agentlab.store.run_tables import (
    CandidateRow,
    PolicyDecision,
    Trajectory,
    Turn,
    candidate_of,
    candidate_row,
)
from agentlab.store.tables import LLMCall, Run, SandboxExec, Task, utcnow
from agentlab.types import Candidate

CONTEXT_SAMPLE = -1  # turns of the per-problem context stage, shared by every sample


@dataclass
class RunState:
    """What a run has done so far, as resume needs it."""

    turns: dict[tuple[str, int, str], list[str]] = field(default_factory=dict)
    trajectories: dict[tuple[str, int], Trajectory] = field(default_factory=dict)
    candidates: dict[tuple[str, int], Candidate] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)

    def steps(self, task_id: str, sample: int, stage: str) -> list[str]:
        """The stored record JSON of each finished step of one stage, in step order."""
        return self.turns.get((task_id, sample, stage), [])


class RunStore:
    """``agentlab run`` queries over a :class:`Store`; async methods run off the loop."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------------- the run

    async def start_run(
        self, run_id: str, *, name: str, config: Mapping[str, Any], config_hash: str, seed: int
    ) -> None:
        """Create the run row, or mark an existing one running again (resume)."""
        await runs.start_run(
            self.store,
            run_id,
            kind="run",
            name=name,
            config=config,
            config_hash=config_hash,
            seed=seed,
        )

    def run_config(self, run_id: str) -> dict[str, Any]:
        """The stored config of ``run_id`` (for ``--resume``); ConfigError if unknown."""

        def op(s: Session) -> str:
            run = s.get(Run, run_id)
            if run is None or run.kind != "run":
                raise ConfigError(
                    f"--resume {run_id}: no such experiment run in {self.store.safe_url}; "
                    'list runs with: agentlab sql "select id, name, status from run"'
                )
            return run.config_json

        data: dict[str, Any] = json.loads(self.store.call(op))
        return data

    async def finish_run(self, run_id: str, status: str, spent_usd: float) -> None:
        await runs.finish_run(self.store, run_id, status, spent_usd=spent_usd)

    async def spent_usd(self, run_id: str) -> float:
        """Dollars already charged to this run: LLM calls and sandbox time (the ledger starts
        from it)."""
        return sum((await self.spend_by_task(run_id)).values())

    async def spend_by_task(self, run_id: str) -> dict[str, float]:
        """Dollars charged per problem, LLM calls and sandbox execs together."""

        def op(s: Session) -> dict[str, float]:
            spend: dict[str, float] = {}
            for table in (LLMCall, SandboxExec):
                rows = s.exec(
                    select(table.task_id, func.sum(table.usd))
                    .where(col(table.run_id) == run_id)
                    .group_by(col(table.task_id))
                ).all()
                for task, usd in rows:
                    spend[str(task)] = spend.get(str(task), 0.0) + float(usd or 0.0)
            return spend

        return await self.store.acall(op)

    async def spend_by_sample(self, run_id: str) -> dict[tuple[str, int], float]:
        """Dollars of the run's LLM calls per (problem, sample); the context stage is -1."""

        def op(s: Session) -> dict[tuple[str, int], float]:
            rows = s.exec(
                select(LLMCall.task_id, LLMCall.sample, func.sum(LLMCall.usd))
                .where(col(LLMCall.run_id) == run_id)
                .group_by(col(LLMCall.task_id), col(LLMCall.sample))
            ).all()
            return {(str(t), int(n)): float(u or 0.0) for t, n, u in rows}

        return await self.store.acall(op)

    # ---------------------------------------------------------------- policy decisions

    async def save_decision(self, row: PolicyDecision) -> None:
        """Store one round's decision (a replayed round replaces its row)."""
        values = {
            "run_id": row.run_id,
            "round": row.round,
            "policy": row.policy,
            "digest": row.digest,
            "state_json": row.state_json,
            "items_json": row.items_json,
            "stops_json": row.stops_json,
            "stop_all": row.stop_all,
            "created_at": utcnow(),
        }
        changed = ("policy", "digest", "state_json", "items_json", "stops_json", "stop_all")

        def op(s: Session) -> None:
            _upsert(s, PolicyDecision, values, ("run_id", "round"), changed)

        await self.store.acall(op)

    async def decisions(self, run_id: str) -> list[PolicyDecision]:
        """The run's policy decisions in round order."""

        def op(s: Session) -> list[PolicyDecision]:
            query = select(PolicyDecision).where(PolicyDecision.run_id == run_id)
            return list(s.exec(query.order_by(col(PolicyDecision.round))).all())

        return await self.store.acall(op)

    # -------------------------------------------------------------------------- state

    async def load(self, run_id: str) -> RunState:
        """Everything stored for ``run_id`` that resume needs."""
        return await self.store.acall(lambda s: load_state(s, run_id))

    async def refresh_task(self, state: RunState, run_id: str, task_id: str) -> None:
        """Replace ``task_id``'s part of ``state`` by what the store holds now (other
        processes may have written it); the rest of ``state`` is left as it is. One problem's
        rows, not the run's: the cost of a work item does not grow with the run."""
        fresh = await self.store.acall(lambda s: load_state(s, run_id, task_id))
        _swap_task(state.turns, fresh.turns, task_id)
        _swap_task(state.trajectories, fresh.trajectories, task_id)
        _swap_task(state.candidates, fresh.candidates, task_id)
        state.tasks.pop(task_id, None)
        state.tasks.update(fresh.tasks)

    async def load_item(
        self, run_id: str, task_id: str, sample: int
    ) -> tuple[Trajectory | None, Candidate | None]:
        """One (problem, sample)'s trajectory and candidate, as another process left them."""

        def op(s: Session) -> tuple[Trajectory | None, Candidate | None]:
            traj = s.exec(
                select(Trajectory).where(
                    Trajectory.run_id == run_id,
                    Trajectory.task_id == task_id,
                    Trajectory.sample == sample,
                )
            ).first()
            cand = s.exec(
                select(CandidateRow).where(
                    CandidateRow.run_id == run_id,
                    CandidateRow.task_id == task_id,
                    CandidateRow.source == "",
                    CandidateRow.sample == sample,
                )
            ).first()
            return traj, None if cand is None else candidate_of(cand)

        return await self.store.acall(op)

    async def save_turn(
        self,
        run_id: str,
        task_id: str,
        sample: int,
        stage: str,
        step: int,
        action: str,
        record: str,
    ) -> None:
        """Store one finished step (a second write of the same step replaces the first)."""
        values = {
            "run_id": run_id,
            "task_id": task_id,
            "sample": sample,
            "stage": stage,
            "step": step,
            "action": action,
            "record_json": record,
            "created_at": utcnow(),
        }
        keys = ("run_id", "task_id", "sample", "stage", "step")

        def op(s: Session) -> None:
            _upsert(s, Turn, values, keys, ("action", "record_json"))

        await self.store.acall(op)

    async def set_trajectory(
        self,
        run_id: str,
        task_id: str,
        sample: int,
        *,
        status: str,
        stage: str | None = None,
        error: str | None = None,
        attempt: bool = False,
    ) -> None:
        """Set a trajectory's ``status`` (and ``stage``); ``attempt`` counts a new attempt."""
        values: dict[str, Any] = {
            "run_id": run_id,
            "task_id": task_id,
            "sample": sample,
            "stage": stage or "pending",
            "status": status,
            "error": error,
            "attempts": int(attempt),
            "updated_at": utcnow(),
        }
        # On conflict: the new status, error and time; the stage only if given; one more
        # attempt only if this is one.
        update = ("status", "error", "updated_at") + (("stage",) if stage is not None else ())
        increment = ("attempts",) if attempt else ()

        def op(s: Session) -> None:
            _upsert(s, Trajectory, values, ("run_id", "task_id", "sample"), update, increment)

        await self.store.acall(op)

    async def set_task(
        self, run_id: str, task_id: str, *, dataset: str, status: str, error: str | None = None
    ) -> None:
        """Record where one problem got to (``failed`` carries the reason)."""

        def op(s: Session) -> None:
            row = s.exec(select(Task).where(Task.run_id == run_id, Task.task_id == task_id)).first()
            row = row or Task(run_id=run_id, task_id=task_id, dataset=dataset)
            row.status, row.error, row.updated_at = status, error, utcnow()
            s.add(row)

        await self.store.acall(op)

    # --------------------------------------------------------------------- candidates

    async def save_candidate(self, run_id: str, candidate: Candidate) -> None:
        """Insert or replace the candidate of (run, task, source, sample)."""
        row = candidate_row(run_id, candidate)

        def op(s: Session) -> None:
            old = s.exec(
                select(CandidateRow).where(
                    CandidateRow.run_id == row.run_id,
                    CandidateRow.task_id == row.task_id,
                    CandidateRow.source == row.source,
                    CandidateRow.sample == row.sample,
                )
            ).first()
            if old is not None:
                old.patch, old.patch_sha, old.test = row.patch, row.patch_sha, row.test
                old.status, old.resolved, old.usd = row.status, row.resolved, row.usd
                s.add(old)
            else:
                s.add(row)

        await self.store.acall(op)

    async def set_resolved(self, run_id: str, task_id: str, sample: int, resolved: bool) -> None:
        """Record this run's candidate's hidden-test verdict."""
        await self._update_candidate(run_id, task_id, sample, resolved=resolved)

    async def set_test(self, run_id: str, task_id: str, sample: int, test: str) -> None:
        """Attach a test written after the trajectory (agent kinds) to this run's candidate."""
        await self._update_candidate(run_id, task_id, sample, test=test)

    async def _update_candidate(
        self, run_id: str, task_id: str, sample: int, **values: bool | str
    ) -> None:
        def op(s: Session) -> None:
            row = s.exec(
                select(CandidateRow).where(
                    CandidateRow.run_id == run_id,
                    CandidateRow.task_id == task_id,
                    CandidateRow.source == "",
                    CandidateRow.sample == sample,
                )
            ).first()
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)
                s.add(row)

        await self.store.acall(op)

    async def stage_costs(self, run_id: str) -> dict[str, tuple[float, int]]:
        """Dollars and tokens by role (stage) for the run's LLM calls, plus sandbox time."""

        def op(s: Session) -> dict[str, tuple[float, int]]:
            rows = s.exec(
                select(
                    LLMCall.role,
                    func.sum(LLMCall.usd),
                    func.sum(LLMCall.prompt_tokens + LLMCall.completion_tokens),
                )
                .where(col(LLMCall.run_id) == run_id)
                .group_by(LLMCall.role)
            ).all()
            costs = {str(r): (float(u or 0.0), int(t or 0)) for r, u, t in rows}
            sandbox = s.exec(
                select(func.sum(SandboxExec.usd)).where(col(SandboxExec.run_id) == run_id)
            ).one()
            if sandbox:
                costs["sandbox"] = (float(sandbox), 0)  # CPU time of every exec, no tokens
            return costs

        return await self.store.acall(op)

    async def replayed_usd(self, run_id: str) -> float:
        """What the run's cache replays cost when their answers were first made (not billed)."""

        def op(s: Session) -> float:
            total = s.exec(
                select(func.sum(LLMCall.replayed_usd)).where(col(LLMCall.run_id) == run_id)
            )
            return float(total.one() or 0.0)

        return await self.store.acall(op)

    async def candidates(self, run_id: str) -> list[Candidate]:
        """The run's own candidates (imported ones left out)."""

        def op(s: Session) -> list[Candidate]:
            query = select(CandidateRow).where(
                CandidateRow.run_id == run_id, CandidateRow.source == ""
            )
            return [candidate_of(row) for row in s.exec(query)]

        return await self.store.acall(op)


K = TypeVar("K", bound=tuple[Any, ...])
V = TypeVar("V")


def _swap_task(mine: dict[K, V], theirs: dict[K, V], task_id: str) -> None:
    """Drop ``mine``'s entries of ``task_id`` (keys start with it), then take ``theirs``."""
    for key in [k for k in mine if k[0] == task_id]:
        del mine[key]
    mine.update(theirs)


def load_state(s: Session, run_id: str, task_id: str | None = None) -> RunState:
    """A run's stored turns, trajectories, own candidates and problems (one session); only
    ``task_id``'s rows when it is given."""
    state = RunState()

    def only(model: Any) -> Any:
        clause = model.run_id == run_id
        return clause if task_id is None else (clause & (model.task_id == task_id))

    turns = s.exec(select(Turn).where(only(Turn)).order_by(col(Turn.step))).all()
    grouped: dict[tuple[str, int, str], list[str]] = defaultdict(list)
    for t in turns:
        grouped[(t.task_id, t.sample, t.stage)].append(t.record_json)
    state.turns = dict(grouped)
    for tr in s.exec(select(Trajectory).where(only(Trajectory))).all():
        state.trajectories[(tr.task_id, tr.sample)] = tr
    for c in s.exec(
        select(CandidateRow).where(only(CandidateRow), CandidateRow.source == "")
    ).all():
        state.candidates[(c.task_id, c.sample)] = candidate_of(c)
    for task in s.exec(select(Task).where(only(Task))).all():
        state.tasks[task.task_id] = task
    return state


# Built once per shape and reused: constructing the statement (and its ``excluded`` columns)
# cost more CPU than executing it.
_UPSERTS: dict[tuple[Any, ...], Any] = {}


def _upsert(
    session: Session,
    model: type[SQLModel],
    values: dict[str, Any],
    keys: tuple[str, ...],
    update: tuple[str, ...],
    increment: tuple[str, ...] = (),
) -> None:
    """One INSERT ... ON CONFLICT DO UPDATE (SQLite and PostgreSQL): no read, no ORM object.

    On conflict the ``update`` columns take the new row's values and the ``increment``
    columns grow by one. These writes sit on the hot path of every trajectory step; a
    select-then-write through the ORM costs several times as much CPU.
    """
    dialect = session.get_bind().dialect.name
    shape = (model, dialect, tuple(values), keys, update, increment)
    stmt = _UPSERTS.get(shape)
    if stmt is None:
        table = model.__table__  # type: ignore[attr-defined]
        base = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        changes: dict[str, Any] = {c: base.excluded[c] for c in update}
        changes |= {c: table.c[c] + 1 for c in increment}
        stmt = base.on_conflict_do_update(index_elements=list(keys), set_=changes)
        _UPSERTS[shape] = stmt
    session.execute(stmt, values)

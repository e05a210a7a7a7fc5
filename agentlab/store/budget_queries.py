"""Reading a run's per-sample outcomes and costs, for ``agentlab budget fit`` and ``plan``.

Returns plain records (lists of ids and a problems x samples boolean matrix as nested lists)
so the budget package, which must not import the store, can take them as numpy arrays.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from agentlab.errors import ConfigError
from agentlab.store.db import Store
from agentlab.store.run_store import CONTEXT_SAMPLE, RunState, load_state
from agentlab.store.run_tables import CandidateRow
from agentlab.store.scoring_tables import Selection
from agentlab.store.tables import Evaluation, LLMCall, Run, SandboxExec

OwnTest = Callable[[RunState, str, int], bool]  # a task kind's own_test_signal


@dataclass(frozen=True)
class RunOutcomes:
    """Per-instance, per-sample resolved flags of one run, and what its samples cost."""

    run_id: str
    instance_ids: list[str]
    resolved: list[list[bool]]  # instances x samples, truncated to the smallest sample count
    samples: int
    llm_usd: float  # all LLM spend of the run
    llm_usd_by_role: dict[str, float]
    sandbox_seconds: float
    run_kind: str = ""
    dropped: int = 0  # graded samples beyond the smallest per-instance count, not used


def read_run_outcomes(store: Store, run_id: str, *, min_problems: int = 5) -> RunOutcomes:
    """Load a run's evaluation rows; one-line errors for a missing or too small run."""

    def query(session: Session) -> RunOutcomes:
        run = session.get(Run, run_id)
        if run is None:
            raise ConfigError(f"run {run_id!r} is not in the store; list runs with `agentlab sql`")
        rows = session.exec(
            select(Evaluation.instance_id, Evaluation.sample, Evaluation.resolved).where(
                Evaluation.run_id == run_id
            )
        ).all()
        by_instance: dict[str, dict[int, bool]] = defaultdict(dict)
        for instance_id, sample, resolved in rows:
            by_instance[instance_id][sample] = bool(resolved)
        if len(by_instance) < min_problems:
            raise ConfigError(
                f"run {run_id!r} has evaluations for {len(by_instance)} instance(s); "
                f"fitting needs at least {min_problems}"
            )
        width = min(len(s) for s in by_instance.values())
        ids = sorted(by_instance)
        matrix = [[by_instance[i][s] for s in sorted(by_instance[i])[:width]] for i in ids]
        roles = session.exec(
            select(LLMCall.role, func.sum(LLMCall.usd))
            .where(LLMCall.run_id == run_id)
            .group_by(LLMCall.role)
        ).all()
        seconds = session.exec(
            select(func.sum(SandboxExec.duration_s)).where(col(SandboxExec.run_id) == run_id)
        ).one()
        by_role = {str(role): float(usd or 0.0) for role, usd in roles}
        return RunOutcomes(
            run_id,
            ids,
            matrix,
            width,
            sum(by_role.values()),
            by_role,
            float(seconds or 0.0),
            run.kind,
            sum(len(s) for s in by_instance.values()) - width * len(ids),
        )

    return store.call(query)


def save_prediction(
    store: Store, run_id: str, *, point: float, low: float, high: float, budget_usd: float
) -> None:
    """Store a budgeted run's predicted score and interval before it starts."""

    def write(session: Session) -> None:
        run = session.get(Run, run_id)
        if run is None:
            raise ConfigError(f"run {run_id!r} is not in the store; create it before predicting")
        run.predicted_score, run.predicted_low, run.predicted_high = point, low, high
        run.budget_usd = budget_usd
        session.add(run)

    store.call(write)


def save_realized(store: Store, run_id: str, score: float, spent_usd: float) -> Run:
    """Store the realized score and spend; returns the run row holding both scores."""

    def write(session: Session) -> Run:
        run = session.get(Run, run_id)
        if run is None:
            raise ConfigError(f"run {run_id!r} is not in the store")
        run.realized_score, run.spent_usd = score, spent_usd
        session.add(run)
        return run

    return store.call(write)


@dataclass(frozen=True)
class StoredSamples:
    """A run's graded samples as a replay draws them: problems x samples, stored order.

    Each problem keeps its first ``samples`` graded samples by sample index (the smallest
    count any problem has; ``dropped`` counts the graded samples beyond it). ``usd`` per
    sample is its LLM calls' dollars, plus the problem's shared context calls (sample -1) on
    its first sample, plus the problem's sandbox dollars split evenly over its graded samples
    (``sandbox_exec`` rows carry no sample index). ``tokens`` is prompt + completion tokens
    of the same calls. ``own_test`` is None unless a signal function was given.
    """

    run_id: str
    run_kind: str
    instance_ids: list[str]
    samples: int
    dropped: int
    resolved: list[list[bool]]
    usd: list[list[float]]
    tokens: list[list[int]]
    patch_sha: list[list[str]]
    own_test: list[list[bool]] | None
    llm_calls: int


def read_stored_samples(
    store: Store, run_id: str, own_test: OwnTest | None = None
) -> StoredSamples:
    """Load what a replay of ``run_id`` needs; one-line errors for a missing or ungraded run."""

    def query(session: Session) -> StoredSamples:
        run = session.get(Run, run_id)
        if run is None:
            raise ConfigError(f"run {run_id!r} is not in the store; list runs with `agentlab sql`")
        graded: dict[str, dict[int, tuple[bool, str]]] = defaultdict(dict)
        for iid, sample, resolved, sha in session.exec(
            select(
                Evaluation.instance_id, Evaluation.sample, Evaluation.resolved, Evaluation.patch_sha
            ).where(Evaluation.run_id == run_id)
        ).all():
            graded[iid][sample] = (bool(resolved), sha)
        if not graded:
            raise ConfigError(
                f"run {run_id!r} has no graded samples (evaluation rows); grade it first"
            )
        # The run's own candidates carry the normalised sha the run's policy compared.
        for row in session.exec(
            select(CandidateRow).where(CandidateRow.run_id == run_id, CandidateRow.source == "")
        ).all():
            if row.sample in graded.get(row.task_id, {}):
                graded[row.task_id][row.sample] = (
                    graded[row.task_id][row.sample][0],
                    row.patch_sha,
                )
        calls = session.execute(
            sa_select(
                col(LLMCall.task_id),
                col(LLMCall.sample),
                func.sum(LLMCall.usd),
                func.sum(LLMCall.prompt_tokens + LLMCall.completion_tokens),
                func.count(),
            )
            .where(col(LLMCall.run_id) == run_id)
            .group_by(col(LLMCall.task_id), col(LLMCall.sample))
        ).all()
        spend = {(str(t), int(n)): (float(u or 0.0), int(k or 0)) for t, n, u, k, _ in calls}
        sandbox = dict(
            session.exec(
                select(SandboxExec.task_id, func.sum(SandboxExec.usd))
                .where(col(SandboxExec.run_id) == run_id)
                .group_by(col(SandboxExec.task_id))
            ).all()
        )
        state = load_state(session, run_id) if own_test is not None else None
        ids = sorted(graded)
        width = min(len(s) for s in graded.values())
        rows = [sorted(graded[i])[:width] for i in ids]
        usd, tokens = [], []
        for iid, samples in zip(ids, rows, strict=True):
            share = float(sandbox.get(iid) or 0.0) / len(graded[iid])
            context = spend.get((iid, CONTEXT_SAMPLE), (0.0, 0))
            usd.append(
                [
                    spend.get((iid, s), (0.0, 0))[0] + share + (context[0] if j == 0 else 0.0)
                    for j, s in enumerate(samples)
                ]
            )
            tokens.append(
                [
                    spend.get((iid, s), (0.0, 0))[1] + (context[1] if j == 0 else 0)
                    for j, s in enumerate(samples)
                ]
            )
        return StoredSamples(
            run_id=run_id,
            run_kind=run.kind,
            instance_ids=ids,
            samples=width,
            dropped=sum(len(s) for s in graded.values()) - width * len(ids),
            resolved=[[graded[i][s][0] for s in r] for i, r in zip(ids, rows, strict=True)],
            usd=usd,
            tokens=tokens,
            patch_sha=[[graded[i][s][1] for s in r] for i, r in zip(ids, rows, strict=True)],
            own_test=None
            if own_test is None or state is None
            else [[own_test(state, i, s) for s in r] for i, r in zip(ids, rows, strict=True)],
            llm_calls=sum(int(n) for *_, n in calls),
        )

    return store.call(query)


def count_llm_calls(store: Store) -> int:
    """Rows in ``llm_call`` (all runs): a replay checks it made none."""
    return store.call(lambda s: int(s.exec(select(func.count()).select_from(LLMCall)).one()))


# ``llm_call.role`` of model calls made while selecting (``agentlab run`` uses the roles
# ``selection`` / ``verifier``, ``agentlab select`` labels ``selection`` / ``verifier_*``).
SELECTION_ROLES = ("selection", "verifier")


@dataclass(frozen=True)
class SelectionOutcome:
    """One selection method's picks in a run, graded: selected and coverage over problems."""

    method: str
    problems: int  # problems with candidates
    k: int  # median candidates per problem
    coverage: float
    selected: float
    model_usd: float  # dollars of the run's selection-stage model calls (all methods)


def read_selection_outcomes(store: Store, run_id: str) -> list[SelectionOutcome]:
    """Per method with stored picks: selected score and coverage from graded candidates.

    A candidate never graded counts as not resolved (as in ``agentlab report``).
    """

    def query(session: Session) -> list[SelectionOutcome]:
        cands = session.exec(select(CandidateRow).where(CandidateRow.run_id == run_id)).all()
        picks = session.exec(select(Selection).where(Selection.run_id == run_id)).all()
        if not cands or not picks:
            return []
        grade = {c.id: bool(c.resolved) for c in cands}
        per_task: dict[str, list[bool]] = defaultdict(list)
        for c in cands:
            per_task[c.task_id].append(bool(c.resolved))
        counts = sorted(len(v) for v in per_task.values())
        coverage = sum(any(v) for v in per_task.values()) / len(per_task)
        chosen: dict[str, dict[str, bool]] = defaultdict(dict)
        for p in picks:
            if p.task_id in per_task:
                chosen[p.method][p.task_id] = grade.get(p.candidate_id, False)
        usd = 0.0
        for role, total in session.exec(
            select(LLMCall.role, func.sum(LLMCall.usd))
            .where(col(LLMCall.run_id) == run_id)
            .group_by(col(LLMCall.role))
        ).all():
            if str(role).startswith(SELECTION_ROLES):
                usd += float(total or 0.0)
        return [
            SelectionOutcome(
                method,
                len(per_task),
                counts[len(counts) // 2],
                coverage,
                sum(by_task.values()) / len(per_task),
                usd,
            )
            for method, by_task in sorted(chosen.items())
        ]

    return store.call(query)

"""Reading a run's per-sample outcomes and costs, for ``agentlab budget fit`` and ``plan``.

Returns plain records (lists of ids and a problems x samples boolean matrix as nested lists)
so the budget package, which must not import the store, can take them as numpy arrays.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from agentlab.errors import ConfigError
from agentlab.store.db import Store
from agentlab.store.tables import Evaluation, LLMCall, Run, SandboxExec


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


def read_run_outcomes(store: Store, run_id: str, *, min_problems: int = 5) -> RunOutcomes:
    """Load a run's evaluation rows; one-line errors for a missing or too small run."""

    def query(session: Session) -> RunOutcomes:
        if session.get(Run, run_id) is None:
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
            run_id, ids, matrix, width, sum(by_role.values()), by_role, float(seconds or 0.0)
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

"""Tables of experiment runs (``agentlab run``): trajectories, their steps, and candidates.

A trajectory is one sample (k of them per problem), iterating through stages (context,
testing, editing); each finished step is one ``turn`` row, written as it happens, so a resumed
run continues at the exact (problem, stage, sample, step). A ``candidate`` is a trajectory's
final (diff, test), or one imported from a predictions file or another run for ensembling.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from agentlab.store.tables import utcnow
from agentlab.types import Candidate


def _run_fk() -> Column[str]:
    return Column(String(128), ForeignKey("run.id", ondelete="CASCADE"), nullable=False, index=True)


class Trajectory(SQLModel, table=True):
    """One sample of one problem in a run, and where it got to."""

    __tablename__ = "trajectory"
    __table_args__ = (UniqueConstraint("run_id", "task_id", "sample"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    sample: int
    stage: str = Field(default="pending", max_length=32)  # pending|context|testing|editing|done
    # pending | running | done | failed (the model's fault) | error (infrastructure; retried)
    status: str = Field(default="pending", max_length=32, index=True)
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class Turn(SQLModel, table=True):
    """One finished step of a trajectory's state machine, with its messages and executions."""

    __tablename__ = "turn"
    __table_args__ = (UniqueConstraint("run_id", "task_id", "sample", "stage", "step"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    sample: int
    stage: str = Field(max_length=32)
    step: int
    action: str = Field(default="", max_length=32)
    record_json: str = Field(sa_column=Column(Text, nullable=False))  # the typed step record
    created_at: datetime = Field(default_factory=utcnow)


class CandidateRow(SQLModel, table=True):
    """A candidate solution: a diff (or completion) and the test its trajectory wrote."""

    __tablename__ = "candidate"
    __table_args__ = (UniqueConstraint("run_id", "task_id", "source", "sample"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    source: str = Field(default="", max_length=512)  # "" for this run; run:ID or a file
    sample: int = 0
    patch: str = Field(default="", sa_column=Column(Text, nullable=False))
    patch_sha: str = Field(default="", max_length=64, index=True)  # of the normalised diff
    test: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="final", max_length=32)  # final | format_failure | exhausted
    resolved: bool | None = None  # under the hidden tests, once graded
    usd: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class PolicyDecision(SQLModel, table=True):
    """One decision of a run's allocation policy, between two rounds of samples.

    ``state_json`` is the allocation state the policy saw (per problem: samples, agreement,
    dollars), ``digest`` its sha256, ``items_json`` the (problem, sample) pairs scheduled and
    ``stops_json`` the problems stopped in this round with the reason. A resumed run replays
    the policy on each stored state and checks it gives the stored decision.
    """

    __tablename__ = "policy_decision"
    __table_args__ = (UniqueConstraint("run_id", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    round: int
    policy: str = Field(default="", max_length=32)
    digest: str = Field(default="", max_length=64)
    state_json: str = Field(sa_column=Column(Text, nullable=False))
    items_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    stops_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    stop_all: bool = False
    created_at: datetime = Field(default_factory=utcnow)


def candidate_row(run_id: str, candidate: Candidate) -> CandidateRow:
    """The ``candidate`` row of a run's :class:`~agentlab.types.Candidate`."""
    return CandidateRow(run_id=run_id, **candidate.model_dump())


def candidate_of(row: CandidateRow) -> Candidate:
    """The :class:`~agentlab.types.Candidate` a ``candidate`` row holds."""
    return Candidate(
        id=row.id,
        task_id=row.task_id,
        sample=row.sample,
        source=row.source,
        patch=row.patch,
        patch_sha=row.patch_sha,
        test=row.test,
        status=row.status,
        resolved=row.resolved,
        usd=row.usd,
    )

"""Tables of scoring and selection: the test-vote matrix, verifier scores, and picks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Text
from sqlmodel import Field, SQLModel

from agentlab.store.tables import utcnow


def _run_fk() -> Column[str]:
    return Column(String(128), ForeignKey("run.id", ondelete="CASCADE"), nullable=False, index=True)


def _candidate_fk(nullable: bool) -> Column[int]:
    return Column(ForeignKey("candidate.id", ondelete="CASCADE"), nullable=nullable, index=True)


class TestVote(SQLModel, table=True):
    """One cell of the matrix: one generated test run against one candidate (or no patch)."""

    __tablename__ = "test_vote"
    __test__ = False  # not a pytest test class, despite the name

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    candidate_id: int | None = Field(default=None, sa_column=_candidate_fk(True))  # None: no patch
    test_candidate_id: int = Field(sa_column=_candidate_fk(False))  # whose test ran
    passed: bool
    exit_code: int
    timed_out: bool = False
    duration_s: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class VerifierScore(SQLModel, table=True):
    """A verifier model's judgement: pointwise (``judge``/``logprob``) or a pairwise match."""

    __tablename__ = "verifier_score"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    method: str = Field(max_length=32)  # judge | logprob | pairwise
    model: str = Field(default="", max_length=256)
    candidate_id: int = Field(sa_column=_candidate_fk(False))
    opponent_id: int | None = Field(default=None, sa_column=_candidate_fk(True))
    score: float
    rationale: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)


class Selection(SQLModel, table=True):
    """The candidate picked for a problem by one method, and why."""

    __tablename__ = "selection"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    method: str = Field(max_length=32)  # random | vote | judge | tournament | trajectory
    candidate_id: int | None = Field(default=None, sa_column=_candidate_fk(True))
    fallback: bool = False  # the method gave no valid pick; the top-voted candidate stands in
    reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)


class CandidateVote(SQLModel, table=True):
    """A candidate's votes and rank; duplicates point at the representative that ran."""

    __tablename__ = "candidate_vote"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    candidate_id: int = Field(sa_column=_candidate_fk(False))
    representative_id: int = Field(sa_column=_candidate_fk(False))  # same normalised diff
    votes: int = 0
    rank: int = 0  # 1 = best, by votes then shorter patch then lower id
    kept: bool = False  # among the top m passed on to selection
    applied: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class VoteTest(SQLModel, table=True):
    """What the matrix says about one generated test: flaky, reproducing, valid."""

    __tablename__ = "vote_test"
    __test__ = False  # not a pytest test class, despite the name

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    test_candidate_id: int = Field(sa_column=_candidate_fk(False))
    flaky: bool = False  # disagreed with itself on unchanged code
    fails_without_patch: bool = False  # reproduces the issue
    valid: bool = False  # counts as a vote: not flaky and reproducing
    passes: int = 0  # distinct candidates it passes on
    created_at: datetime = Field(default_factory=utcnow)


class SelectionTurn(SQLModel, table=True):
    """One step of the selection state machine: the model's reply and what it was shown."""

    __tablename__ = "selection_turn"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    step: int
    action: str = Field(max_length=32)  # test | pick | format_failure | exhausted
    reply: str = Field(default="", sa_column=Column(Text, nullable=False))
    feedback: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

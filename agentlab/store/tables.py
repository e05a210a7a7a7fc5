"""The result store's tables: what users query with plain SQL.

Names are singular and lower-case (``run``, ``evaluation``, ``llm_call``) so hand-written SQL
reads naturally. Every row that belongs to a run carries ``run_id``; timestamps are UTC.
Bump ``SCHEMA_VERSION`` and add a step to ``migrations.py`` when a table changes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 4


def utcnow() -> datetime:
    return datetime.now(UTC)


def _run_fk(nullable: bool = False) -> Column[str]:
    return Column(
        String(128), ForeignKey("run.id", ondelete="CASCADE"), nullable=nullable, index=True
    )


class SchemaInfo(SQLModel, table=True):
    __tablename__ = "schema_info"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=256)


class Run(SQLModel, table=True):
    """One invocation: an evaluation, an experiment run, a selection or a budget profile."""

    __tablename__ = "run"

    id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=32, index=True)  # eval | run | select | profile
    name: str = Field(default="", max_length=256)
    status: str = Field(default="running", max_length=32)  # running|finished|failed|interrupted
    config_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    config_hash: str = Field(default="", max_length=64)
    seed: int | None = None
    budget_usd: float | None = None
    spent_usd: float = 0.0
    predicted_score: float | None = None
    predicted_low: float | None = None
    predicted_high: float | None = None
    realized_score: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Task(SQLModel, table=True):
    """One problem inside a run, and where it got to."""

    __tablename__ = "task"
    __table_args__ = (UniqueConstraint("run_id", "task_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    task_id: str = Field(max_length=256, index=True)
    dataset: str = Field(default="", max_length=256)
    status: str = Field(default="pending", max_length=32)  # pending | running | done | failed
    error: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = Field(default_factory=utcnow)


class SandboxExec(SQLModel, table=True):
    """One command run in a sandbox: how long, how it ended, how much output was kept."""

    __tablename__ = "sandbox_exec"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str | None = Field(default=None, sa_column=_run_fk(nullable=True))
    sandbox_id: str = Field(default="", max_length=128)
    task_id: str = Field(default="", max_length=256)
    command: str = Field(default="", sa_column=Column(Text, nullable=False))
    exit_code: int
    duration_s: float
    timed_out: bool = False
    oom_killed: bool = False
    truncated: bool = False
    cpu_seconds: float = 0.0  # charged: wall seconds x CPUs reserved for the container
    usd: float = 0.0  # what those CPU-seconds were charged to the run's ledger
    created_at: datetime = Field(default_factory=utcnow)


class Evaluation(SQLModel, table=True):
    """The graded outcome of one prediction on one instance (the harness's report, in SQL)."""

    __tablename__ = "evaluation"
    __table_args__ = (UniqueConstraint("run_id", "instance_id", "model_name", "sample"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    instance_id: str = Field(max_length=256, index=True)
    model_name: str = Field(default="", max_length=256)
    sample: int = 0  # several samples per instance (pass@k) are graded side by side
    patch_sha: str = Field(default="", max_length=64)
    # resolved | unresolved | empty_patch | patch_failed | tampered | suspicious | error
    outcome: str = Field(max_length=32, index=True)
    resolved: bool = False
    patch_applied: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text))
    report_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    attempts: int = 1
    duration_s: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class TestResultRow(SQLModel, table=True):
    """One test's status inside one evaluation."""

    __test__ = False  # not a pytest test class, despite the name
    __tablename__ = "test_result"
    __table_args__ = (Index("ix_test_result_eval", "evaluation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(
        sa_column=Column(ForeignKey("evaluation.id", ondelete="CASCADE"), nullable=False)
    )
    test_id: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(max_length=16)  # FAIL_TO_PASS | PASS_TO_PASS | ...
    status: str = Field(max_length=16)  # PASSED | FAILED | ERROR | SKIPPED | XFAIL | MISSING
    passed: bool = False


class LLMCall(SQLModel, table=True):
    """One LLM call as the client wrapper made it: tokens, dollars, latency, attempts."""

    __tablename__ = "llm_call"
    # One trajectory's calls without scanning the whole run (the viewer's per-turn costs).
    __table_args__ = (Index("ix_llm_call_run_task", "run_id", "task_id", "sample"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str | None = Field(default=None, sa_column=_run_fk(nullable=True))
    role: str = Field(default="", max_length=64, index=True)
    task_id: str = Field(default="", max_length=256)
    sample: int = 0
    step: int = 0
    endpoint: str = Field(default="", max_length=256)
    model: str = Field(default="", max_length=256)
    request_hash: str = Field(default="", max_length=64)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # prompt-cache reads
    cache_write_tokens: int = 0  # prompt-cache writes (schema 4)
    usd: float = 0.0
    # usd with every prompt token billed as fresh input, minus usd (schema 4): the saving.
    cache_saved_usd: float = 0.0
    gpu_seconds: float = 0.0
    latency_s: float = 0.0
    attempts: int = 1
    cache_hit: bool = False
    # A replay (cache_hit) is billed $0; this is what its answer cost when it was first made.
    replayed_usd: float = 0.0
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)


class LLMCacheEntry(SQLModel, table=True):
    """A stored response, keyed by a hash of the full request and the sample index."""

    __tablename__ = "llm_cache"

    key: str = Field(primary_key=True, max_length=64)
    model: str = Field(default="", max_length=256)
    response_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

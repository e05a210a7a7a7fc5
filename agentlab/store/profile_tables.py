"""The ``throughput_profile`` table (queries in :mod:`agentlab.store.profile_store`).

Kept apart from the queries so :mod:`agentlab.store.db` can register every table without
importing a module that imports it back.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from agentlab.store.tables import _run_fk, utcnow


class ThroughputProfile(SQLModel, table=True):
    """One concurrency level of one endpoint's throughput profile."""

    __tablename__ = "throughput_profile"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    endpoint: str = Field(default="", max_length=256, index=True)
    model: str = Field(default="", max_length=256)
    concurrency: int
    requests: int  # requests that succeeded
    completion_tokens: int
    seconds: float  # wall time of the level
    tokens_per_s: float  # aggregate completion tokens/s
    requests_per_s: float
    p50_s: float
    p90_s: float
    errors: int = 0
    created_at: datetime = Field(default_factory=utcnow)

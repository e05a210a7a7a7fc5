"""The ``throughput_profile`` and ``endpoint_price`` tables (queries in
:mod:`agentlab.store.profile_store`).

Kept apart from the queries so :mod:`agentlab.store.db` can register every table without
importing a module that imports it back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
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


class EndpointPrice(SQLModel, table=True):
    """Where a run's price for one endpoint came from: its profile or pricing.yaml.

    Written when the run opens its clients (again on each resume, replacing the last)."""

    __tablename__ = "endpoint_price"
    __table_args__ = (UniqueConstraint("run_id", "endpoint"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=_run_fk())
    endpoint: str = Field(default="", max_length=256)
    model: str = Field(default="", max_length=256)
    kind: str = Field(default="", max_length=16)  # api | gpu | cpu
    source: str = Field(default="", max_length=32)  # profile | pricing.yaml | free
    profile_run_id: str | None = Field(default=None, max_length=128)
    concurrency: int | None = None  # the run's concurrency the rate was chosen for
    level: int | None = None  # the profiled level whose rate was used
    tokens_per_s: float | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

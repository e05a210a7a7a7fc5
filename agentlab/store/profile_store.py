"""Throughput profiles of endpoints: one ``throughput_profile`` row per concurrency level.

Each ``agentlab budget profile`` invocation is a ``run`` of kind ``profile`` (its config is the
endpoint, levels and request shape), and its rows point at that run, so profiles taken over
time can be compared with plain SQL::

    SELECT endpoint, concurrency, tokens_per_s, p50_s FROM throughput_profile ORDER BY created_at
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Field, Session, SQLModel, col, select

from agentlab.store.db import Store
from agentlab.store.tables import Run, _run_fk, utcnow


class LevelMeasurement(Protocol):
    """What one level's measurement provides (``agentlab.llm.profile.LevelResult`` fits)."""

    @property
    def concurrency(self) -> int: ...
    @property
    def requests(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def p50_s(self) -> float: ...
    @property
    def p90_s(self) -> float: ...
    @property
    def tokens_per_s(self) -> float: ...
    @property
    def requests_per_s(self) -> float: ...


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


def save_profile(
    store: Store,
    run_id: str,
    *,
    name: str,
    endpoint: str,
    model: str,
    config: dict[str, Any],
    results: Sequence[LevelMeasurement],
) -> None:
    """Write the finished ``profile`` run and one row per level, in one transaction."""

    def op(session: Session) -> None:
        session.add(
            Run(
                id=run_id,
                kind="profile",
                name=name,
                status="finished",
                config_json=json.dumps(config, sort_keys=True),
                finished_at=utcnow(),
            )
        )
        session.flush()  # the run must exist before rows point at it
        for r in results:
            session.add(
                ThroughputProfile(
                    run_id=run_id,
                    endpoint=endpoint,
                    model=model,
                    concurrency=r.concurrency,
                    requests=r.requests,
                    completion_tokens=r.completion_tokens,
                    seconds=r.seconds,
                    tokens_per_s=r.tokens_per_s,
                    requests_per_s=r.requests_per_s,
                    p50_s=r.p50_s,
                    p90_s=r.p90_s,
                    errors=r.errors,
                )
            )

    store.call(op)


def read_profile(store: Store, run_id: str) -> list[ThroughputProfile]:
    """The rows of one profile run, by concurrency."""

    def op(session: Session) -> list[ThroughputProfile]:
        query = (
            select(ThroughputProfile)
            .where(ThroughputProfile.run_id == run_id)
            .order_by(col(ThroughputProfile.concurrency))
        )
        return list(session.exec(query).all())

    return store.call(op)


def latest_profile(store: Store, endpoint: str) -> list[ThroughputProfile]:
    """The rows of ``endpoint``'s most recent profile run (empty if it was never profiled)."""

    def op(session: Session) -> str | None:
        query = (
            select(ThroughputProfile.run_id)
            .where(ThroughputProfile.endpoint == endpoint)
            .order_by(col(ThroughputProfile.created_at).desc(), col(ThroughputProfile.id).desc())
        )
        return session.exec(query).first()

    run_id = store.call(op)
    return [] if run_id is None else read_profile(store, run_id)

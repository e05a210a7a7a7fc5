"""Throughput profiles of endpoints: one ``throughput_profile`` row per concurrency level.

Each ``agentlab budget profile`` invocation is a ``run`` of kind ``profile`` (its config is the
endpoint, levels and request shape), and its rows point at that run, so profiles taken over
time can be compared with plain SQL::

    SELECT endpoint, concurrency, tokens_per_s, p50_s FROM throughput_profile ORDER BY created_at
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from sqlmodel import Session, col, select

from agentlab.store.db import Store
from agentlab.store.profile_tables import EndpointPrice, ThroughputProfile
from agentlab.store.tables import Run, utcnow

__all__ = [
    "EndpointPrice",
    "LevelMeasurement",
    "ThroughputProfile",
    "endpoint_prices",
    "latest_profile",
    "profile_levels",
    "read_profile",
    "save_endpoint_prices",
    "save_profile",
]


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


def latest_profile(
    store: Store, endpoint: str, model: str | None = None
) -> list[ThroughputProfile]:
    """The rows of ``endpoint``'s most recent profile run (empty if it was never profiled);
    with ``model``, only a profile of that model behind the endpoint counts."""

    def op(session: Session) -> str | None:
        query = select(ThroughputProfile.run_id).where(ThroughputProfile.endpoint == endpoint)
        if model is not None:
            query = query.where(ThroughputProfile.model == model)
        query = query.order_by(
            col(ThroughputProfile.created_at).desc(), col(ThroughputProfile.id).desc()
        )
        return session.exec(query).first()

    run_id = store.call(op)
    return [] if run_id is None else read_profile(store, run_id)


def profile_levels(
    store: Store, endpoint: str, model: str
) -> tuple[str, list[tuple[int, float]]] | None:
    """The newest profile of ``endpoint`` serving ``model``: its run id and its
    ``(concurrency, tokens_per_s)`` levels; None if there is none."""
    rows = latest_profile(store, endpoint, model)
    if not rows:
        return None
    return rows[0].run_id, [(r.concurrency, r.tokens_per_s) for r in rows]


def save_endpoint_prices(store: Store, run_id: str, prices: Sequence[EndpointPrice]) -> None:
    """Replace ``run_id``'s price-source rows with ``prices`` (one transaction)."""

    def op(session: Session) -> None:
        for old in session.exec(select(EndpointPrice).where(EndpointPrice.run_id == run_id)):
            session.delete(old)
        session.flush()
        for row in prices:
            row.run_id = run_id
            session.add(row)

    store.call(op)


def endpoint_prices(store: Store, run_id: str) -> list[EndpointPrice]:
    """Where ``run_id``'s prices came from, one row per endpoint."""

    def op(session: Session) -> list[EndpointPrice]:
        query = (
            select(EndpointPrice)
            .where(EndpointPrice.run_id == run_id)
            .order_by(col(EndpointPrice.endpoint))
        )
        return list(session.exec(query).all())

    return store.call(op)

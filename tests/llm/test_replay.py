"""Replay: the same run twice through the store cache makes the server see each request once."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from agentlab.llm import request_key
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.tables import LLMCall
from agentlab.types import CallContext, ChatRequest, Message
from tests.llm.conftest import http_client

TASKS = ["fix the parser", "add a test", "rename foo"]


async def run_once(server: ScriptedServer, store: Store) -> list[str]:
    client = http_client(server, store)
    try:
        calls = [
            client.generate(
                ChatRequest(model="", messages=(Message(role="user", content=t),), seed=7),
                CallContext(run_id="run-1", role="edit", task_id=t, sample=s),
            )
            for t in TASKS
            for s in range(3)
        ]
        return [r.choices[0].text for r in await asyncio.gather(*calls)]
    finally:
        await client.aclose()


async def test_second_run_is_served_from_the_cache(server: ScriptedServer, store: Store) -> None:
    first = await run_once(server, store)
    assert len(server.requests) == 9  # three samples of three tasks: nine distinct keys
    second = await run_once(server, store)
    assert second == first
    assert len(server.requests) == 9  # nothing new reached the server
    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    assert len(rows) == 18
    hits = [r for r in rows if r.cache_hit]
    assert len(hits) == 9 and all(r.usd == 0 and r.attempts == 0 for r in hits)


def test_key_depends_on_every_field_and_the_sample() -> None:
    base = ChatRequest(model="m", messages=(Message(role="user", content="x"),))
    keys = {
        request_key(base, 0),
        request_key(base, 1),
        request_key(base.model_copy(update={"temperature": 0.0}), 0),
        request_key(base.model_copy(update={"model": "other"}), 0),
        request_key(base.model_copy(update={"stop": ("\n",)}), 0),
    }
    assert len(keys) == 5
    assert request_key(base, 0) == request_key(
        ChatRequest.model_validate_json(base.model_dump_json()), 0
    )


async def test_a_replay_keeps_the_original_cost_on_its_row(
    server: ScriptedServer, store: Store
) -> None:
    """A second run replaying the first is billed $0, and says what it would have cost."""
    await run_once(server, store)
    await run_once(server, store)
    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    paid = {r.request_hash: r.usd for r in rows if not r.cache_hit}
    hits = [r for r in rows if r.cache_hit]
    assert len(hits) == 9 and all(r.usd == 0 for r in hits)
    assert all(r.replayed_usd == paid[r.request_hash] > 0 for r in hits)
    assert all(r.replayed_usd == 0 for r in rows if not r.cache_hit)


async def test_a_client_can_bypass_the_cache(server: ScriptedServer, store: Store) -> None:
    await run_once(server, store)
    client = http_client(server, store, replay=False)
    try:
        again = await client.generate(
            ChatRequest(model="", messages=(Message(role="user", content=TASKS[0]),), seed=7),
            CallContext(run_id="run-1", role="edit", task_id=TASKS[0], sample=0),
        )
    finally:
        await client.aclose()
    assert again.choices[0].text
    assert len(server.requests) == 10  # asked the model again
    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    assert not any(r.cache_hit for r in rows) and rows[-1].usd > 0

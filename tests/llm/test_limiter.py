"""Adaptive concurrency: never more in flight than the limit; 429 halves it; successes grow it."""

from __future__ import annotations

import asyncio

from agentlab.llm import LimitConfig, LLMClient, ScriptedModel
from agentlab.llm.limiter import AdaptiveLimiter
from agentlab.types import ChatRequest, Message


async def test_in_flight_never_exceeds_the_limit() -> None:
    client = LLMClient(
        ScriptedModel(latency_s=0.01), model="scripted", limits=LimitConfig(initial=5, max=5)
    )
    request = ChatRequest(model="", messages=(Message(role="user", content="x"),))
    await asyncio.gather(*(client.generate(request) for _ in range(40)))
    assert client.limiter.peak == 5 and client.limiter.in_flight == 0


def test_aimd() -> None:
    limiter = AdaptiveLimiter(LimitConfig(initial=8, min=2, max=10))
    limiter.on_rate_limited()
    assert limiter.limit == 4
    limiter.on_rate_limited()  # same wave of failures: no second cut
    assert limiter.limit == 4
    for _ in range(4):
        limiter.on_success()
    assert limiter.limit == 5


async def test_cancelled_waiter_gives_its_slot_back() -> None:
    limiter = AdaptiveLimiter(LimitConfig(initial=1, max=1))
    entered = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with limiter.slot():
            entered.set()
            await release.wait()

    async def waiter() -> None:
        async with limiter.slot():
            pass

    hold = asyncio.create_task(holder())
    await entered.wait()
    wait = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    wait.cancel()
    release.set()
    await hold
    await asyncio.gather(wait, return_exceptions=True)
    assert limiter.in_flight == 0
    async with limiter.slot():  # the slot is free again
        assert limiter.in_flight == 1

"""The hard budget: reserve the worst case, settle the truth, never spend past the cap."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlmodel import select

from agentlab.errors import BudgetExceededError
from agentlab.llm import BudgetLedger, LimitConfig, LLMClient, ScriptedModel
from agentlab.llm.budget import prompt_token_ceiling
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.tables import LLMCall
from agentlab.types import CallContext, ChatRequest, Message
from tests.llm.conftest import PRICE, http_client


def ask(i: int) -> ChatRequest:
    return ChatRequest(
        model="", messages=(Message(role="user", content=f"task {i}: write code"),), max_tokens=200
    )


def test_reservation_is_refused_past_the_cap_and_carries_spent() -> None:
    ledger = BudgetLedger(1.0)
    first = ledger.reserve(0.6)
    with pytest.raises(BudgetExceededError) as info:
        ledger.reserve(0.5)
    assert info.value.spent_usd == 0.0 and info.value.cap_usd == 1.0
    ledger.settle(first, 0.2)
    ledger.settle(first, 0.2)  # settling twice is a no-op
    assert ledger.spent_usd == pytest.approx(0.2) and ledger.reserved_usd == 0
    ledger.reserve(0.5)  # fits now that the real cost is known


def test_ledger_is_thread_safe() -> None:
    ledger = BudgetLedger(10.0)

    def worker() -> None:
        for _ in range(500):
            try:
                r = ledger.reserve(0.01)
            except BudgetExceededError:
                continue
            ledger.settle(r, 0.01)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.spent_usd == pytest.approx(10.0)  # 4000 tries, exactly 1000 fit


def test_prompt_ceiling_is_an_upper_bound_on_scripted_tokens() -> None:
    request = ask(1)
    reply = ScriptedModel().reply(request)
    assert prompt_token_ceiling(request) >= reply.usage.prompt_tokens


async def test_many_concurrent_calls_never_spend_past_the_cap(
    server: ScriptedServer, store: Store
) -> None:
    server.model.latency_s = 0.02
    # Each call reserves ~0.00046 and really costs ~0.00002: the cap admits ~20 calls at once.
    cap = 0.01
    ledger = BudgetLedger(cap)
    client = http_client(server, store, ledger=ledger, limits=LimitConfig(initial=64, max=64))

    async def one(i: int) -> bool:
        try:
            await client.generate(ask(i), CallContext(run_id="run-1", sample=i))
            return True
        except BudgetExceededError as exc:
            assert exc.spent_usd <= cap
            return False

    try:
        results = await asyncio.gather(*(one(i) for i in range(300)))
    finally:
        await client.aclose()
    assert any(results) and not all(results)
    calls = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    assert len(calls) == 300
    spent = sum(c.usd for c in calls)
    assert spent == pytest.approx(ledger.spent_usd) and spent <= cap
    refused = [c for c in calls if c.error and "BudgetExceededError" in c.error]
    assert len(refused) == results.count(False) and all(c.attempts == 0 for c in refused)
    assert len(server.requests) == results.count(True)  # refused calls never reach the wire


async def test_budget_counts_real_cost_of_scripted_backend() -> None:
    ledger = BudgetLedger(None)
    client = LLMClient(
        ScriptedModel(default="a b c d"), model="scripted", price=PRICE, ledger=ledger
    )
    response = await client.generate(ask(0))
    expected = PRICE.cost(response.usage).usd
    assert expected > 0
    assert ledger.spent_usd == pytest.approx(expected)

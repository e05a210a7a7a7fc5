"""Per-problem child ledgers: ``budget.per_task_usd`` is as hard as the run's cap."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from agentlab.errors import BudgetExceededError, ScopeBudgetExceededError
from agentlab.llm import BudgetLedger, ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.tables import LLMCall
from agentlab.types import CallContext, ChatRequest, Message
from tests.llm.conftest import http_client


def ask(i: int) -> ChatRequest:
    return ChatRequest(model="", messages=(Message(role="user", content=f"try {i}"),))


async def test_concurrent_calls_of_one_problem_never_pass_its_cap(
    model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.latency_s = 0.05  # calls of one problem overlap, as a fan-out's first wave does
    probe = http_client(server)
    one = probe.ceiling_usd(ask(0))
    await probe.aclose()
    cap = 3.5 * one  # room for three calls' worst case per problem, not ten
    ledger = BudgetLedger(1.0, scope_cap_usd=cap)
    client = http_client(server, store, ledger=ledger)

    async def call(task: str, i: int) -> str:
        context = CallContext(run_id="run-1", role="edit", task_id=task, sample=i)
        try:
            await client.generate(ask(i), context)
        except ScopeBudgetExceededError as exc:
            assert exc.scope == task
            return "capped"
        return "ok"

    try:
        outcomes = await asyncio.gather(*(call(t, i) for t in ("a", "b") for i in range(10)))
    finally:
        await client.aclose()
    assert outcomes.count("ok") == 6 and outcomes.count("capped") == 14
    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    for task in ("a", "b"):
        spent = sum(r.usd for r in rows if r.task_id == task)
        assert 0 < spent <= cap
        assert ledger.scope_spent_usd(task) == pytest.approx(spent)
    assert ledger.spent_usd == pytest.approx(sum(r.usd for r in rows))


def test_a_scope_reservation_must_fit_the_run_cap_too() -> None:
    ledger = BudgetLedger(1.0, scope_cap_usd=0.8, scope_spent_usd={"a": 0.5})
    with pytest.raises(ScopeBudgetExceededError, match="per_task_usd: a"):
        ledger.reserve(0.4, scope="a")
    held = ledger.reserve(0.7, scope="b")
    with pytest.raises(BudgetExceededError):  # b fits its own cap, not the run's
        ledger.reserve(0.4, scope="c")
    ledger.settle(held, 0.1)
    assert ledger.scope_spent_usd("b") == pytest.approx(0.1)
    assert ledger.spent_usd == pytest.approx(0.1)

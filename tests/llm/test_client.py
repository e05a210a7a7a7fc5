"""The wrapper with the in-process scripted backend: timeouts, retries, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from agentlab.errors import LLMTimeoutError
from agentlab.llm import BudgetLedger, Fault, LLMClient, RetryConfig, ScriptedModel
from agentlab.types import CallContext, ChatRequest, ChatResponse, Cost, Message
from tests.llm.conftest import PRICE

REQUEST = ChatRequest(model="", messages=(Message(role="user", content="go"),), max_tokens=10)
FAST = RetryConfig(max_attempts=3, backoff_base_s=0.01)


class Rows:
    """A CallRecorder keeping rows in memory (the protocol, not a fake of the store)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    async def record_call(
        self,
        *,
        context: CallContext,
        endpoint: str,
        model: str,
        request_hash: str,
        response: ChatResponse | None,
        cost: Cost,
        attempts: int,
        cache_hit: bool,
        error: str | None,
        replayed_usd: float = 0.0,
    ) -> None:
        self.rows.append({"attempts": attempts, "error": error, "usd": cost.usd})


async def test_backend_without_its_own_timeout_is_bounded_by_the_client() -> None:
    model = ScriptedModel()
    model.inject(Fault(kind="hang", times=3, hang_s=30))
    client = LLMClient(model, model="scripted", timeout_s=0.1, retry=FAST)
    with pytest.raises(LLMTimeoutError, match=r"no answer within 0\.1s"):
        await client.generate(REQUEST)


async def test_in_process_rate_limit_is_retried() -> None:
    model = ScriptedModel(default="done")
    model.inject(Fault(kind="rate_limit", times=2, retry_after=0.01))
    rows = Rows()
    client = LLMClient(model, model="scripted", retry=FAST, recorder=rows, price=PRICE)
    response = await client.generate(REQUEST)
    assert response.choices[0].text == "done"
    assert rows.rows == [{"attempts": 3, "error": None, "usd": PRICE.cost(response.usage).usd}]


async def test_cancelled_call_settles_its_reservation_and_is_recorded() -> None:
    ledger = BudgetLedger(1.0)
    rows = Rows()
    client = LLMClient(
        ScriptedModel(latency_s=30), model="scripted", price=PRICE, ledger=ledger, recorder=rows
    )
    task = asyncio.create_task(client.generate(REQUEST))
    await asyncio.sleep(0.05)
    assert ledger.reserved_usd > 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Cancelled in flight: the provider may bill it, so the whole reservation is charged.
    ceiling = client.ceiling_usd(REQUEST)
    assert ledger.reserved_usd == 0 and ledger.spent_usd == pytest.approx(ceiling)
    assert client.limiter.in_flight == 0
    assert rows.rows == [{"attempts": 1, "error": "CancelledError", "usd": ceiling}]

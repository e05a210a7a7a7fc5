"""What a failed, timed-out or cancelled call costs: never less than the provider may bill.

Every call goes over real HTTP to the scripted server; the ledger's spend must equal the sum
of the recorded ``llm_call.usd`` and must cover the worst case of every attempt the provider
may have processed.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from agentlab.errors import (
    BudgetExceededError,
    FatalLLMError,
    LLMTimeoutError,
    MalformedResponseError,
    RateLimitedError,
    RetryableLLMError,
)
from agentlab.llm import AnthropicEndpoint, BudgetLedger, Fault, RetryConfig, ScriptedModel
from agentlab.llm.budget import prompt_token_ceiling
from agentlab.llm.factory import open_client
from agentlab.llm.pricing import GpuPrice
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.tables import LLMCall
from agentlab.types import CallContext, ChatRequest, Message
from tests.llm.conftest import PRICE, http_client

CTX = CallContext(run_id="run-1", role="edit", task_id="t1")


def ask(text: str = "write solve()", n: int = 1, max_tokens: int = 50) -> ChatRequest:
    return ChatRequest(
        model="", messages=(Message(role="user", content=text),), max_tokens=max_tokens, n=n
    )


def ceiling(request: ChatRequest) -> float:
    return PRICE.ceiling(prompt_token_ceiling(request), request.max_tokens * request.n)


def recorded_usd(store: Store) -> float:
    return sum(r.usd for r in store.call(lambda s: list(s.exec(select(LLMCall)).all())))


@pytest.mark.parametrize(
    ("kind", "error"),
    [("server_error", RetryableLLMError), ("malformed", MalformedResponseError)],
)
async def test_failed_attempts_settle_at_their_reservation(
    kind: str, error: type[Exception], model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.inject(Fault(kind=kind, times=10))  # type: ignore[arg-type]
    ledger = BudgetLedger(1.0)
    client = http_client(server, store, ledger=ledger)
    try:
        with pytest.raises(error):
            await client.generate(ask(), CTX)
    finally:
        await client.aclose()
    attempts = len(server.requests)
    assert attempts == (4 if kind == "server_error" else 1)
    assert ledger.spent_usd == pytest.approx(attempts * ceiling(ask()))
    assert ledger.reserved_usd == 0
    assert recorded_usd(store) == pytest.approx(ledger.spent_usd)


async def test_failed_attempts_before_a_success_are_charged_too(
    model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.inject(Fault(kind="server_error", times=2))
    ledger = BudgetLedger(1.0)
    client = http_client(server, store, ledger=ledger)
    try:
        response = await client.generate(ask(), CTX)
    finally:
        await client.aclose()
    expected = 2 * ceiling(ask()) + PRICE.cost(response.usage).usd
    assert ledger.spent_usd == pytest.approx(expected)
    assert recorded_usd(store) == pytest.approx(expected)


async def test_timed_out_call_settles_at_its_reservation(
    model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.inject(Fault(kind="hang", times=1, hang_s=30))
    ledger = BudgetLedger(1.0)
    client = http_client(
        server, store, ledger=ledger, timeout_s=0.3, retry=RetryConfig(max_attempts=1)
    )
    try:
        with pytest.raises(LLMTimeoutError):
            await client.generate(ask(), CTX)
    finally:
        await client.aclose()
    assert ledger.spent_usd == pytest.approx(ceiling(ask()))
    assert recorded_usd(store) == pytest.approx(ledger.spent_usd)


async def test_cancelled_call_in_flight_settles_at_its_reservation(
    model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.inject(Fault(kind="hang", times=1, hang_s=30))
    ledger = BudgetLedger(1.0)
    client = http_client(server, store, ledger=ledger)
    try:
        task = asyncio.create_task(client.generate(ask(), CTX))
        for _ in range(2000):  # until the request has reached the provider
            if server.requests:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await client.aclose()
    assert ledger.spent_usd == pytest.approx(ceiling(ask()))
    assert ledger.reserved_usd == 0
    assert recorded_usd(store) == pytest.approx(ledger.spent_usd)


@pytest.mark.parametrize(
    ("kind", "error"), [("rate_limit", RateLimitedError), ("unauthorized", FatalLLMError)]
)
async def test_refused_requests_are_not_charged(
    kind: str, error: type[Exception], model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.inject(Fault(kind=kind, times=10, retry_after=0.01))  # type: ignore[arg-type]
    ledger = BudgetLedger(1.0)
    client = http_client(server, store, ledger=ledger)
    try:
        with pytest.raises(error):
            await client.generate(ask(), CTX)
    finally:
        await client.aclose()
    assert ledger.spent_usd == 0 and ledger.reserved_usd == 0
    assert recorded_usd(store) == 0


async def test_a_retry_that_would_pass_the_cap_is_refused(
    model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.inject(Fault(kind="server_error", times=10))
    cap = 2.5 * ceiling(ask())
    ledger = BudgetLedger(cap)
    client = http_client(server, store, ledger=ledger)
    try:
        with pytest.raises(BudgetExceededError):
            await client.generate(ask(), CTX)
    finally:
        await client.aclose()
    assert len(server.requests) == 2
    assert ledger.spent_usd == pytest.approx(2 * ceiling(ask())) and ledger.spent_usd <= cap
    assert recorded_usd(store) == pytest.approx(ledger.spent_usd)


async def test_anthropic_n_samples_reserve_the_prompt_n_times(
    model: ScriptedModel, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Messages API has no ``n``: n requests each bill the whole prompt."""
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-test")
    request = ask(" ".join(["a"] * 1000), n=3, max_tokens=1)
    once = PRICE.ceiling(prompt_token_ceiling(request), 3)
    cap = 1.2 * once  # above a reservation of one prompt, below the bill of three
    ledger = BudgetLedger(cap)
    config = AnthropicEndpoint(
        name="claude-test",
        model="scripted",
        base_url=server.root_url,
        api_key_env="TEST_ANTHROPIC_KEY",
    )
    async with open_client(config, price=PRICE, ledger=ledger) as client:
        with pytest.raises(BudgetExceededError):
            await client.generate(request)
    assert ledger.spent_usd <= cap
    assert server.requests == []


async def test_self_hosted_gpu_time_is_charged_to_the_same_ledger(
    model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    """A GPU-priced endpoint: its calls' GPU-seconds are dollars on the run's ledger, and a
    call that timed out is charged the GPU time it may have held."""
    gpu = GpuPrice(gpu_hour_usd=3.6, gpus=2, tokens_per_s=100.0)
    ledger = BudgetLedger(1.0)
    client = http_client(server, store, ledger=ledger, pricing=gpu, timeout_s=0.3)
    model.inject(Fault(kind="hang", times=4, hang_s=30))
    try:
        with pytest.raises(LLMTimeoutError):
            await client.generate(ask("first"), CTX)
        timed_out = ledger.spent_usd
        response = await client.generate(ask("second"), CTX)
    finally:
        await client.aclose()
    reserved = gpu.ceiling(prompt_token_ceiling(ask("first")), 50)
    assert timed_out == pytest.approx(4 * reserved)
    used = gpu.cost(response.usage)
    assert used.gpu_seconds > 0
    assert ledger.spent_usd == pytest.approx(timed_out + used.usd)
    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    assert rows[-1].gpu_seconds == pytest.approx(used.gpu_seconds)
    assert recorded_usd(store) == pytest.approx(ledger.spent_usd)

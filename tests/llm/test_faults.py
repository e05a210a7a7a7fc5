"""Fault injection over real HTTP: retried faults succeed, fatal ones fail fast, none is cached."""

from __future__ import annotations

import pytest
from sqlmodel import select

from agentlab.errors import (
    FatalLLMError,
    LLMTimeoutError,
    MalformedResponseError,
    RateLimitedError,
    RetryableLLMError,
)
from agentlab.llm import AnthropicEndpoint, Fault, RetryConfig, ScriptedModel
from agentlab.llm.anthropic import AnthropicBackend
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.tables import LLMCacheEntry, LLMCall
from agentlab.types import CallContext, ChatRequest, Message
from tests.llm.conftest import http_client

CTX = CallContext(run_id="run-1", role="edit", task_id="t1", sample=0, step=0)


def ask(text: str = "write solve()") -> ChatRequest:
    return ChatRequest(model="", messages=(Message(role="user", content=text),), max_tokens=50)


def rows(store: Store) -> list[LLMCall]:
    return store.call(lambda s: list(s.exec(select(LLMCall)).all()))


def cache_rows(store: Store) -> list[LLMCacheEntry]:
    return store.call(lambda s: list(s.exec(select(LLMCacheEntry)).all()))


@pytest.mark.parametrize("kind", ["rate_limit", "server_error"])
async def test_transient_faults_are_retried_and_succeed(
    kind: str, model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.inject(Fault(kind=kind, times=2))  # type: ignore[arg-type]
    client = http_client(server, store)
    try:
        response = await client.generate(ask(), CTX)
    finally:
        await client.aclose()
    assert response.choices[0].text == "def solve(): return 42"
    assert [r.status for r in server.requests] == [429 if kind == "rate_limit" else 500] * 2 + [200]
    [row] = rows(store)
    assert (row.attempts, row.error, row.cache_hit) == (3, None, False)
    assert row.completion_tokens == 4 and row.usd > 0


async def test_retry_after_is_honoured(model: ScriptedModel, server: ScriptedServer) -> None:
    model.inject(Fault(kind="rate_limit", retry_after=0.4))
    client = http_client(server)
    try:
        await client.generate(ask())
    finally:
        await client.aclose()
    first, second = server.requests
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 0.4  # never earlier than the server asked


async def test_rate_limit_lowers_the_concurrency_limit(
    model: ScriptedModel, server: ScriptedServer
) -> None:
    model.inject(Fault(kind="rate_limit", retry_after=0.0))
    client = http_client(server)
    before = client.limiter.limit
    try:
        await client.generate(ask())
    finally:
        await client.aclose()
    assert client.limiter.limit == before // 2


async def test_hang_times_out_and_is_not_an_answer(
    model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.inject(Fault(kind="hang", times=2, hang_s=30))
    client = http_client(
        server, store, timeout_s=0.3, retry=RetryConfig(max_attempts=2, backoff_base_s=0.01)
    )
    try:
        with pytest.raises(LLMTimeoutError, match="scripted-http"):
            await client.generate(ask(), CTX)
    finally:
        await client.aclose()
    [row] = rows(store)
    assert row.attempts == 2 and row.error and "LLMTimeoutError" in row.error
    assert row.completion_tokens == 0 and row.usd == pytest.approx(2 * client.ceiling_usd(ask()))
    assert cache_rows(store) == []


@pytest.mark.parametrize("kind", ["malformed", "bad_usage"])
async def test_malformed_replies_raise_typed_errors_without_retry(
    kind: str, model: ScriptedModel, server: ScriptedServer, store: Store
) -> None:
    model.inject(Fault(kind=kind))  # type: ignore[arg-type]
    client = http_client(server, store)
    try:
        with pytest.raises(MalformedResponseError, match="scripted-http"):
            await client.generate(ask(), CTX)
    finally:
        await client.aclose()
    assert len(server.requests) == 1
    [row] = rows(store)
    assert row.error and "MalformedResponseError" in row.error
    assert row.usd == pytest.approx(client.ceiling_usd(ask()))  # the provider billed it
    assert cache_rows(store) == []


async def test_bad_key_fails_fast_naming_endpoint_and_key(
    model: ScriptedModel, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    monkeypatch.setenv("SCRIPTED_KEY", "wrong-key-123")
    with ScriptedServer(model, api_key="right") as server:
        client = http_client(server, store, api_key_env="SCRIPTED_KEY")
        try:
            with pytest.raises(FatalLLMError) as info:
                await client.generate(ask(), CTX)
        finally:
            await client.aclose()
        assert len(server.requests) == 1  # fails fast: no retries
    message = str(info.value)
    assert "scripted-http" in message and "API key" in message and "SCRIPTED_KEY" in message
    assert "wrong-key-123" not in message
    [row] = rows(store)
    assert row.error and "wrong-key-123" not in row.error


async def test_unknown_model_fails_fast_naming_model(model: ScriptedModel) -> None:
    with ScriptedServer(model, known_models=("real-model",)) as server:
        client = http_client(server, model="no-such-model")
        try:
            with pytest.raises(FatalLLMError, match="unknown model 'no-such-model'") as info:
                await client.generate(ask())
        finally:
            await client.aclose()
        assert len(server.requests) == 1
    assert info.value.status == 404 and info.value.endpoint == "scripted-http"


async def test_connection_refused_is_retryable_then_gives_up(server: ScriptedServer) -> None:
    server.stop()  # nothing listens on the port any more
    client = http_client(server, retry=RetryConfig(max_attempts=2, backoff_base_s=0.01))
    try:
        with pytest.raises(RetryableLLMError, match="connection failed"):
            await client.generate(ask())
    finally:
        await client.aclose()


async def test_retry_that_would_pass_the_total_time_bound_is_not_attempted(
    model: ScriptedModel, server: ScriptedServer
) -> None:
    model.inject(Fault(kind="rate_limit", retry_after=30))
    client = http_client(server, retry=RetryConfig(max_attempts=5, max_total_s=1.0))
    try:
        with pytest.raises(RateLimitedError) as info:
            await client.generate(ask())
    finally:
        await client.aclose()
    assert info.value.retry_after == 30
    assert len(server.requests) == 1  # gave up at once instead of sleeping past the bound


async def test_anthropic_nonsense_usage_is_malformed(
    model: ScriptedModel, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-test")
    model.inject(Fault(kind="bad_usage"))
    backend = AnthropicBackend(
        AnthropicEndpoint(
            name="claude-test",
            model="scripted",
            base_url=server.root_url,
            api_key_env="TEST_ANTHROPIC_KEY",
        )
    )
    try:
        with pytest.raises(MalformedResponseError, match="input_tokens"):
            await backend.generate(ask())
    finally:
        await backend.aclose()

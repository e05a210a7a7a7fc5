"""Prompt caching over real HTTP: the Anthropic wire marks the shared prefix with
cache_control, the scripted server reports cache writes then reads, and the ledger and the
``llm_call`` rows price them with pricing.yaml's rates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from agentlab.llm import AnthropicEndpoint, BudgetLedger, LLMClient, ScriptedModel, open_client
from agentlab.llm.anthropic import request_body
from agentlab.llm.client import request_key
from agentlab.llm.pricing import ApiPrice, load_pricing
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.llm_log import StoreCallRecorder, cache_totals
from agentlab.store.tables import LLMCall
from agentlab.types import CallContext, ChatRequest, Message

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SONNET = "claude-3-5-sonnet-20241022"
PROBLEM = " ".join(f"line{i}" for i in range(300))  # a long shared problem statement
MESSAGES = (
    Message(role="system", content="You fix bugs in Python repositories."),
    Message(role="user", content=f"Problem:\n{PROBLEM}\nWrite the patch."),
)


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel(default="diff --git a/x b/x")


@pytest.fixture
def sonnet() -> ApiPrice:
    price = load_pricing(CONFIGS / "pricing.yaml").price(SONNET)
    assert isinstance(price, ApiPrice)
    assert price.cached_per_mtok is not None and price.cache_write_per_mtok is not None
    return price


@pytest.fixture
async def client(
    server: ScriptedServer, store: Store, sonnet: ApiPrice, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LLMClient]:
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-test")
    config = AnthropicEndpoint(
        name="claude", model=SONNET, base_url=server.root_url, api_key_env="TEST_ANTHROPIC_KEY"
    )
    async with open_client(
        config, price=sonnet, ledger=BudgetLedger(10.0), recorder=StoreCallRecorder(store)
    ) as c:
        yield c


def _rows(store: Store) -> list[LLMCall]:
    return list(store.call(lambda s: s.exec(select(LLMCall).order_by(col(LLMCall.id))).all()))


def test_cache_control_marks_the_system_prompt_and_first_user_message() -> None:
    body = request_body(ChatRequest(model="m", messages=MESSAGES, cache_prefix=True), "m")
    assert body["system"] == [
        {"type": "text", "text": MESSAGES[0].content, "cache_control": {"type": "ephemeral"}}
    ]
    [first] = body["messages"]
    assert first["content"][-1]["cache_control"] == {"type": "ephemeral"}
    plain = request_body(ChatRequest(model="m", messages=MESSAGES), "m")
    assert plain["system"] == MESSAGES[0].content and isinstance(
        plain["messages"][0]["content"], str
    )
    # The mark changes the bill, not the answer: the response-cache key is the same.
    marked = ChatRequest(model="m", messages=MESSAGES, cache_prefix=True)
    assert request_key(marked, 0) == request_key(ChatRequest(model="m", messages=MESSAGES), 0)


async def test_k_samples_write_the_prefix_once_then_read_it(
    client: LLMClient, server: ScriptedServer, store: Store, sonnet: ApiPrice
) -> None:
    client.cache_prefix = True  # what a run with k > 1 sets
    for sample in range(3):
        await client.generate(
            ChatRequest(model="", messages=MESSAGES, temperature=0.8),
            CallContext(run_id="run-1", role="editing", sample=sample),
        )
    bodies = [r.body for r in server.requests]
    assert all(b["system"][0]["cache_control"] == {"type": "ephemeral"} for b in bodies)
    assert all(b["messages"][0]["content"][-1]["cache_control"] for b in bodies)

    rows = _rows(store)
    assert [(r.cache_write_tokens > 0, r.cached_prompt_tokens > 0) for r in rows] == [
        (True, False),
        (False, True),
        (False, True),
    ]
    prefix = rows[0].cache_write_tokens
    assert rows[1].cached_prompt_tokens == rows[2].cached_prompt_tokens == prefix
    assert prefix > 300  # the whole system prompt and problem statement
    assert cached_rate_and_write_rate_price(rows, sonnet)
    assert client.ledger.spent_usd == pytest.approx(sum(r.usd for r in rows))
    totals = cache_totals(store, "run-1")
    assert (totals.read_tokens, totals.write_tokens) == (2 * prefix, prefix)
    # saved = reads x (input - read price) - writes x (write price - input)
    saved = (
        2 * prefix * (sonnet.input_per_mtok - (sonnet.cached_per_mtok or 0))
        - prefix * ((sonnet.cache_write_per_mtok or 0) - sonnet.input_per_mtok)
    ) / 1e6
    assert totals.saved_usd == pytest.approx(saved) and saved > 0


def cached_rate_and_write_rate_price(rows: list[LLMCall], price: ApiPrice) -> bool:
    """Each row's usd is fresh input + reads + writes + output at pricing.yaml's rates."""
    for r in rows:
        fresh = r.prompt_tokens - r.cached_prompt_tokens - r.cache_write_tokens
        expected = (
            fresh * price.input_per_mtok
            + r.cached_prompt_tokens * (price.cached_per_mtok or 0)
            + r.cache_write_tokens * (price.cache_write_per_mtok or 0)
            + r.completion_tokens * price.output_per_mtok
        ) / 1e6
        assert r.usd == pytest.approx(expected), (r, expected)
    return True


async def test_unmarked_requests_are_not_cached(
    client: LLMClient, server: ScriptedServer, store: Store
) -> None:
    for sample in range(2):
        await client.generate(
            ChatRequest(model="", messages=MESSAGES), CallContext(run_id="run-1", sample=sample)
        )
    assert all(isinstance(r.body["system"], str) for r in server.requests)
    assert all((r.cached_prompt_tokens, r.cache_write_tokens) == (0, 0) for r in _rows(store))
    assert cache_totals(store, "run-1").saved_usd == 0.0

"""A prompt longer than the model's window: refused over real HTTP as llama-cpp-python refuses
it, mapped to ContextOverflowError with the server's numbers, never retried, never billed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlmodel import select

from agentlab.errors import ContextOverflowError, FatalLLMError
from agentlab.llm import LocalEndpoint, OpenAIEndpoint, ScriptedEndpoint, ScriptedModel
from agentlab.llm.budget import BudgetLedger
from agentlab.llm.overflow import context_overflow
from agentlab.llm.scripted import prompt_tokens
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.tables import LLMCacheEntry, LLMCall
from agentlab.types import CallContext, ChatRequest, Message
from tests.llm.conftest import http_client

LONG = ChatRequest(
    model="scripted",
    messages=(Message(role="user", content="word " * 80),),
    max_tokens=16,
)


def test_the_scripted_server_refuses_like_llama_cpp_python() -> None:
    with ScriptedServer(ScriptedModel(context_tokens=50)) as server:
        body = {"model": "scripted", "messages": [{"role": "user", "content": "word " * 80}]}
        reply = httpx.post(f"{server.base_url}/chat/completions", json={**body, "max_tokens": 16})
        short = httpx.post(
            f"{server.base_url}/chat/completions",
            json={**body, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["code"], error["type"], error["param"]) == (
        "context_length_exceeded",
        "invalid_request_error",
        "messages",
    )
    assert error["message"] == (
        "This model's maximum context length is 50 tokens. However, you requested 100 tokens "
        "(84 in the messages, 16 in the completion). Please reduce the length of the messages "
        "or completion."
    )
    assert short.status_code == 200


async def test_an_overflow_fails_fast_with_the_servers_numbers_and_costs_nothing(
    store: Store,
) -> None:
    ledger = BudgetLedger(1.0)
    with ScriptedServer(ScriptedModel(context_tokens=50)) as server:
        client = http_client(server, store, ledger=ledger)
        try:
            with pytest.raises(ContextOverflowError) as caught:
                await client.generate(LONG, CallContext(run_id="run-1", task_id="t1"))
        finally:
            await client.aclose()
        statuses = [r.status for r in server.requests]
    assert statuses == [400]  # not retried
    error = caught.value
    assert isinstance(error, FatalLLMError)
    assert (error.prompt_tokens, error.context_tokens, error.status) == (84, 50, 400)
    assert "scripted-http" in str(error) and "context window" in str(error)
    assert ledger.spent_usd == 0.0
    [row] = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    assert row.usd == 0.0 and row.error is not None and "ContextOverflowError" in row.error
    assert store.call(lambda s: list(s.exec(select(LLMCacheEntry)).all())) == []


async def test_the_in_process_scripted_model_refuses_the_same_way() -> None:
    model = ScriptedModel(context_tokens=prompt_tokens(LONG))
    with pytest.raises(ContextOverflowError) as caught:
        await model.generate(LONG)
    assert caught.value.prompt_tokens == prompt_tokens(LONG)
    model.context_tokens += 1
    assert (await model.generate(LONG)).usage.prompt_tokens == prompt_tokens(LONG)


REPLIES: list[tuple[str, Any, tuple[int | None, int | None] | None]] = [
    (
        "llama-cpp-python",
        {
            "error": {
                "message": "This model's maximum context length is 2048 tokens. However, you "
                "requested 2344 tokens (2088 in the messages, 256 in the completion). Please "
                "reduce the length of the messages or completion.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
        (2088, 2048),
    ),
    (
        "llama.cpp server",
        {
            "error": {
                "code": 400,
                "message": "request (4476 tokens) exceeds the available context size "
                "(4096 tokens), try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": 4476,
                "n_ctx": 4096,
            }
        },
        (4476, 4096),
    ),
    (
        "vLLM",
        {
            "object": "error",
            "message": "This model's maximum context length is 4096 tokens. However, your "
            "request has 5000 input tokens. Please reduce the length of the input messages.",
            "type": "BadRequestError",
            "code": 400,
        },
        (5000, 4096),
    ),
    (
        "Anthropic",
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "prompt is too long: 210000 tokens > 200000 maximum",
            },
        },
        (210000, 200000),
    ),
    (
        "no numbers",
        {"error": {"message": "context length exceeded", "code": "context_length_exceeded"}},
        (None, None),
    ),
    (
        "another 400",
        {"error": {"message": "temperature must be at most 2", "type": "invalid_request_error"}},
        None,
    ),
    ("not JSON", None, None),
]


@pytest.mark.parametrize(("server", "body", "expected"), REPLIES, ids=[r[0] for r in REPLIES])
def test_refusals_of_known_servers_are_recognised(
    server: str, body: Any, expected: tuple[int | None, int | None] | None
) -> None:
    text = json.dumps(body) if body is not None else "<html>Bad Request</html>"
    assert context_overflow(body, text) == expected


def test_an_endpoints_window_is_its_context_tokens_or_a_local_models_n_ctx() -> None:
    assert LocalEndpoint(name="l").window_tokens == 2048
    assert LocalEndpoint(name="l", n_ctx=4096).window_tokens == 4096
    assert LocalEndpoint(name="l", n_ctx=4096, context_tokens=1024).window_tokens == 1024
    remote = OpenAIEndpoint(name="o", model="m", base_url="http://127.0.0.1:1/v1")
    assert remote.window_tokens is None
    assert remote.model_copy(update={"context_tokens": 8192}).window_tokens == 8192
    assert ScriptedEndpoint(name="s", context_tokens=300).window_tokens == 300

"""Wire formats over real HTTP: OpenAI-compatible and Anthropic Messages, against the server."""

from __future__ import annotations

import pytest
from sqlmodel import select

from agentlab.errors import ConfigError, FatalLLMError
from agentlab.llm import AnthropicEndpoint, LLMClient, Rule, ScriptedModel
from agentlab.llm.anthropic import AnthropicBackend
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.tables import LLMCacheEntry, LLMCall
from agentlab.types import CallContext, ChatRequest, Message
from tests.llm.conftest import PRICE, endpoint, http_client

CONVERSATION = (
    Message(role="system", content="You write Python."),
    Message(role="user", content="write add"),
    Message(role="assistant", content="def add(a, b): return a - b"),
    Message(role="user", content="that subtracts; fix add"),
)


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel(
        [
            Rule(
                user="add",
                system="Python",
                replies=("def add(a, b): return a - b", "def add(a, b): return a + b  # {choice}"),
            ),
        ]
    )


async def test_openai_fields_round_trip(server: ScriptedServer) -> None:
    backend = OpenAIBackend(endpoint(server))
    request = ChatRequest(
        model="scripted",
        messages=CONVERSATION,
        n=3,
        stop=("\n\n",),
        seed=5,
        temperature=0.2,
        top_p=0.9,
        logprobs=True,
        top_logprobs=2,
    )
    try:
        response = await backend.generate(request)
    finally:
        await backend.aclose()
    assert [c.text for c in response.choices] == [
        f"def add(a, b): return a + b  # {i}" for i in range(3)
    ]  # turn 1 of the rule
    assert response.choices[0].logprobs and response.choices[0].logprobs[0].token == "def"
    assert len(response.choices[0].logprobs[0].top) == 2
    assert response.usage.completion_tokens == 3 * 9 and response.latency_s > 0
    [seen] = server.requests
    assert seen.request == request  # every field reached the server unchanged


async def test_anthropic_messages_round_trip(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-test")
    config = AnthropicEndpoint(
        name="claude-test",
        model="scripted",
        base_url=server.root_url,
        api_key_env="TEST_ANTHROPIC_KEY",
    )
    backend = AnthropicBackend(config)
    try:
        response = await backend.generate(ChatRequest(model="", messages=CONVERSATION, n=2))
        with pytest.raises(FatalLLMError, match="no logprobs"):
            await backend.generate(ChatRequest(model="", messages=CONVERSATION, logprobs=True))
    finally:
        await backend.aclose()
    assert [c.text for c in response.choices] == ["def add(a, b): return a + b  # 0"] * 2
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens == 18
    assert len(server.requests) == 2  # n=2 becomes two Messages requests
    seen = server.requests[0]
    assert seen.path == "/v1/messages" and seen.auth == "sk-test"
    assert seen.request is not None and seen.request.messages[0].role == "system"


def test_missing_key_variable_is_a_config_error(server: ScriptedServer) -> None:
    with pytest.raises(ConfigError, match="NO_SUCH_KEY_VAR"):
        OpenAIBackend(endpoint(server, api_key_env="NO_SUCH_KEY_VAR"))


async def test_api_key_never_reaches_the_store(
    server: ScriptedServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRIPTED_KEY", "sk-very-secret-0042")
    client = http_client(server, store, api_key_env="SCRIPTED_KEY")
    try:
        await client.generate(
            ChatRequest(model="", messages=CONVERSATION), CallContext(run_id="run-1")
        )
    finally:
        await client.aclose()
    assert server.requests[0].auth == "Bearer sk-very-secret-0042"  # it was sent...
    dump = store.call(
        lambda s: (
            repr(list(s.exec(select(LLMCall)).all()))
            + repr(list(s.exec(select(LLMCacheEntry)).all()))
        )
    )
    assert "sk-very-secret" not in dump  # ...and never stored
    assert "def add" in dump


async def test_scripted_model_is_a_backend_without_http() -> None:
    client = LLMClient(
        ScriptedModel([Rule(user="hello", replies=("hi there",))]), model="scripted", price=PRICE
    )
    response = await client.chat([Message(role="user", content="hello")], max_tokens=1)
    assert response.choices[0].text == "hi" and response.choices[0].finish_reason == "length"

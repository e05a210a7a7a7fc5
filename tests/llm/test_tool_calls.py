"""Native tool calling over real HTTP, in both wire formats, through the client wrapper.

The scripted model plays a sequence of tool calls and then a final answer; each reply's
calls come back as typed :class:`ToolCall` records, tool results go back as ``tool``
messages (``tool_result`` blocks for Anthropic), and malformed argument JSON and calls to
unknown tools reach the caller as sent, for the agent loop to report back to the model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from agentlab.llm import AnthropicEndpoint, LLMClient, Rule, ScriptedModel
from agentlab.llm.anthropic import AnthropicBackend
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.llm_log import StoreCallRecorder
from agentlab.types import CallContext, ChatRequest, Message, ToolCall, ToolSpec
from tests.llm.conftest import PRICE, http_client

BASH = ToolSpec(
    name="bash",
    description="Run a shell command.",
    parameters={
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
)
SCRIPT = (
    (ToolCall(name="bash", arguments=json.dumps({"command": "ls"})),),
    (ToolCall(name="bash", arguments='{"command": "cat READ'),),  # malformed JSON
    (ToolCall(name="launch_rockets", arguments="{}"),),  # no such tool
    (
        ToolCall(id="mine", name="bash", arguments=json.dumps({"command": "true"})),
        ToolCall(name="bash", arguments=json.dumps({"command": "false"})),
    ),
)


@pytest.fixture
def model() -> ScriptedModel:
    rule = Rule(first_user="fix the bug", replies=("", "", "", "two at once", "all done"))
    return ScriptedModel([rule.model_copy(update={"tool_calls": SCRIPT})])


@pytest.fixture(params=["openai", "anthropic"])
async def client(
    request: pytest.FixtureRequest,
    server: ScriptedServer,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[LLMClient]:
    if request.param == "openai":
        llm = http_client(server, store)
    else:
        monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-test")
        config = AnthropicEndpoint(
            name="anthropic-http",
            model="scripted",
            base_url=server.root_url,
            api_key_env="TEST_ANTHROPIC_KEY",
        )
        llm = LLMClient(
            AnthropicBackend(config),
            model="scripted",
            endpoint=config.name,
            price=PRICE,
            recorder=StoreCallRecorder(store),
        )
    try:
        yield llm
    finally:
        await llm.aclose()


async def test_a_scripted_tool_sequence_round_trips(
    client: LLMClient, server: ScriptedServer, store: Store
) -> None:
    messages = [
        Message(role="system", content="You fix code."),
        Message(role="user", content="fix the bug in add()"),
    ]
    seen: list[tuple[ToolCall, ...]] = []
    for step in range(6):
        request = ChatRequest(model="scripted", messages=tuple(messages), tools=(BASH,))
        response = await client.generate(request, CallContext(run_id="run-1", step=step))
        choice = response.choices[0]
        if not choice.tool_calls:
            assert choice.text == "all done"
            break
        seen.append(choice.tool_calls)
        messages.append(
            Message(role="assistant", content=choice.text, tool_calls=choice.tool_calls)
        )
        messages += [Message.tool_result(c.id, f"ran {c.name}") for c in choice.tool_calls]
    assert len(seen) == 4
    assert json.loads(seen[0][0].arguments) == {"command": "ls"}
    assert seen[1][0].arguments == '{"command": "cat READ'  # malformed, passed through as sent
    assert seen[2][0].name == "launch_rockets"
    assert [c.id for c in seen[3]] == ["mine", "call_3_1"]
    # The server saw every tool result come back, paired with its call, and the tools offered.
    last = server.requests[-1].request
    assert last is not None and last.tools == (BASH,)
    results = [m for m in last.messages if m.role == "tool"]
    assert [m.tool_call_id for m in results] == [
        "call_0_0",
        "call_1_0",
        "call_2_0",
        "mine",
        "call_3_1",
    ]
    assert all(m.content.startswith("ran ") for m in results)
    calls = [c for m in last.messages for c in m.tool_calls]
    assert calls[1].arguments == '{"command": "cat READ'  # survives the trip back, too
    # Every call is one llm_call row with tokens (tool-call arguments are counted).
    from agentlab.store.tables import LLMCall

    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    assert len(rows) == 5 and all(r.completion_tokens > 0 and r.error is None for r in rows)


async def test_requests_without_tools_are_unchanged(
    client: LLMClient, server: ScriptedServer
) -> None:
    request = ChatRequest(model="scripted", messages=(Message(role="user", content="hello"),))
    response = await client.generate(request)
    assert response.choices[0].tool_calls == ()
    assert "tools" not in request.model_dump() and "tool_calls" not in response.model_dump_json()

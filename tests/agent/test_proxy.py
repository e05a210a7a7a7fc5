"""The metering proxy over real HTTP: a standard-library OpenAI client (as an external
agent would be) talks to the proxy, which forwards through the LLM client to the scripted
server, records each call in a real SQLite store, and refuses past the problem's cap."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from agentlab.agent.proxy import MeteringProxy
from agentlab.llm import LLMClient, OpenAIEndpoint, Rule, ScriptedModel
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.pricing import ApiPrice
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store, open_store
from agentlab.store.llm_log import StoreCallRecorder
from agentlab.store.tables import LLMCall, Run
from agentlab.types import CallContext, ToolCall

PRICE = ApiPrice(input_per_mtok=1.0, output_per_mtok=2.0)
TOOLS = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]


def post(url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """What an external agent does, with the standard library only."""
    request = urllib.request.Request(
        f"{url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    call = ToolCall(name="bash", arguments='{"command": "ls"}')
    model = ScriptedModel([Rule(replies=("", "done"), tool_calls=((call,),))])
    with ScriptedServer(model) as srv:
        yield srv


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path}/proxy.db")
    st.call(lambda s: s.add(Run(id="run-p", kind="run")))
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
async def client(server: ScriptedServer, store: Store) -> AsyncIterator[LLMClient]:
    config = OpenAIEndpoint(name="upstream", model="scripted", base_url=server.base_url)
    llm = LLMClient(
        OpenAIBackend(config), model="scripted", price=PRICE, recorder=StoreCallRecorder(store)
    )
    try:
        yield llm
    finally:
        await llm.aclose()


async def test_proxy_forwards_meters_and_refuses(
    client: LLMClient, server: ScriptedServer, store: Store
) -> None:
    context = CallContext(run_id="run-p", role="external", task_id="t-1")
    async with MeteringProxy(client, context=context, cap_usd=0.005) as proxy:
        first = {"model": "anything", "messages": [{"role": "user", "content": "go"}]}
        first |= {"tools": TOOLS, "max_tokens": 200}
        status, reply = await asyncio.to_thread(post, proxy.base_url, proxy.token, first)
        assert status == 200
        call = reply["choices"][0]["message"]["tool_calls"][0]
        assert call["function"] == {"name": "bash", "arguments": '{"command": "ls"}'}
        # The tool result goes back through the proxy as the agent would send it.
        second = first | {
            "messages": [
                *first["messages"],
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "README"},
            ]
        }
        status, reply = await asyncio.to_thread(post, proxy.base_url, proxy.token, second)
        assert status == 200 and reply["choices"][0]["message"]["content"] == "done"
        seen = server.requests[-1].request
        assert seen is not None and [m.role for m in seen.messages] == ["user", "assistant", "tool"]
        # A wrong key is refused and never forwarded.
        forwarded = len(server.requests)
        status, reply = await asyncio.to_thread(post, proxy.base_url, "wrong", first)
        assert status == 401 and len(server.requests) == forwarded
        # A call whose worst case (3000 tokens at $2/M = $0.006) would pass the problem's
        # $0.005 is refused before it reaches the endpoint.
        big = first | {"max_tokens": 3000}
        status, reply = await asyncio.to_thread(post, proxy.base_url, proxy.token, big)
        assert status == 402 and "budget of $0.005" in reply["error"]["message"]
        assert len(server.requests) == forwarded and 0 < proxy.stats.usd <= 0.005
    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    assert len(rows) == len(server.requests) == proxy.stats.calls
    assert all(r.role == "external" and r.task_id == "t-1" and r.usd > 0 for r in rows)

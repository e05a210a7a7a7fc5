"""The Anthropic Messages API: one request per sample.

The Messages API has no ``n``; a request for ``n`` samples becomes ``n`` concurrent requests
whose choices and usage are merged, so callers see the same shape as from OpenAI. System
messages move to the top-level ``system`` field. Token counts are normalised so that
``prompt_tokens`` includes cache reads and writes, ``cached_prompt_tokens`` is the reads and
``cache_write_tokens`` the writes.

A request marked ``cache_prefix`` carries ``cache_control: {"type": "ephemeral"}`` (the
5-minute cache) on the last system block and on the first user message: everything up to
each marker is the cached prefix, so k samples of one problem (same system prompt and
problem statement) write it once and read it after. The API caches only prefixes above a
model-dependent minimum length (1,024 tokens on Sonnet); a shorter prefix is silently not
cached and billed as plain input.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from agentlab.errors import FatalLLMError, MalformedResponseError
from agentlab.llm.config import AnthropicEndpoint
from agentlab.llm.openai import read_key
from agentlab.llm.parse import as_int, need
from agentlab.llm.transport import HttpPool
from agentlab.types import ChatRequest, ChatResponse, Choice, Message, ToolCall, Usage

EPHEMERAL = {"type": "ephemeral"}


def _mark_prefix(body: dict[str, Any]) -> None:
    # Breakpoints on the system prompt and the first user message (2 of the 4 allowed).
    if isinstance(body.get("system"), str):
        body["system"] = [{"type": "text", "text": body["system"], "cache_control": EPHEMERAL}]
    first = next((m for m in body["messages"] if m["role"] == "user"), None)
    if first is None:
        return
    if isinstance(first["content"], str):
        first["content"] = [{"type": "text", "text": first["content"]}]
    if first["content"]:
        first["content"][-1] = {**first["content"][-1], "cache_control": EPHEMERAL}


def request_body(request: ChatRequest, model: str) -> dict[str, Any]:
    """The Messages JSON body for one sample of ``request``."""
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    body: dict[str, Any] = {
        "model": request.model or model,
        "max_tokens": request.max_tokens,
        "messages": wire_messages(request.messages),
        "temperature": request.temperature,
    }
    if request.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
    if system:
        body["system"] = system
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.cache_prefix:
        _mark_prefix(body)
    return body


def _tool_input(arguments: str) -> Any:
    # tool_use.input must be an object; a call whose JSON was malformed is sent back as the
    # raw text under one key, so the conversation still round-trips.
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_unparsed": arguments}
    return value if isinstance(value, dict) else {"_unparsed": arguments}


def tool_arguments(block: dict[str, Any]) -> str:
    """The JSON text of a ``tool_use`` block's input (raw text if it was not an object)."""
    raw = block.get("input")
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict) and set(raw) == {"_unparsed"} and isinstance(raw["_unparsed"], str):
        return str(raw["_unparsed"])
    return json.dumps(raw)


def wire_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Messages in Messages-API form: tool calls become ``tool_use`` blocks, and the tool
    results that follow an assistant turn become ``tool_result`` blocks of one user turn."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            block = {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}
            last = out[-1] if out else None
            if last and last["role"] == "user" and isinstance(last["content"], list):
                last["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif m.tool_calls:
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": m.content}] if m.content else []
            )
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c.arguments)}
                for c in m.tool_calls
            ]
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append(
                {"role": "assistant" if m.role == "assistant" else "user", "content": m.content}
            )
    return out


def parse_message(
    data: dict[str, Any], where: str
) -> tuple[str, str | None, Usage, tuple[ToolCall, ...]]:
    """Text, stop reason, usage and tool calls of one Messages reply."""
    content = need(data, "content", where)
    if not isinstance(content, list):
        raise MalformedResponseError(f"{where}: content is not a list")
    text = "".join(
        str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
    )
    calls = []
    for b in content:
        if isinstance(b, dict) and b.get("type") == "tool_use":
            name = str(need(b, "name", where))
            calls.append(
                ToolCall(id=str(b.get("id") or ""), name=name, arguments=tool_arguments(b))
            )
    raw = need(data, "usage", where)
    if not isinstance(raw, dict):
        raise MalformedResponseError(f"{where}: usage is not an object")
    fresh = as_int(raw.get("input_tokens"), "usage.input_tokens", where)
    read = as_int(raw.get("cache_read_input_tokens") or 0, "cache_read_input_tokens", where)
    written = as_int(raw.get("cache_creation_input_tokens") or 0, "cache_creation", where)
    usage = Usage(
        prompt_tokens=fresh + read + written,
        completion_tokens=as_int(raw.get("output_tokens"), "usage.output_tokens", where),
        cached_prompt_tokens=read,
        cache_write_tokens=written,
    )
    return text, data.get("stop_reason"), usage, tuple(calls)


class AnthropicBackend:
    """Messages API requests; no retries here (the client owns them)."""

    def __init__(self, config: AnthropicEndpoint) -> None:
        self.config = config
        self.name = config.name
        key = read_key(config.name, config.api_key_env, required=True) or ""
        self._pool = HttpPool(
            endpoint=config.name,
            base_url=config.base_url,
            headers={"x-api-key": key, "anthropic-version": config.api_version},
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            max_clients=config.limits.max,
            key_hint=f" (from ${config.api_key_env})",
            secret=key,
        )

    async def _one(
        self, body: dict[str, Any]
    ) -> tuple[str, str | None, Usage, tuple[ToolCall, ...]]:
        data = await self._pool.post_json("/v1/messages", body)
        return parse_message(data, f"endpoint {self.name}")

    async def generate(self, request: ChatRequest) -> ChatResponse:
        """Send ``request.n`` Messages requests concurrently and merge them."""
        if request.logprobs:
            raise FatalLLMError(
                f"endpoint {self.name}: the Anthropic Messages API has no logprobs; "
                "drop logprobs=True for this endpoint",
                endpoint=self.name,
            )
        body = request_body(request, self.config.model)
        started = time.perf_counter()
        if request.n == 1:
            parts = [await self._one(body)]
        else:
            try:
                async with asyncio.TaskGroup() as tg:
                    tasks = [tg.create_task(self._one(body)) for _ in range(request.n)]
            except ExceptionGroup as group:
                # Callers expect one typed LLM error, not a group: surface the first.
                raise group.exceptions[0] from None
            parts = [t.result() for t in tasks]
        usage = Usage()
        for _, _, u, _ in parts:
            usage = usage + u
        return ChatResponse(
            model=body["model"],
            choices=tuple(
                Choice(index=i, text=text, finish_reason=stop, tool_calls=calls)
                for i, (text, stop, _, calls) in enumerate(parts)
            ),
            usage=usage,
            latency_s=time.perf_counter() - started,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

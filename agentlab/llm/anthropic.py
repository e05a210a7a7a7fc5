"""The Anthropic Messages API: one request per sample.

The Messages API has no ``n``; a request for ``n`` samples becomes ``n`` concurrent requests
whose choices and usage are merged, so callers see the same shape as from OpenAI. System
messages move to the top-level ``system`` field. Token counts are normalised so that
``prompt_tokens`` includes cache reads and writes, and ``cached_prompt_tokens`` is the reads.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agentlab.errors import FatalLLMError, MalformedResponseError
from agentlab.llm.config import AnthropicEndpoint
from agentlab.llm.openai import read_key
from agentlab.llm.parse import as_int, need
from agentlab.llm.transport import HttpPool
from agentlab.types import ChatRequest, ChatResponse, Choice, Usage


def request_body(request: ChatRequest, model: str) -> dict[str, Any]:
    """The Messages JSON body for one sample of ``request``."""
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    body: dict[str, Any] = {
        "model": request.model or model,
        "max_tokens": request.max_tokens,
        "messages": [
            {"role": m.role if m.role == "assistant" else "user", "content": m.content}
            for m in request.messages
            if m.role != "system"
        ],
        "temperature": request.temperature,
    }
    if system:
        body["system"] = system
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    return body


def parse_message(data: dict[str, Any], where: str) -> tuple[str, str | None, Usage]:
    """Text, stop reason and usage of one Messages reply."""
    content = need(data, "content", where)
    if not isinstance(content, list):
        raise MalformedResponseError(f"{where}: content is not a list")
    text = "".join(
        str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
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
    )
    return text, data.get("stop_reason"), usage


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

    async def _one(self, body: dict[str, Any]) -> tuple[str, str | None, Usage]:
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
        for _, _, u in parts:
            usage = usage + u
        return ChatResponse(
            model=body["model"],
            choices=tuple(
                Choice(index=i, text=text, finish_reason=stop)
                for i, (text, stop, _) in enumerate(parts)
            ),
            usage=usage,
            latency_s=time.perf_counter() - started,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

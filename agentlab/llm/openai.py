"""OpenAI-compatible chat completions (OpenAI, vLLM, SGLang, llama.cpp server): one request."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from agentlab.errors import ConfigError, MalformedResponseError
from agentlab.llm.config import OpenAIEndpoint
from agentlab.llm.parse import as_int, need
from agentlab.llm.transport import HttpPool
from agentlab.types import (
    ChatRequest,
    ChatResponse,
    Choice,
    Message,
    TokenLogprob,
    ToolCall,
    ToolSpec,
    Usage,
)


def read_key(endpoint: str, env: str | None, *, required: bool) -> str | None:
    """The API key from ``env``; a clear error if it is required and unset."""
    if not env:
        return None
    key = os.environ.get(env)
    if not key and required:
        raise ConfigError(f"endpoint {endpoint}: environment variable {env} (api_key_env) is unset")
    return key or None


def request_body(request: ChatRequest, model: str) -> dict[str, Any]:
    """The chat-completions JSON body for ``request`` (fields left at None are not sent)."""
    body: dict[str, Any] = {
        "model": request.model or model,
        "messages": [wire_message(m) for m in request.messages],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "n": request.n,
    }
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.logprobs:
        body["logprobs"] = True
        if request.top_logprobs is not None:
            body["top_logprobs"] = request.top_logprobs
    if request.tools:
        body["tools"] = [wire_tool(t) for t in request.tools]
    return body


def wire_tool(tool: ToolSpec) -> dict[str, Any]:
    """A tool in the chat-completions ``tools`` list."""
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def wire_message(m: Message) -> dict[str, Any]:
    """One message in chat-completions form (assistant tool calls, tool results)."""
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["content"] = m.content or None
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in m.tool_calls
        ]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    return out


def parse_tool_calls(raw: Any, where: str) -> tuple[ToolCall, ...]:
    """``message.tool_calls`` -> records; arguments stay the raw text (may be bad JSON)."""
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise MalformedResponseError(f"{where}: tool_calls is not a list")
    calls = []
    for item in raw:
        function = need(item, "function", where)
        arguments = function.get("arguments") if isinstance(function, dict) else None
        calls.append(
            ToolCall(
                id=str(item.get("id") or ""),
                name=str(need(function, "name", where)),
                # Some servers send the arguments as an object rather than a JSON string.
                arguments=arguments if isinstance(arguments, str) else json.dumps(arguments),
            )
        )
    return tuple(calls)


def _logprobs(raw: Any, where: str) -> tuple[TokenLogprob, ...] | None:
    if not raw or not raw.get("content"):
        return None
    out = []
    for item in raw["content"]:
        top = tuple((str(t["token"]), float(t["logprob"])) for t in item.get("top_logprobs") or ())
        out.append(
            TokenLogprob(
                token=str(need(item, "token", where)),
                logprob=float(need(item, "logprob", where)),
                top=top,
            )
        )
    return tuple(out)


def parse_usage(raw: Any, where: str) -> Usage:
    """OpenAI usage -> :class:`Usage`; missing or nonsensical counts are malformed."""
    if not isinstance(raw, dict):
        raise MalformedResponseError(f"{where}: reply has no usage object")
    prompt = as_int(raw.get("prompt_tokens"), "usage.prompt_tokens", where)
    completion = as_int(raw.get("completion_tokens"), "usage.completion_tokens", where)
    details = raw.get("prompt_tokens_details") or {}
    cached = as_int(details.get("cached_tokens", 0), "cached_tokens", where)
    if cached > prompt:
        raise MalformedResponseError(
            f"{where}: usage says {cached} cached of {prompt} prompt tokens"
        )
    return Usage(prompt_tokens=prompt, completion_tokens=completion, cached_prompt_tokens=cached)


def parse_response(data: dict[str, Any], model: str, where: str, latency: float) -> ChatResponse:
    """Decode a chat-completions reply; raise MalformedResponseError on missing fields."""
    raw_choices = data.get("choices")
    if not isinstance(raw_choices, list) or not raw_choices:
        raise MalformedResponseError(f"{where}: reply has no choices")
    choices = []
    try:
        for i, c in enumerate(raw_choices):
            message = need(c, "message", where)
            content = message.get("content") if isinstance(message, dict) else None
            choices.append(
                Choice(
                    index=int(c.get("index", i)),
                    text=content if isinstance(content, str) else "",
                    finish_reason=c.get("finish_reason"),
                    logprobs=_logprobs(c.get("logprobs"), where),
                    tool_calls=parse_tool_calls(message.get("tool_calls"), where),
                )
            )
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise MalformedResponseError(f"{where}: unreadable choice ({exc})") from exc
    return ChatResponse(
        model=str(data.get("model") or model),
        choices=tuple(choices),
        usage=parse_usage(data.get("usage"), where),
        latency_s=latency,
    )


class OpenAIBackend:
    """One chat-completions request per :meth:`generate`. No retries: the client owns those."""

    def __init__(self, config: OpenAIEndpoint) -> None:
        self.config = config
        self.name = config.name
        key = read_key(config.name, config.api_key_env, required=True)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        hint = f" (from ${config.api_key_env})" if config.api_key_env else " (none configured)"
        self._pool = HttpPool(
            endpoint=config.name,
            base_url=config.base_url,
            headers=headers,
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            max_clients=config.limits.max,
            key_hint=hint,
            secret=key or "",
        )

    async def generate(self, request: ChatRequest) -> ChatResponse:
        """Send one request and decode the reply."""
        body = request_body(request, self.config.model)
        started = time.perf_counter()
        data = await self._pool.post_json("/chat/completions", body)
        where = f"endpoint {self.name}"
        return parse_response(data, body["model"], where, time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._pool.aclose()

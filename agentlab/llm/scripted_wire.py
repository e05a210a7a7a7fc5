"""The server side of both wire formats, for :mod:`agentlab.llm.testing`: read a request body
into a :class:`ChatRequest`, render a :class:`ChatResponse` as the provider would.

Tool calls go both ways: OpenAI ``tools`` / ``tool_calls`` / ``role: tool`` messages, and
Anthropic ``tools`` / ``tool_use`` / ``tool_result`` blocks. A scripted call whose arguments
are not a JSON object is rendered as the raw text (a string ``input`` in Anthropic form), so
clients meet malformed tool-call JSON exactly as they would from a sloppy server.

:class:`PromptCache` plays Anthropic's prompt cache: a request whose blocks carry
``cache_control`` reads the longest marked prefix it has seen before and writes the rest up to
its last marker, reported as ``cache_read_input_tokens`` / ``cache_creation_input_tokens``
(counted with the scripted tokenizer; no minimum length, no expiry).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

from agentlab.llm.anthropic import tool_arguments
from agentlab.llm.scripted import count_tokens
from agentlab.types import ChatRequest, ChatResponse, Message, ToolCall, ToolSpec, Usage


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _openai_message(m: dict[str, Any]) -> Message:
    calls = tuple(
        ToolCall(
            id=str(c.get("id", "")),
            name=str(c["function"]["name"]),
            arguments=str(c["function"].get("arguments", "")),
        )
        for c in m.get("tool_calls") or ()
    )
    return Message(
        role=m["role"],
        content=_text(m.get("content", "")),
        tool_calls=calls,
        tool_call_id=m.get("tool_call_id"),
    )


def openai_request(body: dict[str, Any]) -> ChatRequest:
    """A chat-completions body as a request record (KeyError/ValueError if it is not one)."""
    tools = tuple(
        ToolSpec(
            name=t["function"]["name"],
            description=t["function"].get("description", ""),
            parameters=t["function"].get("parameters") or {"type": "object"},
        )
        for t in body.get("tools") or ()
    )
    return ChatRequest(
        model=str(body.get("model", "")),
        messages=tuple(_openai_message(m) for m in body["messages"]),
        temperature=body.get("temperature", 1.0),
        top_p=body.get("top_p"),
        max_tokens=body.get("max_tokens") or body.get("max_completion_tokens") or 1024,
        n=body.get("n", 1),
        stop=tuple([body["stop"]] if isinstance(body.get("stop"), str) else body.get("stop") or ()),
        seed=body.get("seed"),
        logprobs=bool(body.get("logprobs")),
        top_logprobs=body.get("top_logprobs"),
        tools=tools,
    )


def _anthropic_messages(raw: dict[str, Any]) -> list[Message]:
    content = raw["content"]
    if not isinstance(content, list):
        return [Message(role=raw["role"], content=_text(content))]
    results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    if results:  # one user turn carrying results -> one tool message per call
        return [
            Message.tool_result(str(b["tool_use_id"]), _text(b.get("content", ""))) for b in results
        ]
    calls = tuple(
        ToolCall(id=str(b.get("id", "")), name=str(b["name"]), arguments=tool_arguments(b))
        for b in content
        if isinstance(b, dict) and b.get("type") == "tool_use"
    )
    return [Message(role=raw["role"], content=_text(content), tool_calls=calls)]


def anthropic_request(body: dict[str, Any]) -> ChatRequest:
    """A Messages-API body as a request record."""
    system = _text(body.get("system", ""))
    messages = [Message(role="system", content=system)] if system else []
    for m in body["messages"]:
        messages += _anthropic_messages(m)
    tools = tuple(
        ToolSpec(
            name=t["name"],
            description=t.get("description", ""),
            parameters=t.get("input_schema") or {"type": "object"},
        )
        for t in body.get("tools") or ()
    )
    return ChatRequest(
        model=str(body.get("model", "")),
        messages=tuple(messages),
        temperature=body.get("temperature", 1.0),
        top_p=body.get("top_p"),
        max_tokens=body["max_tokens"],
        stop=tuple(body.get("stop_sequences") or ()),
        tools=tools,
        cache_prefix=bool(_breakpoints(body)),
    )


def _marked(value: Any) -> bool:
    return isinstance(value, list) and any(
        isinstance(b, dict) and "cache_control" in b for b in value
    )


def _breakpoints(body: dict[str, Any]) -> list[int]:
    """Prefix ends marked with cache_control: -1 for the system prompt, else the index of the
    message (a marked block ends its message's prefix here; good enough for a test double)."""
    marks = [-1] if _marked(body.get("system")) else []
    marks += [i for i, m in enumerate(body.get("messages") or ()) if _marked(m.get("content"))]
    return marks


def _strip(value: Any) -> Any:
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "cache_control"}
    return value


class PromptCache:
    """Marked prefixes the scripted Anthropic server has seen (thread-safe)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def usage(self, body: dict[str, Any]) -> tuple[int, int]:
        """``(read, written)`` prompt tokens of this request, remembering what it wrote."""
        prefixes = []
        for end in _breakpoints(body):
            part = {
                "model": body.get("model"),
                "tools": body.get("tools"),
                "system": body.get("system"),
                "messages": body["messages"][: end + 1],
            }
            key = hashlib.sha256(json.dumps(_strip(part), sort_keys=True).encode()).hexdigest()
            system = _text(part["system"])
            tokens = (count_tokens(system) + 4 if system else 0) + sum(
                count_tokens(_text(m.get("content"))) + 4 for m in part["messages"]
            )
            prefixes.append((key, tokens))
        if not prefixes:
            return 0, 0
        with self._lock:
            read = max((t for k, t in prefixes if k in self._seen), default=0)
            self._seen.update(k for k, _ in prefixes)
        return read, max(prefixes[-1][1] - read, 0)


def with_cache_usage(resp: ChatResponse, read: int, written: int) -> ChatResponse:
    """``resp`` with ``read``/``written`` of its prompt tokens counted as cache reads/writes."""
    u = resp.usage
    usage = Usage(
        prompt_tokens=u.prompt_tokens,
        completion_tokens=u.completion_tokens,
        cached_prompt_tokens=min(read, u.prompt_tokens),
        cache_write_tokens=min(written, max(u.prompt_tokens - read, 0)),
    )
    return resp.model_copy(update={"usage": usage})


def openai_body(resp: ChatResponse, serial: int, bad_usage: bool) -> dict[str, Any]:
    """``resp`` as a chat-completions reply (``bad_usage``: nonsense token counts)."""
    choices = []
    for c in resp.choices:
        logprobs = None
        if c.logprobs is not None:
            logprobs = {
                "content": [
                    {
                        "token": t.token,
                        "logprob": t.logprob,
                        "bytes": None,
                        "top_logprobs": [{"token": a, "logprob": b} for a, b in t.top],
                    }
                    for t in c.logprobs
                ]
            }
        message: dict[str, Any] = {"role": "assistant", "content": c.text}
        if c.tool_calls:
            message["content"] = c.text or None
            message["tool_calls"] = [
                {
                    "id": t.id,
                    "type": "function",
                    "function": {"name": t.name, "arguments": t.arguments},
                }
                for t in c.tool_calls
            ]
        choices.append(
            {
                "index": c.index,
                "finish_reason": c.finish_reason,
                "logprobs": logprobs,
                "message": message,
            }
        )
    u = resp.usage
    usage: dict[str, Any] = {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    }
    if bad_usage:
        usage = {"prompt_tokens": -3, "completion_tokens": "many"}
    return {
        "id": f"chatcmpl-{serial}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": resp.model,
        "choices": choices,
        "usage": usage,
    }


def _tool_use(call: ToolCall) -> dict[str, Any]:
    try:
        value: Any = json.loads(call.arguments)
    except ValueError:
        value = None
    # Not an object: send the raw text, as a broken server might.
    payload = value if isinstance(value, dict) else call.arguments
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": payload}


def anthropic_body(resp: ChatResponse, serial: int, bad_usage: bool) -> dict[str, Any]:
    """The first choice of ``resp`` as a Messages reply."""
    c = resp.choices[0]
    u = resp.usage
    usage: dict[str, Any] = {
        "input_tokens": u.prompt_tokens - u.cached_prompt_tokens - u.cache_write_tokens,
        "output_tokens": u.completion_tokens,
    }
    if u.cached_prompt_tokens or u.cache_write_tokens:
        usage["cache_read_input_tokens"] = u.cached_prompt_tokens
        usage["cache_creation_input_tokens"] = u.cache_write_tokens
    if bad_usage:
        usage = {"input_tokens": "lots"}
    content: list[dict[str, Any]] = [{"type": "text", "text": c.text}] if c.text else []
    content += [_tool_use(t) for t in c.tool_calls]
    if not content:
        content = [{"type": "text", "text": ""}]
    stop = "max_tokens" if c.finish_reason == "length" else "end_turn"
    return {
        "id": f"msg_{serial}",
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "usage": usage,
        "stop_reason": "tool_use" if c.tool_calls else stop,
    }

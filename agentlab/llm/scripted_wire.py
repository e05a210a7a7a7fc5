"""The server side of both wire formats, for :mod:`agentlab.llm.testing`: read a request body
into a :class:`ChatRequest`, render a :class:`ChatResponse` as the provider would.

Tool calls go both ways: OpenAI ``tools`` / ``tool_calls`` / ``role: tool`` messages, and
Anthropic ``tools`` / ``tool_use`` / ``tool_result`` blocks. A scripted call whose arguments
are not a JSON object is rendered as the raw text (a string ``input`` in Anthropic form), so
clients meet malformed tool-call JSON exactly as they would from a sloppy server.
"""

from __future__ import annotations

import json
import time
from typing import Any

from agentlab.llm.anthropic import tool_arguments
from agentlab.types import ChatRequest, ChatResponse, Message, ToolCall, ToolSpec


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
    )


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
    usage: dict[str, Any] = {
        "input_tokens": resp.usage.prompt_tokens,
        "output_tokens": resp.usage.completion_tokens,
    }
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

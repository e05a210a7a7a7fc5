"""A deterministic scripted model: rules over the request pick the reply; faults on demand.

It is product code. Used directly it is a :class:`~agentlab.protocols.ChatBackend` (no
network, for fast unit tests); behind :class:`agentlab.llm.testing.ScriptedServer` it answers
real HTTP like an OpenAI-compatible (or Anthropic) server.

Replies are chosen without hidden state, so a replayed run sees the same answers:
the first :class:`Rule` whose regexes match the request wins, and within a rule the reply for
turn ``t`` (the number of assistant messages already in the conversation) is
``replies[min(t, len - 1)]``. ``{choice}``, ``{turn}`` and ``{seed}`` in a reply are replaced
by the choice index, turn number and the request's seed (agentlab seeds each sample apart, so
samples of one prompt can differ). Faults are queued with :meth:`ScriptedModel.inject` and hit the
next matching requests. Given ``context_tokens``, it refuses a prompt of that many tokens or
more, as llama-cpp-python's server does (:meth:`ScriptedModel.overflow`).
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentlab.errors import (
    ContextOverflowError,
    FatalLLMError,
    LLMError,
    MalformedResponseError,
    RateLimitedError,
    RetryableLLMError,
)
from agentlab.types import ChatRequest, ChatResponse, Choice, TokenLogprob, ToolCall, Usage

FaultKind = Literal[
    "rate_limit", "server_error", "hang", "malformed", "bad_usage", "unauthorized", "not_found"
]


class Rule(BaseModel):
    """Reply with ``replies`` when the regexes match (``None`` matches anything)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replies: tuple[str, ...] = Field(min_length=1)
    user: str | None = Field(None, description="Regex searched in the last user message.")
    system: str | None = Field(None, description="Regex searched in the system messages.")
    first_user: str | None = Field(
        None, description="Regex searched in the first user message (the task, in a loop)."
    )
    tool_calls: tuple[tuple[ToolCall, ...], ...] = Field(
        (),
        description="Tool calls sent with the reply of turn t (none past the end). Arguments "
        "are sent as written, so malformed JSON and unknown tools can be scripted.",
    )
    finish_reason: str = "stop"


class Fault(BaseModel):
    """A failure to inject into the next ``times`` requests whose last user message matches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    times: int = Field(1, ge=1)
    retry_after: float | None = Field(None, ge=0, description="Retry-After for rate_limit.")
    hang_s: float = Field(3600.0, ge=0, description="How long a hang lasts.")
    user: str | None = None


@dataclass
class _Pending:
    fault: Fault
    left: int


def count_tokens(text: str) -> int:
    """The scripted model's tokenizer: whitespace-separated words."""
    return len(text.split())


def prompt_tokens(request: ChatRequest) -> int:
    """The prompt's tokens as the scripted model counts them (words, 4 per message)."""
    return sum(
        count_tokens(m.content) + 4 + sum(_call_tokens(c) for c in m.tool_calls)
        for m in request.messages
    )


def last_user(request: ChatRequest) -> str:
    return next((m.content for m in reversed(request.messages) if m.role == "user"), "")


class ScriptedModel:
    """Rule-driven replies, configurable latency, queued faults. Thread-safe."""

    name = "scripted"

    def __init__(
        self,
        rules: list[Rule] | None = None,
        *,
        default: str = "OK",
        latency_s: float = 0.0,
        context_tokens: int | None = None,
    ) -> None:
        self.rules = list(rules or [])
        self.default = default
        self.latency_s = latency_s
        self.context_tokens = context_tokens
        self._faults: list[_Pending] = []
        self._lock = threading.Lock()
        self.calls = 0

    def inject(self, fault: Fault) -> None:
        """Queue ``fault`` for the next ``fault.times`` matching requests."""
        with self._lock:
            self._faults.append(_Pending(fault, fault.times))

    def take_fault(self, request: ChatRequest) -> Fault | None:
        """The queued fault this request triggers (consuming one use), if any."""
        text = last_user(request)
        with self._lock:
            self.calls += 1
            for pending in self._faults:
                fault = pending.fault
                if pending.left > 0 and (fault.user is None or re.search(fault.user, text)):
                    pending.left -= 1
                    return fault
        return None

    def overflow(self, request: ChatRequest) -> ContextOverflowError | None:
        """The refusal of a prompt that reaches the context window, in llama-cpp-python's
        words (it refuses only then; a reply that would not fit is cut short instead)."""
        prompt = prompt_tokens(request)
        if self.context_tokens is None or prompt < self.context_tokens:
            return None
        return ContextOverflowError(
            f"This model's maximum context length is {self.context_tokens} tokens. However, "
            f"you requested {prompt + request.max_tokens} tokens ({prompt} in the messages, "
            f"{request.max_tokens} in the completion). Please reduce the length of the "
            "messages or completion.",
            endpoint="scripted",
            status=400,
            prompt_tokens=prompt,
            context_tokens=self.context_tokens,
        )

    def reply(self, request: ChatRequest) -> ChatResponse:
        """The scripted answer to ``request`` (all ``n`` choices, usage, logprobs)."""
        rule = self._match(request)
        turn = sum(1 for m in request.messages if m.role == "assistant")
        calls: tuple[ToolCall, ...] = ()
        if rule is None:
            template, finish = self.default, "stop"
        else:
            template, finish = rule.replies[min(turn, len(rule.replies) - 1)], rule.finish_reason
            if turn < len(rule.tool_calls):
                calls = tuple(
                    c if c.id else c.model_copy(update={"id": f"call_{turn}_{i}"})
                    for i, c in enumerate(rule.tool_calls[turn])
                )
                finish = "tool_calls" if calls else finish
        choices = []
        completion = 0
        for i in range(request.n):
            text = template.replace("{choice}", str(i)).replace("{turn}", str(turn))
            text = text.replace("{seed}", str(request.seed))
            if request.max_tokens < count_tokens(text):
                text, finish = " ".join(text.split()[: request.max_tokens]), "length"
            completion += count_tokens(text) + sum(_call_tokens(c) for c in calls)
            choices.append(
                Choice(
                    index=i,
                    text=text,
                    finish_reason=finish,
                    logprobs=_logprobs(text, request) if request.logprobs else None,
                    tool_calls=calls,
                )
            )
        return ChatResponse(
            model=request.model or "scripted",
            choices=tuple(choices),
            usage=Usage(prompt_tokens=prompt_tokens(request), completion_tokens=completion),
            latency_s=self.latency_s,
        )

    def _match(self, request: ChatRequest) -> Rule | None:
        user = last_user(request)
        first = next((m.content for m in request.messages if m.role == "user"), "")
        system = "\n".join(m.content for m in request.messages if m.role == "system")
        for rule in self.rules:
            if rule.user is not None and not re.search(rule.user, user):
                continue
            if rule.first_user is not None and not re.search(rule.first_user, first):
                continue
            if rule.system is not None and not re.search(rule.system, system):
                continue
            return rule
        return None

    # -- ChatBackend -------------------------------------------------------------------
    async def generate(self, request: ChatRequest) -> ChatResponse:
        """Answer in-process, raising the error a real endpoint's fault would map to."""
        fault = self.take_fault(request)
        if fault is not None:
            await _raise_fault(fault)
        refusal = self.overflow(request)
        if refusal is not None:
            raise refusal
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return self.reply(request)

    async def aclose(self) -> None:
        return None


def _call_tokens(call: ToolCall) -> int:
    return count_tokens(call.name) + count_tokens(call.arguments) + 4


def _logprobs(text: str, request: ChatRequest) -> tuple[TokenLogprob, ...]:
    # Deterministic, plausible numbers: earlier tokens are more certain.
    top_n = request.top_logprobs or 0
    out = []
    for i, word in enumerate(text.split()):
        lp = -0.05 * (i + 1)
        top = tuple((f"{word}" if k == 0 else f"alt{k}", lp - k) for k in range(top_n))
        out.append(TokenLogprob(token=word, logprob=lp, top=top))
    return tuple(out)


async def _raise_fault(fault: Fault) -> None:
    where = "endpoint scripted"
    error: LLMError
    if fault.kind == "rate_limit":
        error = RateLimitedError(f"{where}: HTTP 429", status=429, retry_after=fault.retry_after)
    elif fault.kind == "server_error":
        error = RetryableLLMError(f"{where}: HTTP 500", status=500)
    elif fault.kind == "hang":
        await asyncio.sleep(fault.hang_s)
        error = RetryableLLMError(f"{where}: hung for {fault.hang_s}s")
    elif fault.kind in ("malformed", "bad_usage"):
        error = MalformedResponseError(f"{where}: scripted {fault.kind} reply")
    elif fault.kind == "unauthorized":
        error = FatalLLMError(f"{where}: HTTP 401: bad or missing API key", status=401)
    else:
        error = FatalLLMError(f"{where}: HTTP 404: unknown model", status=404)
    error.endpoint = "scripted"
    raise error

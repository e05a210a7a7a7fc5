"""How scoring talks to a model: one ``Generate`` function and a bounded format-fix loop.

Scoring is an implementation package, so it sees the LLM layer only through this protocol:
the composition root passes an LLM client's ``generate`` (retries, budget, cache and the
``llm_call`` cost line, labelled by ``CallContext.role``, all stay in that wrapper).
The fix loop mirrors the agent's (a parse error goes back to the model as the next user turn,
at most ``max_fixes`` times) without importing it: implementation packages do not import
each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from agentlab.errors import ReplyFormatError
from agentlab.types import CallContext, ChatRequest, ChatResponse, Message

T = TypeVar("T")

FIX = "Your reply could not be used: {reason}\nReply again, following the format exactly."
_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.S)


class Generate(Protocol):
    """An LLM client's ``generate``: one request in, one response out, labelled by context."""

    async def __call__(self, request: ChatRequest, context: CallContext) -> ChatResponse: ...


@dataclass(frozen=True)
class ModelRole:
    """A model used for one scoring stage: its generate function, name, and cost-line role."""

    generate: Generate
    model: str
    role: str
    run_id: str = ""
    temperature: float = 0.0
    max_tokens: int = 2048

    async def reply(self, messages: Sequence[Message], *, task_id: str, step: int = 0) -> str:
        """The model's text for ``messages`` (first choice)."""
        response = await self.send(messages, task_id=task_id, step=step)
        return response.choices[0].text if response.choices else ""

    async def send(
        self,
        messages: Sequence[Message],
        *,
        task_id: str,
        step: int = 0,
        logprobs: bool = False,
        max_tokens: int | None = None,
    ) -> ChatResponse:
        """The full response (with log-probabilities when asked)."""
        request = ChatRequest(
            model=self.model,
            messages=tuple(messages),
            temperature=self.temperature,
            max_tokens=max_tokens or self.max_tokens,
            logprobs=logprobs,
            top_logprobs=5 if logprobs else None,
        )
        context = CallContext(run_id=self.run_id, role=self.role, task_id=task_id, step=step)
        return await self.generate(request, context)


@dataclass(frozen=True)
class Parsed(Generic[T]):
    value: T
    reply: str


@dataclass(frozen=True)
class Unparsed:
    reason: str
    reply: str


async def ask(
    role: ModelRole,
    history: list[Message],
    parse: Callable[[str], T],
    *,
    task_id: str,
    step: int,
    max_fixes: int,
) -> Parsed[T] | Unparsed:
    """One turn with at most ``max_fixes`` fix requests; ``history`` gains every message."""
    for fixes in range(max_fixes + 1):
        text = await role.reply(history, task_id=task_id, step=step)
        history.append(Message(role="assistant", content=text))
        try:
            return Parsed(parse(text), text)
        except ReplyFormatError as exc:
            reason = str(exc)
        if fixes < max_fixes:
            history.append(Message(role="user", content=FIX.format(reason=reason)))
    return Unparsed(reason, text)


def last_python_block(text: str) -> str | None:
    """The last fenced python (or untagged) block, if any."""
    found = [b for b in _FENCE.findall(text) if b.strip()]
    return found[-1] if found else None

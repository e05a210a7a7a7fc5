"""How scoring talks to a model: one ``Generate`` function and a bounded format-fix loop.

Scoring is an implementation package, so it sees the LLM layer only through this protocol:
the composition root passes an LLM client's ``generate`` (retries, budget, cache and the
``llm_call`` cost line, labelled by ``CallContext.role``, all stay in that wrapper).
The fix loop is the one in :mod:`agentlab.text` (shared with the agent), worded for scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from agentlab.text import FormatFailure, Parsed, parse_with_fixes
from agentlab.types import CallContext, ChatRequest, ChatResponse, Message

T = TypeVar("T")

__all__ = ["FIX", "FormatFailure", "Generate", "ModelRole", "Parsed", "ask"]

FIX = "Your reply could not be used: {reason}\nReply again, following the format exactly."


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


async def ask(
    role: ModelRole,
    history: list[Message],
    parse: Callable[[str], T],
    *,
    task_id: str,
    step: int,
    max_fixes: int,
) -> Parsed[T] | FormatFailure:
    """One turn with at most ``max_fixes`` fix requests; ``history`` gains every message."""

    async def send() -> str:
        text = await role.reply(history, task_id=task_id, step=step)
        history.append(Message(role="assistant", content=text))
        return text

    async def ask_again(fix: str) -> str:
        history.append(Message(role="user", content=fix))
        return await send()

    return await parse_with_fixes(
        await send(), parse, ask_again, max_fixes=max_fixes, fix_message=_fix_message
    )


def _fix_message(reason: str) -> str:
    return FIX.format(reason=reason)

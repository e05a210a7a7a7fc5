"""How the agent talks to a model: a :class:`Chat` callable and one turn with format fixes.

The state machines and the context stage depend only on :class:`Chat` (messages in, reply
text out, labelled with a stage and step); :class:`ModelChat` adapts an LLM client's
``generate(request, context)`` (or a bare backend) to it, so cost accounting, retries and
budgets stay in the LLM layer's wrapper.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from agentlab.agent.replies import FormatFailure, Parsed, parse_with_fixes
from agentlab.protocols import ChatBackend
from agentlab.types import CallContext, ChatRequest, ChatResponse, Message

T = TypeVar("T")


class Chat(Protocol):
    """Send a conversation, get the model's reply text. ``stage``/``step`` label the call."""

    async def __call__(self, messages: Sequence[Message], *, stage: str, step: int) -> str: ...


@dataclass(frozen=True)
class ModelChat:
    """A :class:`Chat` over a ``generate(request, context)`` function (an LLM client's)."""

    generate: Callable[[ChatRequest, CallContext], Awaitable[ChatResponse]]
    model: str
    temperature: float = 0.0
    max_tokens: int = 4096
    seed: int | None = None
    context: CallContext = field(default_factory=CallContext)

    @classmethod
    def for_backend(
        cls, backend: ChatBackend, model: str, *, temperature: float = 0.0, seed: int | None = None
    ) -> ModelChat:
        """Talk to a bare backend (no client wrapper), e.g. the scripted model in tests."""

        async def generate(request: ChatRequest, _context: CallContext) -> ChatResponse:
            return await backend.generate(request)

        return cls(generate, model, temperature=temperature, seed=seed)

    async def __call__(self, messages: Sequence[Message], *, stage: str, step: int) -> str:
        request = ChatRequest(
            model=self.model,
            messages=tuple(messages),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
        )
        context = self.context.model_copy(update={"role": stage, "step": step})
        response = await self.generate(request, context)
        return response.choices[0].text if response.choices else ""


async def ask(
    chat: Chat,
    history: Sequence[Message],
    parse: Callable[[str], T],
    *,
    stage: str,
    step: int,
    max_fixes: int,
    prepare: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[Parsed[T] | FormatFailure, list[Message]]:
    """One model turn with bounded format fixes; also returns the messages it added."""
    added: list[Message] = []

    async def send() -> str:
        reply = await chat((*history, *added), stage=stage, step=step)
        added.append(Message(role="assistant", content=reply))
        if prepare is not None:
            await prepare(reply)
        return reply

    async def ask_again(fix: str) -> str:
        added.append(Message(role="user", content=fix))
        return await send()

    result = await parse_with_fixes(await send(), parse, ask_again, max_fixes=max_fixes)
    return result, added

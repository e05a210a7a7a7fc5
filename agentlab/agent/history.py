"""Keeping the agent's conversation inside the model's context window.

The loop keeps the whole conversation, and the store every step; what it *sends* is
:meth:`Window.fit` of it. That is everything when the estimate fits. Otherwise the system
prompt, the task and the last step are always kept; of the steps between, the oldest
observations are replaced by :data:`ELIDED` first, then the oldest steps are left out whole
(the task then says how many). When even the system prompt, the task and the last step do
not fit, there is nothing sensible to send, and the trajectory ends ``context_exhausted``.

Tokens are estimated (:func:`agentlab.agent.context.estimate_tokens` plus an allowance per
message for the chat template) and scaled by what the model reports: after each reply the
ratio of its prompt tokens to our estimate of that prompt is kept (the largest seen), so a
tokenizer that makes more tokens of the same text moves the trimming earlier. A refusal
(:class:`~agentlab.errors.ContextOverflowError`) teaches the window and the ratio too. Room
for the reply (``max_tokens``) is kept free: most servers count prompt plus reply.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from agentlab.agent.context import estimate_tokens
from agentlab.errors import ContextOverflowError
from agentlab.types import Message

ELIDED = "[agentlab: this output was left out to fit the model's context window]"
LEFT_OUT = "\n\n[agentlab: the first {n} steps were left out to fit the model's context window]"
MESSAGE_TOKENS = 8  # what a chat template adds around one message (role markers, separators)
GROWTH = 1.25  # how much more to allow for after a refusal that gives no numbers


def message_tokens(message: Message) -> int:
    """The estimated tokens of one message as sent (content, tool calls, template)."""
    calls = sum(estimate_tokens(c.name) + estimate_tokens(c.arguments) for c in message.tool_calls)
    return estimate_tokens(message.content) + calls + MESSAGE_TOKENS


@dataclass(frozen=True)
class Fitted:
    """What to send: the messages, their unscaled estimate, how many steps were trimmed."""

    messages: list[Message]
    estimate: int
    trimmed: int


@dataclass
class Window:
    """A model's context window as the loop tracks it (``tokens`` None: not known)."""

    tokens: int | None
    reply_tokens: int
    extra_tokens: int = 0  # sent with every request besides the messages (tool schemas)
    ratio: float = 1.0  # the model's tokens per estimated token, never below 1

    def fit(self, messages: Sequence[Message], head: int = 2) -> Fitted | None:
        """``messages`` trimmed to fit (see the module doc); None if nothing can fit.

        The first ``head`` messages (system prompt, task) are kept as they are; the rest are
        steps, each an assistant reply and the observations after it.
        """
        sizes = [message_tokens(m) for m in messages]
        total = sum(sizes) + self.extra_tokens
        if self.tokens is None or self._fits(total):
            return Fitted(list(messages), total, 0)
        starts = [i for i in range(head, len(messages)) if messages[i].role == "assistant"]
        ends = [*starts[1:], len(messages)] if starts else []
        old = list(zip(starts, ends, strict=True))[:-1]  # every step but the last may be trimmed
        elided = dropped = 0
        marker = message_tokens(Message(role="user", content=ELIDED))
        while not self._fits(total) and elided < len(old):
            start, end = old[elided]
            total -= sum(sizes[start + 1 : end]) - marker * (end - start - 1)
            elided += 1
        note = estimate_tokens(LEFT_OUT.format(n=len(old)))
        while not self._fits(total + (note if dropped else 0)) and dropped < len(old):
            start, end = old[dropped]
            total -= sizes[start] + marker * (end - start - 1)
            dropped += 1
        if not self._fits(total + (note if dropped else 0)):
            return None
        return Fitted(self._render(messages, head, old, elided, dropped), total, elided)

    def _fits(self, estimate: int) -> bool:
        assert self.tokens is not None
        return math.ceil(estimate * self.ratio) <= self.tokens - self.reply_tokens

    @staticmethod
    def _render(
        messages: Sequence[Message],
        head: int,
        old: list[tuple[int, int]],
        elided: int,
        dropped: int,
    ) -> list[Message]:
        out = list(messages[:head])
        if dropped:
            task = out[-1]
            out[-1] = task.model_copy(update={"content": task.content + LEFT_OUT.format(n=dropped)})
        for number, (start, end) in enumerate(old):
            if number < dropped:
                continue
            out.append(messages[start])
            for m in messages[start + 1 : end]:
                out.append(m.model_copy(update={"content": ELIDED}) if number < elided else m)
        out += messages[old[-1][1] if old else head :]
        return out

    def too_small(self, messages: Sequence[Message], head: int = 2) -> str:
        """Why :meth:`fit` found nothing to send, in one line with the numbers."""
        starts = [i for i in range(head, len(messages)) if messages[i].role == "assistant"]
        kept = [*messages[:head], *messages[starts[-1] if starts else len(messages) :]]
        need = math.ceil((sum(map(message_tokens, kept)) + self.extra_tokens) * self.ratio)
        room = (self.tokens or 0) - self.reply_tokens
        return (
            f"the system prompt, the task and the last step need ~{need} tokens; the model's "
            f"window of {self.tokens} leaves {room} after {self.reply_tokens} for the reply"
        )

    def learn(self, estimate: int, prompt_tokens: int) -> None:
        """Remember how the model counted a prompt we estimated at ``estimate``."""
        if estimate > 0 and prompt_tokens > 0:
            self.ratio = max(self.ratio, prompt_tokens / estimate)

    def refused(self, estimate: int, error: ContextOverflowError) -> None:
        """Learn from a server's refusal of a prompt we estimated at ``estimate``."""
        if error.context_tokens:
            self.tokens = min(self.tokens or error.context_tokens, error.context_tokens)
        if error.prompt_tokens:
            self.learn(estimate, error.prompt_tokens)
            return
        if self.tokens is None:  # no numbers at all: it is smaller than what we sent
            self.tokens = math.ceil(estimate * self.ratio)
        self.ratio *= GROWTH

"""Reading model replies, shared by every layer that talks to a model (agent, scoring).

- :func:`code_blocks` / :func:`python_block`: fenced code in a reply (``` or ~~~, any
  length; an unclosed block runs to the end);
- :func:`parse_with_fixes`: the bounded "fix your format" loop. A parse function raises
  :class:`~agentlab.errors.ReplyFormatError` with a message meant for the model; the loop
  sends it back (worded by the caller's ``fix_message``) at most ``max_fixes`` times and then
  returns a :class:`FormatFailure`: a bad reply never crashes a trajectory or a selection.

Pure text handling over :mod:`agentlab.errors` only, so it sits with the foundation.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from agentlab.errors import ReplyFormatError

T = TypeVar("T")

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<mark>```+|~~~+)[ \t]*(?P<lang>[\w+-]*)[^\n]*$", re.M)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block in ``text`` as (language, body), in order. Unclosed ones run to EOF."""
    out: list[tuple[str, str]] = []
    pos = 0
    while (opening := _FENCE.search(text, pos)) is not None:
        mark = opening["mark"]
        start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$", re.M)
        end_match = closing.search(text, start)
        end = end_match.start() if end_match else len(text)
        out.append((opening["lang"].lower(), text[start:end]))
        pos = end_match.end() if end_match else len(text)
    return out


def python_block(text: str) -> str | None:
    """The last fenced block tagged python/py (or untagged); None if there is none."""
    found = [body for lang, body in code_blocks(text) if lang in ("python", "py", "python3", "")]
    return found[-1] if found and found[-1].strip() else None


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """A reply that parsed, after ``fixes`` 'fix your format' turns."""

    value: T
    reply: str
    fixes: int


@dataclass(frozen=True)
class FormatFailure:
    """The model never produced a usable reply; ``reason`` is the last parse error."""

    reason: str
    replies: tuple[str, ...]
    fixes: int


async def parse_with_fixes(
    reply: str,
    parse: Callable[[str], T],
    ask_again: Callable[[str], Awaitable[str]],
    *,
    max_fixes: int,
    fix_message: Callable[[str], str],
) -> Parsed[T] | FormatFailure:
    """Parse ``reply``; on a format error ask the model again, at most ``max_fixes`` times.

    ``ask_again(message)`` sends the "fix your format" message as the next user turn (after
    the bad reply) and returns the model's new reply. Errors it raises (LLM or budget errors)
    propagate: they are not the model's format problem.
    """
    replies = [reply]
    for fixes in range(max_fixes + 1):
        try:
            return Parsed(parse(replies[-1]), replies[-1], fixes)
        except ReplyFormatError as exc:
            reason = str(exc)
        if fixes == max_fixes:
            return FormatFailure(reason, tuple(replies), fixes)
        replies.append(await ask_again(fix_message(reason)))
    raise AssertionError("unreachable")  # the loop always returns

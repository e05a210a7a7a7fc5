"""Reading model replies for the testing and editing state machines, with bounded format fixes.

Formats (the prompts in :mod:`agentlab.agent.prompts` ask for exactly these):

- a test script is the last fenced code block tagged ``python`` or ``py`` (or untagged);
- a decision is a line holding only the decision word, optionally decorated: ``APPROVE``,
  ``**REVISE**``, ``Decision: REWRITE_TEST``. Decision words are upper-case on purpose, so
  prose like "I approve of this" is never read as one. Two different decisions are an error;
- testing, first turn: a script. Review turns: ``APPROVE`` (keep the current test; any code
  is ignored) or ``REVISE`` plus a new script;
- editing: edit blocks (see :mod:`agentlab.agent.edits`), or ``REWRITE_TEST`` plus a new
  script, or ``APPROVE``; never edits together with a decision.

A parse function raises :class:`~agentlab.errors.ReplyFormatError` with a message meant for the
model. :func:`parse_with_fixes` sends that message back at most ``max_fixes`` times and then
returns a :class:`FormatFailure` carrying the reason: a bad reply never crashes a trajectory.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Literal, TypeVar

from agentlab.agent.edits import EditBlock, parse_edit_blocks
from agentlab.agent.prompts import format_fix_message
from agentlab.errors import ReplyFormatError
from agentlab.text import FormatFailure, Parsed, code_blocks, python_block
from agentlab.text import parse_with_fixes as _parse_with_fixes

__all__ = [
    "EditReply",
    "FormatFailure",
    "Parsed",
    "TestReply",
    "code_blocks",
    "decision",
    "parse_with_fixes",
    "python_block",
]

T = TypeVar("T")

_DECISION = re.compile(
    r"^[\W_]*(?:decision[\W_]*)?(?P<word>APPROVE|REVISE|REWRITE_TEST)[\W_]*$", re.IGNORECASE
)

TestDecision = Literal["WRITE", "APPROVE", "REVISE"]
EditAction = Literal["EDIT", "REWRITE_TEST", "APPROVE"]


def decision(text: str, allowed: Collection[str]) -> str | None:
    """The decision word on a line of its own, if any; two different ones are an error."""
    words = set()
    for line in text.splitlines():
        match = _DECISION.match(line.strip())
        if match and match["word"] == match["word"].upper():
            words.add(match["word"])
    words &= set(allowed)
    if len(words) > 1:
        raise ReplyFormatError(
            f"the reply gives several decisions ({', '.join(sorted(words))}); give exactly one, "
            "alone on its own line"
        )
    return words.pop() if words else None


# ------------------------------------------------------------------------ testing replies


@dataclass(frozen=True)
class TestReply:
    """A testing-state-machine reply: a new script, an approval, or a revision."""

    __test__ = False  # not a pytest test class, despite the name

    decision: TestDecision
    script: str | None = None


def parse_test_script(text: str) -> TestReply:
    """The first testing turn: the reply must contain a Python test script."""
    script = python_block(text)
    if script is None:
        raise ReplyFormatError(
            "no test script found; put the complete Python script in one ```python fenced "
            "block (exit code 0 = the issue is fixed, non-zero = not fixed)"
        )
    return TestReply("WRITE", script)


def parse_test_review(text: str) -> TestReply:
    """A review turn: APPROVE (keep the test) or REVISE with a new script."""
    word = decision(text, ("APPROVE", "REVISE"))
    if word == "APPROVE":
        return TestReply("APPROVE")
    if word is None:
        raise ReplyFormatError(
            "no decision found; end with APPROVE alone on a line to keep the test, or REVISE "
            "alone on a line followed by the new script in a ```python block"
        )
    script = python_block(text)
    if script is None:
        raise ReplyFormatError(
            "REVISE needs the complete new test script in a ```python fenced block"
        )
    return TestReply("REVISE", script)


# ------------------------------------------------------------------------ editing replies


@dataclass(frozen=True)
class EditReply:
    """An editing-state-machine reply: edits, a rewritten test, or an approval."""

    action: EditAction
    blocks: tuple[EditBlock, ...] = ()
    script: str | None = None


def parse_edit_reply(text: str) -> EditReply:
    """Edit blocks, or REWRITE_TEST with a script, or APPROVE (exactly one of them)."""
    blocks = tuple(parse_edit_blocks(text))
    word = decision(text, ("APPROVE", "REWRITE_TEST"))
    if blocks and word is not None:
        raise ReplyFormatError(
            f"the reply has both edit blocks and {word}; send either edits, or {word} alone"
        )
    if blocks:
        return EditReply("EDIT", blocks=blocks)
    if word == "APPROVE":
        return EditReply("APPROVE")
    if word == "REWRITE_TEST":
        script = python_block(text)
        if script is None:
            raise ReplyFormatError(
                "REWRITE_TEST needs the complete new test script in a ```python fenced block"
            )
        return EditReply("REWRITE_TEST", script=script)
    raise ReplyFormatError(
        "the reply has no edit blocks and no decision; send search/replace edit blocks, or "
        "REWRITE_TEST with a new ```python test script, or APPROVE alone on a line"
    )


async def parse_with_fixes(
    reply: str,
    parse: Callable[[str], T],
    ask_again: Callable[[str], Awaitable[str]],
    *,
    max_fixes: int,
) -> Parsed[T] | FormatFailure:
    """:func:`agentlab.text.parse_with_fixes` with the agent's "fix your format" wording."""
    return await _parse_with_fixes(
        reply, parse, ask_again, max_fixes=max_fixes, fix_message=format_fix_message
    )

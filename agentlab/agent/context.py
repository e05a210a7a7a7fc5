"""The context stage's pure parts: which files to score, reading scores and rankings, packing.

Token counts here are an estimate (about four characters per token, never fewer tokens than
words), deliberately cheap and slightly pessimistic: packing only has to stay under the
model's window, not hit it exactly, and calling a tokenizer per file would cost more than the
slack it saves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agentlab.agent.replies import code_blocks
from agentlab.errors import ReplyFormatError

TRUNCATION_MARKER = "... [truncated: {n} more lines of {path}]"

_SCORE = re.compile(r"score\W{0,3}\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+))?", re.IGNORECASE)
_TEST_PATH = re.compile(
    r"(^|/)(tests?|testing)/|(^|/)test_[^/]*\.py$|_tests?\.py$|(^|/)conftest\.py$"
)
_SOURCE_SUFFIXES = (".py", ".pyi")


def estimate_tokens(text: str) -> int:
    """A cheap upper-ish estimate of the tokens in ``text``."""
    return max((len(text) + 3) // 4, len(text.split()))


def is_test_path(path: str) -> bool:
    """True for test files and test directories (which the relevance stage skips)."""
    return bool(_TEST_PATH.search(path))


def source_files(paths: Iterable[str]) -> list[str]:
    """The non-test Python source files among ``paths``, sorted, for relevance scoring."""
    return sorted(p for p in paths if p.endswith(_SOURCE_SUFFIXES) and not is_test_path(p))


def parse_relevance(text: str) -> float:
    """The relevance score in a reply (``SCORE: 7`` or ``SCORE: 7/10``), scaled to 0..1.

    The last score line wins, so a model that reconsiders is read at its final answer.
    """
    matches = list(_SCORE.finditer(text))
    if not matches:
        raise ReplyFormatError("no score found; end with a line of the form SCORE: <0-10>")
    value, scale = matches[-1].group(1), matches[-1].group(2)
    score = float(value) / float(scale or 10)
    if not 0.0 <= score <= 1.0:
        raise ReplyFormatError(f"score {value} is out of range; give an integer from 0 to 10")
    return score


def parse_ranking(text: str, known: Iterable[str]) -> list[str]:
    """Paths from a ranking reply, in order, keeping only known paths, each once.

    Paths are read from the last fenced block if there is one, else from every line; list
    markers, numbering and backticks around a path are ignored.
    """
    known_set = set(known)
    blocks = code_blocks(text)
    lines = blocks[-1][1].splitlines() if blocks else text.splitlines()
    ranked: list[str] = []
    for line in lines:
        words = re.sub(r"^\s*(?:[-*+]|\d+[.)])?\s*", "", line).split()
        path = words[0].strip("`'\",:").removeprefix("./") if words else ""
        if path in known_set and path not in ranked:
            ranked.append(path)
    if not ranked:
        raise ReplyFormatError(
            "no known file paths found; list the paths exactly as given, one per line, "
            "inside a single ``` fenced block"
        )
    return ranked


@dataclass(frozen=True)
class PackedContext:
    """Files rendered for a prompt, within a token budget."""

    text: str
    included: tuple[str, ...]
    truncated: str | None
    dropped: tuple[str, ...]
    tokens: int


def render_file(path: str, content: str) -> str:
    """One file as it appears in a prompt."""
    body = content if content.endswith("\n") or not content else content + "\n"
    return f"### {path}\n```\n{body}```\n"


def pack_context(files: Sequence[tuple[str, str]], budget_tokens: int) -> PackedContext:
    """Render ranked ``files`` (path, content) until ``budget_tokens`` is reached.

    Files go in rank order; the first that does not fit is cut at a line boundary with a
    marker saying how much was left out (if at least a few lines fit), and the rest are
    dropped.
    """
    parts: list[str] = []
    included: list[str] = []
    truncated: str | None = None
    used = 0
    for index, (path, content) in enumerate(files):
        rendered = render_file(path, content)
        cost = estimate_tokens(rendered)
        if used + cost <= budget_tokens:
            parts.append(rendered)
            included.append(path)
            used += cost
            continue
        cut = _truncate(path, content, budget_tokens - used)
        if cut is not None:
            parts.append(cut)
            truncated = path
            used += estimate_tokens(cut)
        dropped = tuple(p for p, _ in files[index + (cut is not None) :])
        return PackedContext("".join(parts), tuple(included), truncated, dropped, used)
    return PackedContext("".join(parts), tuple(included), None, (), used)


def _truncate(path: str, content: str, room: int) -> str | None:
    """The longest line prefix of ``content`` that fits in ``room`` tokens, with a marker."""
    lines = content.splitlines()
    low, high = 0, len(lines)
    while low < high:  # binary search on the number of kept lines
        mid = (low + high + 1) // 2
        if estimate_tokens(_cut(path, lines, mid)) <= room:
            low = mid
        else:
            high = mid - 1
    if low < 3:  # a stub of one or two lines helps less than the tokens it costs
        return None
    return _cut(path, lines, low)


def _cut(path: str, lines: Sequence[str], keep: int) -> str:
    marker = TRUNCATION_MARKER.format(n=len(lines) - keep, path=path)
    return render_file(path, "\n".join([*lines[:keep], marker]))

"""Search/replace edit blocks: parsed from a model reply, matched tolerantly, turned into a diff.

The block format the prompts ask for (the CodeMonkeys / aider shape)::

    path/to/file.py
    <<<<<<< SEARCH
    lines copied from the file
    =======
    the lines to put there instead
    >>>>>>> REPLACE

The path is the last non-blank line before ``<<<<<<< SEARCH`` (code fences and surrounding
backticks are ignored). An empty SEARCH section creates a new file; an empty REPLACE section
deletes the matched lines. Blocks apply in order, each to the result of the ones before.

Models copy code imperfectly, so a SEARCH section is matched in four passes and the first
pass that finds exactly one place wins: exact text; lines equal ignoring trailing whitespace;
lines equal ignoring indentation (the replacement is re-indented by the same shift); and, for
SEARCH sections of three or more lines, a single fuzzy window (difflib ratio >=
``FUZZY_THRESHOLD``). No match, or several equally good
ones, raises :class:`~agentlab.errors.ReplyFormatError` whose message is written to be sent
back to the model as the "fix your format" turn.

:func:`unified_diff` produces a diff that ``git apply`` accepts: ``diff --git`` headers with
``a/`` and ``b/`` prefixes, ``new file mode`` for created files, and ``\\ No newline at end of
file`` markers where a side does not end in a newline.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agentlab.errors import ReplyFormatError

FUZZY_THRESHOLD = 0.9
_FUZZY_MIN_LINES = 3
# Fuzzy matching costs O(windows x chars); beyond this the reply must match more exactly.
_FUZZY_MAX_WINDOWS = 20_000

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class EditBlock:
    """One search/replace edit of one file."""

    path: str
    search: str
    replace: str


def parse_edit_blocks(text: str) -> list[EditBlock]:
    """All edit blocks in a reply, in order. Raises ReplyFormatError on a broken block."""
    lines = text.splitlines()
    blocks: list[EditBlock] = []
    i = 0
    while i < len(lines):
        if _DIVIDER.match(lines[i]) or _REPLACE.match(lines[i]):
            raise ReplyFormatError(
                f"line {i + 1}: found {lines[i].strip()!r} without a `<<<<<<< SEARCH` line "
                "before it; every block is: file path, <<<<<<< SEARCH, old lines, =======, "
                "new lines, >>>>>>> REPLACE"
            )
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        path = _path_before(lines, i)
        search, i = _section(lines, i + 1, _DIVIDER, "=======", path)
        replace, i = _section(lines, i + 1, _REPLACE, ">>>>>>> REPLACE", path)
        blocks.append(EditBlock(path, search, replace))
        i += 1
    return blocks


def _path_before(lines: Sequence[str], at: int) -> str:
    for j in range(at - 1, -1, -1):
        candidate = lines[j].strip()
        if not candidate or _FENCE.match(candidate):
            continue
        path = candidate.strip("`*'\" ").removeprefix("a/").removeprefix("b/")
        path = re.sub(r"^(file|path)\s*:\s*", "", path, flags=re.IGNORECASE)
        if path and " " not in path and not _REPLACE.match(candidate):
            return _safe_path(path.removeprefix("./"))
        break
    raise ReplyFormatError(
        f"line {at + 1}: the `<<<<<<< SEARCH` block has no file path on the line before it; "
        "put the file's path, relative to the repository root, alone on that line"
    )


def _safe_path(path: str) -> str:
    # The path becomes a file name in a sandbox and in a diff: keep it inside the repository.
    if path.startswith(("/", "~")) or ".." in path.split("/") or "\\" in path:
        raise ReplyFormatError(
            f"the edit block path {path!r} is not inside the repository; give the path "
            "relative to the repository root, without .. or a leading /"
        )
    return path


def _section(
    lines: Sequence[str], start: int, end: re.Pattern[str], marker: str, path: str
) -> tuple[str, int]:
    for j in range(start, len(lines)):
        if end.match(lines[j]):
            body = lines[start:j]
            return ("\n".join(body) + "\n") if body else "", j
        if _SEARCH.match(lines[j]):
            break
    raise ReplyFormatError(
        f"the edit block for {path} starting at line {start} is missing its `{marker}` line; "
        "every block is: file path, <<<<<<< SEARCH, old lines, =======, new lines, "
        ">>>>>>> REPLACE"
    )


# ----------------------------------------------------------------------------- matching


def apply_block(content: str, block: EditBlock) -> str:
    """``content`` with ``block`` applied (tolerant matching, see the module docstring)."""
    if not block.search.strip():
        raise ReplyFormatError(
            f"the edit block for {block.path} has an empty SEARCH section but the file exists; "
            "copy the lines to change into SEARCH (an empty SEARCH only creates new files)"
        )
    old = content.splitlines(keepends=True)
    search = block.search.splitlines()
    replace = block.replace.splitlines()
    for finder in (_find_exact, _find_rstrip, _find_indent, _find_fuzzy):
        spans = finder(old, search)
        if len(spans) == 1:
            start, stop = spans[0]
            return _splice(old, start, stop, _reindent(search, replace, old[start:stop]))
        if len(spans) > 1:
            lines = ", ".join(str(s + 1) for s, _ in spans[:5])
            raise ReplyFormatError(
                f"the SEARCH section for {block.path} matches {len(spans)} places (lines "
                f"{lines}); include more surrounding lines so it matches exactly one"
            )
    raise ReplyFormatError(
        f"the SEARCH section for {block.path} does not match the file; copy the lines to "
        f"change exactly as they are in the file, starting with: {search[0].strip()[:80]!r}"
    )


def _windows(old: Sequence[str], size: int) -> range:
    return range(max(len(old) - size + 1, 0))


def _find_exact(old: Sequence[str], search: Sequence[str]) -> list[tuple[int, int]]:
    # Whole lines only: a SEARCH text that happens to end another line must not match there.
    have = [s.rstrip("\r\n") for s in old]
    n = len(search)
    return [(i, i + n) for i in _windows(old, n) if have[i : i + n] == list(search)]


def _find_rstrip(old: Sequence[str], search: Sequence[str]) -> list[tuple[int, int]]:
    want = [s.rstrip() for s in search]
    have = [s.rstrip() for s in old]
    n = len(want)
    return [(i, i + n) for i in _windows(old, n) if have[i : i + n] == want]


def _find_indent(old: Sequence[str], search: Sequence[str]) -> list[tuple[int, int]]:
    want = [s.strip() for s in search]
    have = [s.strip() for s in old]
    n = len(want)
    return [(i, i + n) for i in _windows(old, n) if have[i : i + n] == want]


def _find_fuzzy(old: Sequence[str], search: Sequence[str]) -> list[tuple[int, int]]:
    n = len(search)
    # On one or two lines a 90% match is often a different statement (`a - b` vs `a * b`).
    if sum(1 for s in search if s.strip()) < _FUZZY_MIN_LINES:
        return []
    if len(_windows(old, n)) * n > _FUZZY_MAX_WINDOWS:
        return []
    target = "\n".join(s.strip() for s in search)
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(target)
    scored: list[tuple[float, int]] = []
    for i in _windows(old, n):
        matcher.set_seq1("\n".join(s.strip() for s in old[i : i + n]))
        if matcher.real_quick_ratio() >= FUZZY_THRESHOLD and matcher.quick_ratio() >= (
            FUZZY_THRESHOLD
        ):
            ratio = matcher.ratio()
            if ratio >= FUZZY_THRESHOLD:
                scored.append((ratio, i))
    # Windows overlapping the best one are the same place seen shifted, not a rival match.
    spans: list[tuple[int, int]] = []
    for _, i in sorted(scored, reverse=True):
        if all(i + n <= s or i >= e for s, e in spans):
            spans.append((i, i + n))
    return spans


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _first_indent(lines: Sequence[str]) -> str:
    return next((_indent(s) for s in lines if s.strip()), "")


def _reindent(search: Sequence[str], replace: Sequence[str], matched: Sequence[str]) -> list[str]:
    """Shift ``replace`` by the indentation difference between ``search`` and the file."""
    have, want = _first_indent(matched), _first_indent(search)
    if have == want:
        return list(replace)
    out = []
    for line in replace:
        if not line.strip():
            out.append("")
        elif line.startswith(want):
            out.append(have + line[len(want) :])
        else:
            out.append(have + line.lstrip())
    return out


def _splice(old: list[str], start: int, stop: int, new: Sequence[str]) -> str:
    # The file's last line may lack a newline; keep it that way if we replaced that line.
    keep_open = stop == len(old) and not old[-1].endswith("\n")
    body = "".join(line + "\n" for line in new)
    if keep_open and body:
        body = body[:-1]
    return "".join(old[:start]) + body + "".join(old[stop:])


# --------------------------------------------------------------------------- applying


def apply_edits(files: Mapping[str, str | None], blocks: Sequence[EditBlock]) -> dict[str, str]:
    """Apply ``blocks`` to ``files`` (path -> content, None = absent); return changed files.

    The result maps each touched path to its new content; paths whose content did not change
    are left out. ``files`` is not modified.
    """
    current: dict[str, str | None] = dict(files)
    for block in blocks:
        content = current.get(block.path)
        if content is None:
            if block.search.strip():
                raise ReplyFormatError(
                    f"the edit block for {block.path} edits a file that does not exist; check "
                    "the path, or leave SEARCH empty to create a new file"
                )
            current[block.path] = block.replace
        else:
            current[block.path] = apply_block(content, block)
    return {p: c for p, c in current.items() if c is not None and files.get(p) != c}


def unified_diff(old: Mapping[str, str | None], new: Mapping[str, str | None]) -> str:
    """A ``git apply``-able diff from ``old`` to ``new`` (path -> content, None = absent)."""
    parts = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path, old.get(path))
        if before == after:
            continue
        parts.append(_file_diff(path, before, after))
    return "".join(parts)


def _file_diff(path: str, before: str | None, after: str | None) -> str:
    header = [f"diff --git a/{path} b/{path}\n"]
    if before is None:
        header.append("new file mode 100644\n")
    elif after is None:
        header.append("deleted file mode 100644\n")
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        (after or "").splitlines(keepends=True),
        fromfile="/dev/null" if before is None else f"a/{path}",
        tofile="/dev/null" if after is None else f"b/{path}",
    )
    body = []
    for line in lines:
        body.append(line)
        if not line.endswith("\n"):
            body.append("\n\\ No newline at end of file\n")
    return "".join(header + body)


def diff_from_reply(files: Mapping[str, str | None], reply: str) -> str:
    """Parse the edit blocks in ``reply``, apply them to ``files``, return the diff."""
    blocks = parse_edit_blocks(reply)
    if not blocks:
        raise ReplyFormatError(
            "no edit blocks found; write each change as: file path, <<<<<<< SEARCH, old "
            "lines, =======, new lines, >>>>>>> REPLACE"
        )
    return unified_diff(files, apply_edits(files, blocks))

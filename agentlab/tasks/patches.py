"""A structural parser for the patches a candidate submits: every path a patch can write.

The grader must know every file a patch creates, changes, renames, copies or deletes, whatever
form the patch takes, because the last apply fallback (GNU ``patch``) accepts more than git
does. Covered: git's extended headers (``new file mode``, ``deleted file mode``, ``old mode`` /
``new mode``, ``rename from/to``, ``copy from/to``, ``similarity index``, ``index``), pure
renames and copies (no ``---``/``+++`` lines), ``GIT binary patch`` and ``Binary files ...
differ`` sections, C-quoted paths (``"b/\\056git/config"``), plain unified diffs, and context
diffs (``*** path`` / ``--- path``). What this parser cannot see (a header form GNU ``patch``
guesses from ``Index:`` lines, say) is still caught after application: the grader compares
``git status`` before and after the patch (see :mod:`agentlab.tasks.tamper`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_CONTEXT_RANGE = re.compile(r"^\*\*\* \d+(,\d+)? \*\*\*\*$")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f"}
_ESCAPES |= {"r": "\r", "v": "\v"}
DEV_NULL = "/dev/null"


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` hunk: its ranges, the text after the second ``@@`` and its body lines
    (each with its ``' '``, ``'+'``, ``'-'`` or ``'\\'`` prefix)."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str
    lines: tuple[str, ...]

    @property
    def added(self) -> list[str]:
        return [line[1:] for line in self.lines if line.startswith("+")]

    @property
    def removed(self) -> list[str]:
        return [line[1:] for line in self.lines if line.startswith("-")]


@dataclass
class FilePatch:
    """Everything one file section of a patch does."""

    old_path: str | None = None
    new_path: str | None = None
    operation: str = "modify"  # modify | add | delete | rename | copy
    old_mode: str | None = None
    new_mode: str | None = None
    binary: bool = False
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        """Every path this section names (both sides of a rename or copy)."""
        out: list[str] = []
        for path in (self.old_path, self.new_path):
            if path and path not in out:
                out.append(path)
        return out

    @property
    def written(self) -> list[str]:
        """Paths that exist after application with content from the patch."""
        if self.operation == "delete":
            return []
        return [self.new_path or self.old_path or ""]


def unquote(raw: str) -> str:
    """A git path as written in a header: C-quoted (``"a/\\303\\251"``) or bare."""
    raw = raw.strip()
    if not (len(raw) >= 2 and raw.startswith('"') and raw.endswith('"')):
        return raw.split("\t")[0]
    out = bytearray()
    body, i = raw[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567":
                digits = re.match(r"[0-7]{1,3}", body[i + 1 :])
                assert digits is not None
                out.append(int(digits.group(), 8) & 0xFF)
                i += 1 + len(digits.group())
                continue
            out += _ESCAPES.get(nxt, nxt).encode()
            i += 2
            continue
        out += ch.encode()
        i += 1
    return out.decode("utf-8", "replace")


def strip_prefix(path: str | None) -> str | None:
    """``a/x`` or ``b/x`` -> ``x`` (as ``-p1`` does); ``/dev/null`` -> None."""
    if path is None or path == DEV_NULL:
        return None
    return path[2:] if path[:2] in ("a/", "b/") else path


def _git_header_paths(rest: str) -> tuple[str | None, str | None]:
    """The two paths of ``diff --git <a> <b>`` (quoted or not; unambiguous when equal)."""
    if rest.startswith('"'):
        end = _quoted_end(rest)
        return unquote(rest[: end + 1]), unquote(rest[end + 1 :])
    if rest.endswith('"'):
        start = rest.rfind(' "')
        return rest[:start], unquote(rest[start + 1 :])
    # Unquoted names may hold spaces: the split where both sides name the same path wins.
    for i, ch in enumerate(rest):
        if ch == " " and rest[:i][2:] == rest[i + 1 :][2:]:
            return rest[:i], rest[i + 1 :]
    left, _, right = rest.partition(" ")
    return left, right or None


def _quoted_end(text: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return len(text) - 1


def _hunk_body(lines: list[str], start: int, old_len: int, new_len: int) -> tuple[list[str], int]:
    body, i = [], start
    while i < len(lines) and (old_len > 0 or new_len > 0 or lines[i].startswith("\\")):
        line = lines[i]
        tag = line[:1]
        if tag == " " or line == "":
            old_len, new_len = old_len - 1, new_len - 1
        elif tag == "-":
            old_len -= 1
        elif tag == "+":
            new_len -= 1
        elif tag != "\\":
            break  # a short hunk: the rest is another section
        body.append(line if line else " ")
        i += 1
    return body, i


def parse_patch(text: str) -> list[FilePatch]:
    """Every file section of ``text`` (git, unified or context format), in order."""
    lines = text.splitlines()
    files: list[FilePatch] = []
    current: FilePatch | None = None
    in_git_header = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            old, new = _git_header_paths(line[len("diff --git ") :])
            current = FilePatch(old_path=strip_prefix(old), new_path=strip_prefix(new))
            files.append(current)
            in_git_header = True
        elif current is not None and in_git_header and _extended(current, line):
            pass
        elif line.startswith("GIT binary patch") or (
            line.startswith("Binary files ") and line.endswith(" differ")
        ):
            if current is None or not in_git_header:
                current = FilePatch()
                files.append(current)
            current.binary = True
            i += 1
            while i < len(lines) and not lines[i].startswith(("diff --git ", "--- ", "@@ ")):
                i += 1  # literal/delta payload lines and blank separators
            in_git_header = False
            continue
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old = strip_prefix(unquote(line[4:]))
            new = strip_prefix(unquote(lines[i + 1][4:]))
            if current is None or not in_git_header:
                current = FilePatch(old_path=old, new_path=new)
                files.append(current)
            current.operation = _operation(current, old, new)
            current.old_path = old if old is not None else current.old_path
            current.new_path = new if new is not None else current.new_path
            in_git_header = False
            i += 2
            continue
        elif (
            line.startswith("*** ")
            and not _CONTEXT_RANGE.match(line)
            and i + 1 < len(lines)
            and lines[i + 1].startswith("--- ")
        ):
            # Context diff header (GNU patch applies these too).
            old = strip_prefix(unquote(line[4:]))
            new = strip_prefix(unquote(lines[i + 1][4:]))
            current = FilePatch(old_path=old, new_path=new)
            current.operation = _operation(current, old, new)
            files.append(current)
            in_git_header = False
            i += 2
            continue
        elif (match := _HUNK.match(line)) and current is not None:
            old_len = int(match.group(2) or "1")
            new_len = int(match.group(4) or "1")
            body, i = _hunk_body(lines, i + 1, old_len, new_len)
            current.hunks.append(
                Hunk(
                    int(match.group(1)),
                    old_len,
                    int(match.group(3)),
                    new_len,
                    match.group(5).strip(),
                    tuple(body),
                )
            )
            in_git_header = False
            continue
        i += 1
    return files


def _operation(current: FilePatch, old: str | None, new: str | None) -> str:
    if current.operation in ("rename", "copy"):
        return current.operation
    if old is None:
        return "add"
    if new is None:
        return "delete"
    return current.operation


def _extended(current: FilePatch, line: str) -> bool:
    """Apply one git extended header line to ``current``; False if ``line`` is not one."""
    key, _, value = line.partition(" ")
    two = " ".join(line.split(" ")[:2])
    if two in ("rename from", "copy from"):
        current.operation = two.split()[0]
        current.old_path = unquote(line[len(two) + 1 :])
    elif two in ("rename to", "copy to"):
        current.operation = two.split()[0]
        current.new_path = unquote(line[len(two) + 1 :])
    elif two == "new file":
        current.operation, current.old_path = "add", None
        current.new_mode = line.rsplit(" ", 1)[-1]
    elif two == "deleted file":
        current.operation, current.new_path = "delete", None
        current.old_mode = line.rsplit(" ", 1)[-1]
    elif two == "old mode":
        current.old_mode = value.split()[-1]
    elif two == "new mode":
        current.new_mode = value.split()[-1]
    elif key in ("index", "similarity", "dissimilarity"):
        pass
    else:
        return False
    return True


def touched_paths(text: str) -> list[str]:
    """Every path any section of ``text`` names, in order, without repeats."""
    out: list[str] = []
    for section in parse_patch(text):
        for path in section.paths:
            if path not in out:
                out.append(path)
    return out

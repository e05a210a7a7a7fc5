"""Normalised diffs: when two candidates are the same change, they are run and voted once.

Two diffs are the same change when they differ only in what a reviewer would not call a
difference: ``index`` lines and blob ids, trailing whitespace, the line numbers in hunk headers
(offsets move when a model miscounts; ``git apply`` finds the place from the context) and the
function context after them. Everything that decides what the change does is kept: every
hunk's context, removed and added lines in order, the file headers (new, deleted, renamed,
mode), and each ``\\ No newline at end of file`` marker with the line it belongs to, so diffs
that change different lines, or differ only in a final newline, never merge. Known limit: the
same hunk (context included) applied at two places in one file is one change here, since
without the base file the offset alone cannot tell a miscount from another place.
"""

from __future__ import annotations

import hashlib
import re

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_HEADER: tuple[str, ...] = ("--- ", "+++ ", "new file mode", "deleted file mode", "old mode")
_HEADER += (
    "new mode",
    "rename from",
    "rename to",
    "copy from",
    "copy to",
    "Binary files",
    "GIT binary",
)
_NO_NEWLINE = "\\ No newline at end of file"
_SKIP = ("index ", "similarity index", "dissimilarity index")


def normalise_diff(patch: str) -> str:
    """The canonical text of ``patch``: equal for diffs that make the same change."""
    out: list[str] = []
    left_old = left_new = 0  # what the current hunk has left to read
    last = ""  # the last body line's tag, so a no-newline marker stays with its line
    for line in patch.splitlines():
        if (left_old > 0 or left_new > 0) and (line == "" or line.startswith(("-", "+", " "))):
            tag = line[:1] or " "
            out.append((tag + line[1:]).rstrip() or " ")
            left_old -= tag != "+"
            left_new -= tag != "-"
            last = tag
        elif line.startswith("\\") and last:
            out.append(f"{_NO_NEWLINE} ({last})")  # kept: a final newline is part of the change
        elif hunk := _HUNK.match(line):
            out.append("@@")  # offsets and function context dropped: the body places it
            left_old, left_new = int(hunk.group(2) or 1), int(hunk.group(3) or 1)
            last = ""
        elif line.startswith(("diff --git ", *_HEADER)):
            out.append(line.rstrip())
            last = ""
        elif line.strip() and not line.startswith(_SKIP):
            out.append(line.rstrip())  # a binary payload, or text between sections
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def patch_sha(patch: str) -> str:
    """sha256 of the normalised diff (the ``candidate.patch_sha`` column); '' for no change."""
    text = normalise_diff(patch)
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


def text_sha(text: str) -> str:
    """sha256 of a test script with line-end whitespace dropped (identical tests run once)."""
    body = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return hashlib.sha256(body.encode()).hexdigest()

"""Normalised diffs: when two candidates are the same change, they are run and voted once.

Two diffs are the same change when they differ only in what a reviewer would not call a
difference: ``index`` lines and ``diff --git`` headers' blob ids, trailing whitespace, the line
numbers in hunk headers (offsets move when the model quotes context differently), the function
context after a hunk header, and a missing final newline.
"""

from __future__ import annotations

import hashlib
import re

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@.*$")
_SKIP = ("index ", "similarity index", "dissimilarity index", "\\ No newline at end of file")


def normalise_diff(patch: str) -> str:
    """The canonical text of ``patch``: equal for diffs that make the same change."""
    out: list[str] = []
    for line in patch.splitlines():
        if line.startswith(_SKIP):
            continue
        if _HUNK.match(line):
            out.append("@@")
            continue
        out.append(line.rstrip())
    while out and not out[-1]:
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

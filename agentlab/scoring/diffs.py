"""Normalised diffs: when two candidates are the same change, they are run and voted once.

The canonical form of a diff is, per file, its header (paths, new/deleted/renamed/mode) and,
per block of consecutive changed lines, the base-file line where the block starts followed by
its removed and added lines, with trailing whitespace dropped and a ``\\ No newline at end of
file`` marker kept on the line it belongs to. So two diffs are one change when they differ only
in ``index`` lines, how much context they quote, hunk header offsets and function context, or
trailing whitespace; diffs that change different lines (even the same text at two places in a
file) or differ in a final newline never merge. Known limit: without the base file, a
hand-written hunk whose header names the wrong line is a different change from the right one.
"""

from __future__ import annotations

import hashlib
import re

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_HEADER = ("--- ", "+++ ", "new file mode", "deleted file mode", "old mode", "new mode")
_HEADER += ("rename from", "rename to", "copy from", "copy to", "Binary files", "GIT binary")
_NO_NEWLINE = "\\ No newline at end of file"


def normalise_diff(patch: str) -> str:
    """The canonical text of ``patch``: equal for diffs that make the same change."""
    out: list[str] = []
    line_no = left_old = left_new = 0  # where in the base file; what the hunk has left
    in_block = binary = False
    for line in patch.splitlines():
        in_hunk = left_old > 0 or left_new > 0
        if in_hunk and (line == "" or line.startswith(("-", "+", " "))):
            tag = line[:1] or " "
            if tag == " ":
                in_block = False
            elif not in_block:
                out.append(f"@@ {line_no}")
                in_block = True
            if tag != " ":
                out.append(line.rstrip())
            line_no += tag != "+"
            left_old -= tag != "+"
            left_new -= tag != "-"
        elif line.startswith("\\"):
            if in_block:
                out.append(_NO_NEWLINE)  # it belongs to the changed line before it
        elif hunk := _HUNK.match(line):
            # A zero-length old range names the line *before* an insertion.
            line_no = int(hunk.group(1)) + int(hunk.group(2) == "0")
            left_old, left_new = int(hunk.group(2) or 1), int(hunk.group(3) or 1)
            in_block = binary = False
        elif line.startswith(("diff --git ", *_HEADER)):
            out.append(line.rstrip())
            binary = line.startswith("GIT binary") or (binary and not line.startswith("diff"))
            in_block = False
        elif binary and line.strip():
            out.append(line)  # the binary payload is the change
    return "\n".join(out) + "\n" if out else ""


def patch_sha(patch: str) -> str:
    """sha256 of the normalised diff (the ``candidate.patch_sha`` column); '' for no change."""
    text = normalise_diff(patch)
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


def text_sha(text: str) -> str:
    """sha256 of a test script with line-end whitespace dropped (identical tests run once)."""
    body = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return hashlib.sha256(body.encode()).hexdigest()

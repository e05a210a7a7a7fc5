"""Prompt templates for the context, testing and editing stages: short, versioned, hashed.

Each :class:`Prompt` has a name, a version and a system and user template in
:class:`string.Template` syntax (``$name``; a literal dollar is ``$$``), which leaves the
braces in code and JSON alone. :attr:`Prompt.hash` covers all four, so a stored run names the
exact prompt text it used; change a template's wording and bump its version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from string import Template

from agentlab.types import Message

EDIT_FORMAT = """\
Write each change as a search/replace block:

path/to/file.py
<<<<<<< SEARCH
the exact lines to change, copied from the file
=======
the new lines
>>>>>>> REPLACE

Put the file path alone on the line before <<<<<<< SEARCH. SEARCH must match exactly one
place; include a few unchanged lines around the change if needed. An empty SEARCH creates a
new file."""


@dataclass(frozen=True)
class Prompt:
    """A versioned pair of templates."""

    name: str
    version: int
    system: str
    user: str
    hash: str = field(init=False)

    def __post_init__(self) -> None:
        text = "\x00".join((self.name, str(self.version), self.system, self.user))
        object.__setattr__(self, "hash", hashlib.sha256(text.encode()).hexdigest()[:16])

    def render(self, **values: str) -> tuple[Message, ...]:
        """System and user messages with ``values`` filled in (a missing value is a KeyError)."""
        values = {"edit_format": EDIT_FORMAT, **values}
        return (
            Message(role="system", content=Template(self.system).substitute(values)),
            Message(role="user", content=Template(self.user).substitute(values)),
        )

    def follow_up(self, template: str, **values: str) -> Message:
        """A later user turn of this conversation (test output, review requests)."""
        return Message(role="user", content=Template(template).substitute(values))


RELEVANCE = Prompt(
    "relevance",
    1,
    "You judge whether a source file matters for fixing a GitHub issue. Be brief.",
    """\
Issue:
$problem

File $path:
```
$content
```

Would a developer need to read or change this file to fix the issue? Give a one-sentence
reason, then a last line of the form SCORE: <0-10> (0 = unrelated, 10 = must change).""",
)

RANKING = Prompt(
    "ranking",
    1,
    "You rank source files by how much they matter for fixing a GitHub issue.",
    """\
Issue:
$problem

Candidate files, with a note on each:
$files

List the files that matter, most important first, one path per line, inside a single
``` fenced block. Leave out files that do not matter.""",
)

TESTING = Prompt(
    "testing",
    1,
    "You write reproduction tests for bugs in Python repositories.",
    """\
Issue:
$problem

Relevant code:
$context

Write a standalone Python script that reproduces the issue when run from the repository root
with `python test_issue.py`. It must exit with code 0 if the issue is fixed and a non-zero
code (use 2) if it is not. Print what it checks. Reply with the whole script in one
```python fenced block.""",
)

TEST_REVIEW = """\
Your script's output on the original, unfixed code (exit code $exit_code):
```
$output
```

If the script correctly reproduces the issue (non-zero exit for the right reason), reply with
APPROVE alone on a line. Otherwise reply with REVISE alone on a line, then the complete new
script in a ```python block."""

EDITING = Prompt(
    "editing",
    1,
    "You fix bugs in Python repositories with minimal, correct edits.",
    """\
Issue:
$problem

Relevant code:
$context

A reproduction test (exit 0 = fixed, non-zero = not fixed):
```python
$test
```

Fix the issue. $edit_format""",
)

EDIT_REVIEW = """\
The test on the original code (exit code $original_exit):
```
$original_output
```

The test on your patched code (exit code $patched_exit):
```
$patched_output
```

Your current diff:
```diff
$diff
```

Reply with one of: more search/replace edit blocks to improve the fix; REWRITE_TEST alone on a
line followed by a new ```python test script if the test itself is wrong; or APPROVE alone on
a line if the fix is correct and complete."""

FORMAT_FIX = """\
Your last reply could not be used: $reason
Reply again, following the requested format exactly."""

PROMPTS = {p.name: p for p in (RELEVANCE, RANKING, TESTING, EDITING)}


def format_fix_message(reason: str) -> str:
    """The user turn that asks the model to fix its reply's format."""
    return Template(FORMAT_FIX).substitute(reason=reason)


def prompt_hash(*prompts: Prompt | str) -> str:
    """One short hash over several prompts and follow-up templates, for storing with a run."""
    digest = hashlib.sha256()
    for p in prompts:
        digest.update((p.hash if isinstance(p, Prompt) else p).encode() + b"\x00")
    return digest.hexdigest()[:16]

"""Prompts of the scoring stages. Each names the exact reply format its parser reads."""

from __future__ import annotations

SELECT_SYSTEM = """\
You are choosing the one correct patch for a GitHub issue among several candidates.
You may write a Python test script meant to tell the candidates apart: put it in one
```python fenced block. It runs from the repository root against every candidate; exit code 0
means the issue is fixed. You then see each candidate's exit code and output.
When you are sure, reply with a line `PICK: <number>` naming the correct candidate."""

SELECT_USER = """\
# Issue
{problem}

# Candidates
{candidates}

Write a distinguishing test in a ```python block, or reply `PICK: <number>`.
You may run at most {tests} tests."""

SELECT_RESULTS = """\
Results of your test:
{results}

Write another test in a ```python block ({left} left), or reply `PICK: <number>`."""

SELECT_NO_TESTS_LEFT = "You have no tests left. Reply `PICK: <number>`."

JUDGE_SYSTEM = """\
You review a patch for a GitHub issue. Judge whether it fixes the issue without breaking
anything. End with a line `SCORE: <0-10>` (10 = certainly correct)."""

JUDGE_LOGPROB_SYSTEM = """\
You review a patch for a GitHub issue. Does it fix the issue without breaking anything?
Answer with exactly one word: YES or NO."""

JUDGE_USER = """\
# Issue
{problem}

# Patch
```diff
{patch}
```"""

PAIRWISE_SYSTEM = """\
You compare two patches for the same GitHub issue. Decide which one fixes the issue
correctly. End with a line `WINNER: A` or `WINNER: B`."""

PAIRWISE_USER = """\
# Issue
{problem}

# Patch A
```diff
{a}
```

# Patch B
```diff
{b}
```"""

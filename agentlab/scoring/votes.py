"""Counting votes from a matrix and ranking candidates (pure functions, no I/O).

The rule, stated once:

- an ``error`` cell (the batch died as a whole: no record) is no verdict and is ignored, so
  an infrastructure failure never makes a test look like it fails without a patch;
- a generated test is *valid* when it is not flaky (every run of it on unchanged code gave the
  same result) and it fails on unchanged code (it reproduces the issue). A test that passes
  without any patch cannot tell a fix from no fix, so it gets no vote;
- a candidate's votes are the number of valid tests it passes (every repeat must pass);
- ranking (CodeMonkeys' tie-break): more votes first, then the shorter normalised patch, then
  the lower candidate id, so the order is total and reproducible. A candidate whose patch is
  empty or does not apply is ranked after every other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agentlab.scoring.matrix import Cell


@dataclass(frozen=True)
class TestVerdict:
    """What the matrix says about one generated test."""

    __test__ = False  # not a pytest test class, despite the name

    test: int
    flaky: bool
    fails_without_patch: bool
    passes: int  # candidates it passes on

    @property
    def valid(self) -> bool:
        return not self.flaky and self.fails_without_patch


@dataclass(frozen=True)
class Ranked:
    """One distinct candidate's place in the vote."""

    candidate: int
    votes: int
    rank: int
    patch_chars: int
    applied: bool


def verdicts(cells: Iterable[Cell]) -> dict[int, TestVerdict]:
    """Per test: flaky, failing without a patch, how many candidates it passes on."""
    base: dict[int, set[bool]] = {}
    passed_by: dict[tuple[int, int], bool] = {}
    tests: set[int] = set()
    for cell in cells:
        tests.add(cell.test)
        if cell.error:
            continue
        if cell.candidate is None:
            base.setdefault(cell.test, set()).add(cell.passed)
        else:
            key = (cell.test, cell.candidate)
            passed_by[key] = passed_by.get(key, True) and cell.passed
    out = {}
    for test in sorted(tests):
        seen = base.get(test, set())
        out[test] = TestVerdict(
            test=test,
            flaky=len(seen) > 1,
            fails_without_patch=seen == {False},
            passes=sum(1 for (t, _c), ok in passed_by.items() if t == test and ok),
        )
    return out


def count_votes(cells: Iterable[Cell], tests: Mapping[int, TestVerdict]) -> dict[int, int]:
    """Votes per candidate: valid tests passed on every repeat."""
    ok: dict[tuple[int, int], bool] = {}
    for cell in cells:
        if cell.candidate is not None and not cell.error:
            key = (cell.candidate, cell.test)
            ok[key] = ok.get(key, True) and cell.passed
    votes: dict[int, int] = {}
    for (cand, test), passed in ok.items():
        votes.setdefault(cand, 0)
        if passed and tests[test].valid:
            votes[cand] += 1
    return votes


def rank(
    patches: Mapping[int, str], votes: Mapping[int, int], not_applied: Iterable[int] = ()
) -> list[Ranked]:
    """Candidates in vote order with the stated tie-break (best first, rank 1)."""
    bad = set(not_applied)

    def key(cand: int) -> tuple[int, int, int, int]:
        unusable = int(not patches[cand].strip() or cand in bad)
        return (unusable, -votes.get(cand, 0), len(patches[cand]), cand)

    order = sorted(patches, key=key)
    return [
        Ranked(c, votes.get(c, 0), i + 1, len(patches[c]), c not in bad)
        for i, c in enumerate(order)
    ]


def not_applied(cells: Iterable[Cell]) -> set[int]:
    """Candidates whose patch no apply command took."""
    return {c.candidate for c in cells if c.candidate is not None and not c.applied and not c.error}


def top(ranked: Sequence[Ranked], m: int) -> list[Ranked]:
    """The top ``m`` usable candidates (falling back to the best unusable one if none is)."""
    usable = [r for r in ranked if r.applied and r.patch_chars > 0]
    return usable[:m] if usable else list(ranked[:1])

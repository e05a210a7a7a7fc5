"""Dual agreement (CodeT): choose among candidate programs with generated tests (pure, no I/O).

Raw test voting ranks each candidate by how many generated tests it passes, so one wrong
candidate that happens to agree with several wrong tests beats many correct candidates that
agree with fewer. Dual agreement asks for agreement in both directions:

- candidates are grouped into *consensus sets* by behaviour: the exact set of generated tests
  they pass, and, for stdin/stdout programs, also the outputs they print on generated inputs
  that carry no expected output (two programs printing the same thing on every such input
  agree, as in AlphaCode's clustering);
- a set scores ``(number of candidates in it) x (number of tests they pass)``;
- the best set wins; its lowest candidate id is the pick.

Ties are broken deterministically: higher score, then more tests passed, then more members,
then the lower smallest candidate id. With no test passed by anyone every score is 0, so the
largest set (output agreement alone) wins.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsensusSet:
    """Candidates that pass exactly the same tests and print the same outputs."""

    members: tuple[int, ...]  # candidate ids, ascending
    passed: frozenset[int]  # test ids every member passes
    outputs: tuple[str, ...] = ()  # output digests on unlabelled inputs, in input order

    @property
    def score(self) -> int:
        return len(self.members) * len(self.passed)


@dataclass(frozen=True)
class DualPick:
    """The chosen candidate and every consensus set, best first."""

    candidate: int
    sets: tuple[ConsensusSet, ...]

    @property
    def best(self) -> ConsensusSet:
        return self.sets[0]


def consensus_sets(
    passes: Mapping[int, Collection[int]],
    outputs: Mapping[int, Sequence[str]] | None = None,
) -> list[ConsensusSet]:
    """Group candidates (id -> tests passed, id -> output digests); sets best first."""
    groups: dict[tuple[frozenset[int], tuple[str, ...]], list[int]] = {}
    for cand in sorted(passes):
        key = (frozenset(passes[cand]), tuple(outputs.get(cand, ())) if outputs else ())
        groups.setdefault(key, []).append(cand)
    sets = [ConsensusSet(tuple(m), passed, outs) for (passed, outs), m in groups.items()]
    return sorted(sets, key=lambda s: (-s.score, -len(s.passed), -len(s.members), s.members[0]))


def dual_agreement(
    passes: Mapping[int, Collection[int]],
    outputs: Mapping[int, Sequence[str]] | None = None,
) -> DualPick | None:
    """The CodeT pick over candidates (``None`` when there are none)."""
    sets = consensus_sets(passes, outputs)
    if not sets:
        return None
    return DualPick(candidate=sets[0].members[0], sets=tuple(sets))


def most_tests_passed(passes: Mapping[int, Collection[int]]) -> int | None:
    """The raw-vote baseline: most tests passed, ties to the lower candidate id."""
    if not passes:
        return None
    return min(passes, key=lambda c: (-len(set(passes[c])), c))


def passes_from_matrix(matrix: Sequence[Sequence[bool]]) -> dict[int, set[int]]:
    """``matrix[test][candidate]`` (tests x candidates) -> candidate -> tests it passes."""
    width = len(matrix[0]) if matrix else 0
    if any(len(row) != width for row in matrix):
        raise ValueError("every test row needs one entry per candidate")
    return {c: {t for t, row in enumerate(matrix) if row[c]} for c in range(width)}

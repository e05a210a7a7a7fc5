"""Selection metrics per problem and per run (pure).

- coverage: some candidate of the problem resolves under the hidden tests;
- selected: the chosen candidate resolves;
- random: the expected score of picking one candidate uniformly (resolved / candidates);
- efficiency of a run: selected / coverage (1.0 = selection loses nothing of what sampling
  found; CodeMonkeys reports 57.4 / 69.8 = 0.82).

Ungraded candidates (``resolved`` unknown) count as not resolved and are reported, so a
number is never silently computed on partial grades.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemMetrics:
    task_id: str
    candidates: int
    resolved: int
    ungraded: int
    covered: bool
    selected: bool | None  # None: nothing selected for this problem
    random: float


@dataclass(frozen=True)
class RunMetrics:
    problems: int
    coverage: float
    selected: float
    random: float
    ungraded: int

    @property
    def efficiency(self) -> float | None:
        """selected / coverage; None when nothing is covered."""
        return self.selected / self.coverage if self.coverage else None


def per_problem(
    resolved: Mapping[str, Iterable[bool | None]],
    chosen: Mapping[str, bool | None],
) -> list[ProblemMetrics]:
    """``resolved``: task -> each candidate's grade; ``chosen``: task -> the pick's grade."""
    out = []
    for task, grades in sorted(resolved.items()):
        grades = list(grades)
        good = sum(1 for g in grades if g)
        out.append(
            ProblemMetrics(
                task_id=task,
                candidates=len(grades),
                resolved=good,
                ungraded=sum(1 for g in grades if g is None),
                covered=good > 0,
                selected=None if task not in chosen else bool(chosen[task]),
                random=good / len(grades) if grades else 0.0,
            )
        )
    return out


def per_run(problems: Iterable[ProblemMetrics]) -> RunMetrics:
    """Means over problems (a problem with nothing selected scores 0)."""
    rows = list(problems)
    n = len(rows) or 1
    return RunMetrics(
        problems=len(rows),
        coverage=sum(p.covered for p in rows) / n,
        selected=sum(bool(p.selected) for p in rows) / n,
        random=sum(p.random for p in rows) / n,
        ungraded=sum(p.ungraded for p in rows),
    )

"""Reading the evidence runs back from the store: outcome matrices, completions, turns, costs.

Everything here is a plain SQL read (the same SQL the study prints), so any number in the
results can be traced to rows a user can query with ``agentlab sql``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import text

from agentlab.store.db import Store

CANDIDATES_SQL = (
    "SELECT task_id, sample, resolved, patch FROM candidate"
    " WHERE run_id = '{run}' AND source = '' ORDER BY task_id, sample"
)
SAMPLE_USD_SQL = (
    "SELECT task_id, sample, step, role, sum(usd + replayed_usd) FROM llm_call"
    " WHERE run_id = '{run}' GROUP BY task_id, sample, step, role"
)
TURNS_SQL = (
    "SELECT task_id, sample, stage, step, record_json FROM turn"
    " WHERE run_id = '{run}' AND stage IN ('completion', 'selftest') ORDER BY task_id, sample, step"
)
RUN_SQL = "SELECT status, spent_usd FROM run WHERE id = '{run}'"


def rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    """All rows of one read-only query."""
    return store.call(lambda s: [tuple(r) for r in s.execute(text(sql)).all()])


def run_status(store: Store, run_id: str) -> str | None:
    """The run's status, or None when the store has no such run."""
    found = rows(store, RUN_SQL.format(run=run_id))
    return str(found[0][0]) if found else None


@dataclass
class Sampled:
    """A run's candidates as problems x samples (stored sample order), with their cost."""

    run_id: str
    tasks: list[str]
    resolved: np.ndarray  # bool, problems x samples
    completions: list[list[str]]
    usd: np.ndarray  # float, problems x samples: the sample's LLM dollars

    @property
    def samples(self) -> int:
        return int(self.resolved.shape[1])


def sampled(store: Store, run_id: str, tasks: list[str]) -> Sampled:
    """The run's graded candidates for ``tasks`` (each must have the same sample count)."""
    by_task: dict[str, dict[int, tuple[bool, str]]] = defaultdict(dict)
    for task, sample, resolved, patch in rows(store, CANDIDATES_SQL.format(run=run_id)):
        by_task[str(task)][int(sample)] = (bool(resolved), str(patch))  # type: ignore[call-overload]
    usd: dict[tuple[str, int], float] = defaultdict(float)
    for task, sample, _step, _role, dollars in rows(store, SAMPLE_USD_SQL.format(run=run_id)):
        usd[(str(task), int(sample))] += float(dollars or 0.0)  # type: ignore[call-overload, arg-type]
    width = min(len(by_task[t]) for t in tasks)
    res = np.zeros((len(tasks), width), dtype=bool)
    cost = np.zeros((len(tasks), width))
    texts: list[list[str]] = []
    for i, task in enumerate(tasks):
        ordered = sorted(by_task[task])[:width]
        texts.append([by_task[task][s][1] for s in ordered])
        for j, s in enumerate(ordered):
            res[i, j] = by_task[task][s][0]
            cost[i, j] = usd[(task, s)]
    return Sampled(run_id, tasks, res, texts, cost)


@dataclass
class Trajectory:
    """One serial trajectory: the completions it wrote in turn order, and what each turn cost."""

    task_id: str
    sample: int
    completions: list[str] = field(default_factory=list)
    passed_own_tests_after: int | None = None  # completions written when its asserts passed
    tests: str = ""
    editing_usd: dict[int, float] = field(default_factory=dict)  # step -> dollars
    testing_usd: float = 0.0

    def completion_at(self, turns: int) -> str:
        """The completion in effect with a limit of ``turns`` model turns."""
        return self.completions[min(turns, len(self.completions)) - 1]

    def usd_at(self, turns: int) -> float:
        """Dollars a limit of ``turns`` costs: the completions written, plus the asserts if > 1."""
        editing = sum(usd for step, usd in self.editing_usd.items() if step < turns)
        return editing + (self.testing_usd if turns > 1 else 0.0)


def trajectories(store: Store, run_id: str) -> dict[tuple[str, int], Trajectory]:
    """Every trajectory of a serial (``n`` > 1) HumanEval run, rebuilt from its turns."""
    out: dict[tuple[str, int], Trajectory] = {}
    for task, sample, stage, _step, record in rows(store, TURNS_SQL.format(run=run_id)):
        key = (str(task), int(sample))  # type: ignore[call-overload]
        traj = out.setdefault(key, Trajectory(*key))
        data = json.loads(str(record))
        if stage == "selftest":
            traj.tests = str(data["tests"])
        elif data.get("kind") == "passed":
            traj.passed_own_tests_after = len(traj.completions)
        else:
            traj.completions.append(str(data["completion"]))
    for task, sample, step, role, dollars in rows(store, SAMPLE_USD_SQL.format(run=run_id)):
        found = out.get((str(task), int(sample)))  # type: ignore[call-overload]
        if found is None:
            continue
        if role == "testing":
            found.testing_usd += float(dollars or 0.0)  # type: ignore[arg-type]
        else:
            found.editing_usd[int(step)] = float(dollars or 0.0)  # type: ignore[call-overload, arg-type]
    return out

"""What a finished pilot run measured, for planning the next run from it.

A pilot gives the numbers a plan needs, all read from its rows: outcomes per problem and
sample (hidden tests), dollars per sample (LLM plus sandbox time as charged), the worst
sample's dollars, how often the trajectory's own-test signal was wrong (false positives and
negatives against the hidden tests), and the selected score of each selection method the pilot
ran (``selection`` rows), next to its coverage.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlmodel import Session

from agentlab.store.budget_queries import RunOutcomes, read_run_outcomes
from agentlab.store.db import Store

_SAMPLE_USD = (
    "SELECT task_id, sample, sum(usd + replayed_usd) FROM llm_call WHERE run_id = :run"
    " GROUP BY task_id, sample"
)
_LAST_STEP = (
    "SELECT task_id, sample, step, record_json FROM turn WHERE run_id = :run"
    " AND stage = 'completion' ORDER BY task_id, sample, step"
)
_SELECTED = (
    "SELECT s.method, s.task_id, c.resolved FROM selection s JOIN candidate c"
    " ON c.id = s.candidate_id WHERE s.run_id = :run"
)


@dataclass(frozen=True)
class PilotMeasures:
    """A pilot's measured numbers (see the module docstring)."""

    outcomes: RunOutcomes
    usd_per_sample: float
    max_sample_usd: float
    false_positive: float | None  # None: the pilot wrote no own tests
    false_negative: float | None
    selected: dict[str, float] = field(default_factory=dict)  # method -> mean resolved of picks

    @property
    def coverage(self) -> float:
        rows = self.outcomes.resolved
        return sum(any(r) for r in rows) / len(rows)

    @property
    def pass_at_1(self) -> float:
        rows = self.outcomes.resolved
        return sum(sum(r) for r in rows) / sum(len(r) for r in rows)


def read_pilot(store: Store, run_id: str) -> PilotMeasures:
    """Measure ``run_id`` (a finished run of a function-task kind) as a pilot.

    Dollars are what the run's ledger charged (``run.spent_usd``: LLM calls, replayed cache
    answers at their original price, and sandbox CPU time), spread over its samples.
    """
    outcomes = read_run_outcomes(store, run_id)

    def query(
        session: Session,
    ) -> tuple[float, list[float], dict[str, bool], dict[str, list[bool]]]:
        execute = session.execute
        spent = execute(text("SELECT spent_usd FROM run WHERE id = :run"), {"run": run_id}).one()
        usd = [float(r[2] or 0.0) for r in execute(text(_SAMPLE_USD), {"run": run_id}).all()]
        last: dict[str, bool] = {}
        for task, sample, _step, record in execute(text(_LAST_STEP), {"run": run_id}).all():
            last[f"{task}\0{sample}"] = json.loads(record).get("kind") == "passed"
        picks: dict[str, list[bool]] = defaultdict(list)
        for method, _task, resolved in execute(text(_SELECTED), {"run": run_id}).all():
            picks[str(method)].append(bool(resolved))
        return float(spent[0] or 0.0), usd, last, picks

    spent, usd, signal, picks = store.call(query)
    samples = sum(len(r) for r in outcomes.resolved)
    per_sample = max(spent, sum(usd)) / max(samples, 1)
    sandbox_usd = max(0.0, spent - sum(usd))  # what the ledger charged beyond LLM calls
    fp = fn = None
    if signal:  # the pilot wrote own tests (n > 1): measure the signal against the hidden tests
        wrong = right = wrong_pass = right_fail = 0
        for i, task in enumerate(outcomes.instance_ids):
            for s, resolved in enumerate(outcomes.resolved[i]):
                passed = bool(signal.get(f"{task}\0{s}"))
                if resolved:
                    right += 1
                    right_fail += not passed
                else:
                    wrong += 1
                    wrong_pass += passed
        fp = wrong_pass / wrong if wrong else 0.0
        fn = right_fail / right if right else 0.0
    return PilotMeasures(
        outcomes,
        per_sample,
        max(usd, default=0.0) + sandbox_usd / max(samples, 1),
        fp,
        fn,
        {m: sum(v) / len(v) for m, v in picks.items() if v},
    )


_TURN_GRADES = (
    "SELECT task_id, sample, record_json FROM turn WHERE run_id = :run AND stage = 'turn_grade'"
)
_TURN_USD = (
    "SELECT role, step, sum(usd + replayed_usd), count(DISTINCT task_id || ':' || sample)"
    " FROM llm_call WHERE run_id = :run GROUP BY role, step"
)


@dataclass(frozen=True)
class TurnOutcomes:
    """A serial run's outcome at every turn limit, and what each extra turn costs.

    ``resolved[i][s][t]``: problem i's sample s, limited to t + 1 turns, passes the hidden
    tests (a trajectory that stopped early keeps its last completion). ``usd_per_turn[t]`` is
    the mean dollars per trajectory that turn t + 1 adds: its completion calls, plus for turn 2
    the calls that write the trajectory's own tests (only a trajectory with n > 1 writes them).
    """

    instance_ids: list[str]
    resolved: list[list[list[bool]]]
    usd_per_turn: tuple[float, ...]


def read_turn_outcomes(store: Store, run_id: str, turns: int) -> TurnOutcomes | None:
    """Per-turn outcomes of a run whose kind stored ``turn_grade`` records; None if none."""

    def query(
        session: Session,
    ) -> tuple[list[tuple[str, int, str]], list[tuple[str, int, float, int]]]:
        grades = [
            (str(t), int(s), str(r))
            for t, s, r in session.execute(text(_TURN_GRADES), {"run": run_id}).all()
        ]
        usd = [
            (str(role), int(step), float(d or 0.0), int(n))
            for role, step, d, n in session.execute(text(_TURN_USD), {"run": run_id}).all()
        ]
        return grades, usd

    grades, usd = store.call(query)
    if not grades:
        return None
    by_task: dict[str, dict[int, list[bool]]] = defaultdict(dict)
    for task, sample, record in grades:
        written = [bool(v) for v in json.loads(record)["resolved"]]
        by_task[task][sample] = [written[min(t, len(written) - 1)] for t in range(turns)]
    width = min(len(v) for v in by_task.values())
    ids = sorted(by_task)
    resolved = [[by_task[i][s] for s in sorted(by_task[i])[:width]] for i in ids]
    trajectories = sum(len(v) for v in by_task.values())
    per_turn = [0.0] * turns
    for role, step, dollars, _n in usd:
        turn = 1 if role == "testing" else step  # the asserts are paid for by turn 2
        if turn < turns:
            per_turn[turn] += dollars / trajectories
    return TurnOutcomes(ids, resolved, tuple(per_turn))

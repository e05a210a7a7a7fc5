"""What ``agentlab report`` and ``agentlab export`` read: metrics and final picks of a run.

Also the selection part of ``agentlab run``'s summary (selected beside coverage and random).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from agentlab.coordinator.selection import FINAL_ORDER
from agentlab.scoring.metrics import ProblemMetrics, RunMetrics, per_problem, per_run
from agentlab.store.scoring_store import ScoringStore, final_picks
from agentlab.store.scoring_tables import Selection
from agentlab.types import Candidate


@dataclass
class RunReport:
    problems: list[ProblemMetrics]
    total: RunMetrics
    by_method: dict[str, float]  # method -> selected score over all problems
    fallbacks: int
    costs: dict[str, tuple[int, float]]  # stage -> (calls, usd)
    final: dict[str, Selection]
    candidates: list[Candidate]


async def build_report(store: ScoringStore, run_id: str) -> RunReport:
    """Metrics per problem and per run, the selected score of every method, cost per stage."""
    candidates = await store.candidates(run_id)
    selections = await store.selections(run_id)
    grade = {c.id: c.resolved for c in candidates}
    grades: dict[str, list[bool | None]] = {}
    for c in candidates:
        grades.setdefault(c.task_id, []).append(c.resolved)
    final = final_picks(selections, FINAL_ORDER)
    chosen = {t: grade.get(s.candidate_id) for t, s in final.items()}
    problems = per_problem(grades, chosen)
    n = len(problems) or 1
    by_method: dict[str, float] = {}
    for method in FINAL_ORDER:
        picks = [s for s in selections if s.method == method]
        if picks:
            by_method[method] = sum(bool(grade.get(s.candidate_id)) for s in picks) / n
    costs = await store.stage_costs(run_id)
    gen = sum(c.usd for c in candidates)
    if gen:
        costs = {"generation (candidates)": (len(candidates), gen), **costs}
    return RunReport(
        problems=problems,
        total=per_run(problems),
        by_method=by_method,
        fallbacks=sum(1 for s in selections if s.fallback),
        costs=costs,
        final=final,
        candidates=candidates,
    )


def write_predictions(report: RunReport, run_id: str, path: Path) -> int:
    """The final picks as a SWE-bench predictions file (``.jsonl``); returns rows written."""
    by_id = {c.id: c for c in report.candidates}
    lines = []
    for task, pick in sorted(report.final.items()):
        cand = by_id.get(pick.candidate_id)
        patch = cand.patch if cand is not None else ""
        lines.append(
            json.dumps(
                {
                    "instance_id": task,
                    "model_name_or_path": f"agentlab-select/{run_id}",
                    "model_patch": patch,
                }
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return len(lines)

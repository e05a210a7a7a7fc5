"""What ``agentlab report`` and ``agentlab export`` read: metrics and final picks of a run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agentlab.scoring.metrics import ProblemMetrics, RunMetrics, per_problem, per_run
from agentlab.selection_runner import FINAL_ORDER
from agentlab.store.run_tables import CandidateRow
from agentlab.store.scoring_store import ScoringStore, final_picks
from agentlab.store.scoring_tables import Selection


@dataclass
class RunReport:
    problems: list[ProblemMetrics]
    total: RunMetrics
    by_method: dict[str, float]  # method -> selected score over all problems
    fallbacks: int
    costs: dict[str, tuple[int, float]]  # stage -> (calls, usd)
    final: dict[str, Selection]
    candidates: list[CandidateRow]


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


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def print_report(report: RunReport, run_id: str, console: Console) -> None:
    """Per-problem table, then the run's coverage, selected, random and efficiency."""
    table = Table(title=f"selection in {run_id}")
    for name in ("problem", "candidates", "resolved", "covered", "selected", "random", "method"):
        table.add_column(name)
    for p in report.problems:
        pick = report.final.get(p.task_id)
        method = "-" if pick is None else pick.method + (" (fallback)" if pick.fallback else "")
        table.add_row(
            p.task_id,
            str(p.candidates),
            f"{p.resolved}" + (f" ({p.ungraded} ungraded)" if p.ungraded else ""),
            "yes" if p.covered else "no",
            "-" if p.selected is None else ("yes" if p.selected else "no"),
            f"{p.random:.2f}",
            method,
        )
    console.print(table)
    t = report.total
    console.print(
        f"coverage {_pct(t.coverage)}  selected {_pct(t.selected)}  random pick "
        f"{_pct(t.random)}  selection efficiency {_pct(t.efficiency)}  "
        f"({t.problems} problems, {report.fallbacks} fallbacks"
        + (f", {t.ungraded} candidates ungraded" if t.ungraded else "")
        + ")"
    )
    if report.by_method:
        console.print(
            "selected by method: "
            + "  ".join(f"{m} {_pct(v)}" for m, v in report.by_method.items())
        )
    for stage, (calls, usd) in report.costs.items():
        console.print(f"cost {stage}: {calls} calls, ${usd:.4f}")


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

"""Printing a selection report (``agentlab select``, ``report`` and ``run`` with selection)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from agentlab.coordinator.selection_report import RunReport


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

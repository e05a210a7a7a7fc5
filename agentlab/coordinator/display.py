"""rich progress for a run (a bar per stage; dollars vs cap, tokens, sandboxes busy, ETA) and
the summary table at the end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.models import Models
from agentlab.coordinator.report import RunReport
from agentlab.coordinator.sandboxes import SandboxPool


class RichProgress:
    """A :class:`agentlab.coordinator.env.Progress` drawn with rich."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bars = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}
        self.stats = self.bars.add_task("spend", total=None, info="")

    def begin(self, totals: dict[str, int]) -> None:
        for stage, total in totals.items():
            self.tasks[stage] = self.bars.add_task(stage, total=total, info="")

    def advance(self, stage: str, n: int = 1) -> None:
        if stage in self.tasks:
            self.bars.advance(self.tasks[stage], n)

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]retry[/] {text}", highlight=False)

    def show_stats(self, models: Models | None, pool: SandboxPool | None) -> None:
        parts = []
        if models is not None:
            cap = models.ledger.cap_usd
            spent = f"${models.ledger.spent_usd:.4f}" + (f" / ${cap:.2f}" if cap else " (no cap)")
            parts += [
                spent,
                f"{models.meter.tokens:,} tokens",
                f"{models.meter.in_flight} calls in flight",
            ]
        if pool is not None:
            parts.append(f"{pool.busy}/{pool.limit} sandboxes busy")
        self.bars.update(self.stats, info="  ".join(parts))

    @contextlib.asynccontextmanager
    async def live(self, holder: dict[str, object]) -> AsyncIterator[None]:
        """Show the bars, refreshing the stats line until the block ends."""

        async def tick() -> None:
            while True:
                env = holder.get("env")
                if isinstance(env, RunEnv):
                    self.show_stats(env.models, env.pool)
                await asyncio.sleep(0.5)

        with self.bars:
            ticker = asyncio.create_task(tick())
            try:
                yield
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker


def summary_table(report: RunReport, model_line: str, status: str) -> Table:
    """Coverage, candidates and cost per stage, in one table."""
    table = Table(title=f"run {report.run_id}: {status}", show_header=True)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("models", model_line)
    table.add_row("problems", str(report.problems))
    table.add_row("candidates (resolved)", f"{report.candidates} ({report.resolved_candidates})")
    table.add_row("coverage", f"{report.coverage:.3f}")
    if report.samples:
        counts = list(report.samples.values())
        spread = f"{min(counts)} / {sum(counts) / len(counts):.1f} / {max(counts)}"
        table.add_row("policy", report.policy)
        table.add_row("samples per problem (min/mean/max)", spread)
        table.add_row(f"samples saved vs uniform k={report.k}", str(report.saved_vs_uniform))
    for k, value in report.curve.items():
        table.add_row(f"  coverage at k={k}", f"{value:.3f}")
    if report.fit is not None:
        fit = report.fit
        table.add_row("scaling fit", f"c(k) = {fit.base:g}^({fit.a:.3f} * k^{fit.b:.3f})")
    for stage, (usd, tokens) in sorted(report.stage_costs.items()):
        table.add_row(f"cost {stage}", f"{_usd(usd)} ({tokens:,} tokens)")
    table.add_row("cost total", _usd(report.spent_usd))
    if report.usd_per_solved is not None:
        table.add_row(f"cost per solved problem ({report.solved})", _usd(report.usd_per_solved))
    if report.replayed_usd:
        # A replayed answer is billed $0; its first cost is what a fresh run would pay.
        table.add_row("replayed from cache (not billed)", _usd(report.replayed_usd))
        table.add_row("cost total without the cache", _usd(report.spent_usd + report.replayed_usd))
    cache = report.cache
    if cache.read_tokens or cache.write_tokens:
        # saved = reads x (input - read price) - writes x (write price - input), per call.
        table.add_row(
            "prompt cache reads / writes", f"{cache.read_tokens:,} / {cache.write_tokens:,} tokens"
        )
        table.add_row("saved by prompt caching", _usd(cache.saved_usd))
    for endpoint, note in report.prices.items():
        table.add_row(f"price {endpoint}", note)
    if report.predicted is not None:
        point, low, high = report.predicted
        table.add_row(
            "predicted vs realized", f"{point:.3f} [{low:.3f}, {high:.3f}] vs {report.coverage:.3f}"
        )
    for task_id, reason in report.failed.items():
        table.add_row(f"failed {task_id}", reason[:120])
    return table


def _usd(value: float) -> str:
    # Local-model runs cost fractions of a cent; show enough digits to see them.
    return f"${value:.4f}" if value == 0 or value >= 0.01 else f"${value:.6f}"


NEXT_SQL: Sequence[str] = (
    "select task_id, sample, status, stage, attempts from trajectory where run_id = '{run}'",
    "select task_id, sample, status, resolved, length(patch) from candidate where run_id = '{run}'",
    "select role, count(*), sum(usd), sum(prompt_tokens + completion_tokens) from llm_call "
    "where run_id = '{run}' group by role",
)

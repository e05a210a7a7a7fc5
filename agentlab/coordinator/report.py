"""The end-of-run numbers: coverage (and its curve over k), per-stage cost, prompt-cache
reads/writes and their saving, where each endpoint's price came from, the scaling fit, and
for a budgeted run the predicted vs realized score, stored on the run row.

Coverage is the share of problems with at least one candidate resolved under the hidden
tests; coverage at k < K is the unbiased pass@k over the K samples. The prediction of a
budgeted run is a holdout check: the coverage posterior (agentlab.budget.PriorPosterior)
is fitted on the first half of each problem's samples and predicts coverage at K, which is
then compared with the realized coverage at K.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from agentlab.budget import PowerLaw, PriorPosterior, coverage_curve, fit_power_law
from agentlab.errors import ConfigError
from agentlab.store.budget_queries import save_prediction, save_realized
from agentlab.store.db import Store
from agentlab.store.llm_log import CacheTotals, cache_totals
from agentlab.store.profile_store import endpoint_prices
from agentlab.store.run_store import RunStore
from agentlab.types import Candidate


@dataclass
class RunReport:
    """What a run produced, for the summary table."""

    run_id: str
    problems: int = 0
    candidates: int = 0
    resolved_candidates: int = 0
    coverage: float = 0.0
    curve: dict[int, float] = field(default_factory=dict)  # k -> coverage at k
    fit: PowerLaw | None = None
    stage_costs: dict[str, tuple[float, int]] = field(default_factory=dict)  # usd, tokens
    spent_usd: float = 0.0
    replayed_usd: float = 0.0  # answers replayed from the cache: their original, unbilled cost
    predicted: tuple[float, float, float] | None = None  # point, low, high
    failed: dict[str, str] = field(default_factory=dict)
    policy: str = "uniform"
    k: int = 0
    samples: dict[str, int] = field(default_factory=dict)  # problem -> samples graded
    cache: CacheTotals = field(default_factory=CacheTotals)  # provider prompt cache
    prices: dict[str, str] = field(default_factory=dict)  # endpoint -> where its price came from

    @property
    def solved(self) -> int:
        """Problems with at least one resolved candidate."""
        return round(self.coverage * self.problems)

    @property
    def usd_per_solved(self) -> float | None:
        """Spend (LLM and sandbox) per solved problem; None when nothing was solved."""
        return self.spent_usd / self.solved if self.solved else None

    @property
    def saved_vs_uniform(self) -> int:
        """Samples not spent compared with k for every problem."""
        return self.k * len(self.samples) - sum(self.samples.values())


def resolved_matrix(rows: list[Candidate], k: int) -> dict[str, list[bool]]:
    """Per problem, the resolved flag of each graded sample (ungraded ones left out)."""
    by_task: dict[str, list[bool]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.task_id, r.sample)):
        if row.resolved is not None and row.sample < k:
            by_task[row.task_id].append(bool(row.resolved))
    return dict(by_task)


def _curve(matrix: dict[str, list[bool]]) -> dict[int, float]:
    if not matrix:
        return {}
    width = min(len(v) for v in matrix.values())
    if width == 0:
        return {}
    n = np.full(len(matrix), width)
    c = np.array([sum(v[:width]) for v in matrix.values()])
    ks = list(range(1, width + 1))
    return {k: float(v) for k, v in zip(ks, coverage_curve(n, c, ks), strict=True)}


def _fit(curve: dict[int, float]) -> PowerLaw | None:
    points = {k: v for k, v in curve.items() if 0.0 < v < 1.0}
    if len(points) < 2:
        return None
    try:
        return fit_power_law(list(points), list(points.values()))
    except (ConfigError, ValueError, FloatingPointError):
        return None


def _holdout_prediction(matrix: dict[str, list[bool]]) -> tuple[float, float, float] | None:
    width = min((len(v) for v in matrix.values()), default=0)
    half = width // 2
    if half < 1 or len(matrix) < 5:
        return None
    n = np.full(len(matrix), half)
    c = np.array([sum(v[:half]) for v in matrix.values()])
    try:
        interval = PriorPosterior(n, c).predict_observed(width)
    except ConfigError:
        return None
    return interval.point, interval.low, interval.high


async def build_report(store: Store, run_id: str, k: int, *, cap_usd: float | None) -> RunReport:
    """Compute the report from the store; a budgeted run also stores predicted vs realized."""
    runs = RunStore(store)
    rows = await runs.candidates(run_id)
    state = await runs.load(run_id)
    matrix = resolved_matrix(rows, k)
    report = RunReport(run_id=run_id, problems=len({r.task_id for r in rows} | set(state.tasks)))
    report.candidates = len(rows)
    report.resolved_candidates = sum(1 for r in rows if r.resolved)
    report.coverage = (
        sum(1 for v in matrix.values() if any(v)) / report.problems if report.problems else 0.0
    )
    report.curve = _curve(matrix)
    report.fit = _fit(report.curve)
    report.stage_costs = await runs.stage_costs(run_id)
    report.spent_usd = sum(usd for usd, _ in report.stage_costs.values())
    report.replayed_usd = await runs.replayed_usd(run_id)
    report.cache = await asyncio.to_thread(cache_totals, store, run_id)
    priced = await asyncio.to_thread(endpoint_prices, store, run_id)
    report.prices = {p.endpoint: p.note for p in priced}
    report.failed = {t: s.error or "" for t, s in state.tasks.items() if s.status == "failed"}
    decisions = await runs.decisions(run_id)
    report.policy = decisions[0].policy if decisions else "uniform"
    report.k = k
    report.samples = {t: 0 for t in state.tasks}
    for row in rows:
        if row.resolved is not None:
            report.samples[row.task_id] = report.samples.get(row.task_id, 0) + 1
    if cap_usd is not None:
        report.predicted = _holdout_prediction(matrix)
        if report.predicted is not None:
            point, low, high = report.predicted
            await asyncio.to_thread(
                save_prediction, store, run_id, point=point, low=low, high=high, budget_usd=cap_usd
            )
        await asyncio.to_thread(save_realized, store, run_id, report.coverage, report.spent_usd)
    return report

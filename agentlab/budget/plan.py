"""Planning a run: the (k samples, n iterations, selection method) with the best predicted
selected score that a budget buys, from a pilot.

For each iteration count the pilot's per-problem outcomes are fitted with the grid posterior
(:mod:`agentlab.budget.posterior`), which predicts coverage at any k for fresh problems with an
interval that includes the spread of a finite problem set. The selected score is coverage times
the method's selection efficiency at that k (random selection scores pass@1 whatever k is).
Cost is ``problems * (k * per-sample cost of n iterations + selection cost per problem)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from agentlab.budget.fit import SelectionCurve
from agentlab.budget.passk import log_spaced_ks
from agentlab.budget.posterior import Interval, PriorPosterior
from agentlab.budget.provenance import ASSUMED_SELECTIONS
from agentlab.errors import ConfigError

# Random selection (exact) plus the published CodeMonkeys efficiencies, which are assumptions
# (see :mod:`agentlab.budget.provenance`); ``budget plan`` replaces them with what the pilot
# measured and labels whatever remains assumed.
DEFAULT_SELECTIONS = (SelectionCurve("random", (1,), (1.0,)), *ASSUMED_SELECTIONS)


@dataclass(frozen=True)
class Pilot:
    """Per-problem outcomes of a pilot: problems x samples x iterations (resolved after each)."""

    outcomes: np.ndarray
    usd_per_iteration: tuple[float, ...]
    selections: tuple[SelectionCurve, ...] = DEFAULT_SELECTIONS

    @classmethod
    def from_final(
        cls, outcomes: ArrayLike, usd_per_sample: float, **kwargs: tuple[SelectionCurve, ...]
    ) -> Pilot:
        """A pilot that only knows final outcomes (problems x samples): one iteration."""
        mat = np.asarray(outcomes, dtype=bool)
        return cls(mat[:, :, None], (usd_per_sample,), **kwargs)


@dataclass(frozen=True)
class Choice:
    """One configuration, what it costs and its predicted selected score."""

    k: int
    iterations: int
    method: str
    cost_usd: float
    predicted: Interval
    coverage: Interval


@dataclass(frozen=True)
class Plan:
    """The best affordable configuration, and every affordable one, best first."""

    best: Choice
    options: tuple[Choice, ...]
    budget_usd: float
    problems: int


def plan(
    pilot: Pilot,
    budget_usd: float,
    *,
    problems: int | None = None,
    k_max: int = 256,
    level: float = 0.9,
) -> Plan:
    """Choose (k, iterations, method) maximising the predicted selected score within budget."""
    out = np.asarray(pilot.outcomes, dtype=bool)
    if out.ndim != 3 or out.shape[0] < 5 or out.shape[1] < 1:
        raise ConfigError("a pilot needs outcomes for at least 5 problems x 1 sample x 1 iteration")
    if len(pilot.usd_per_iteration) != out.shape[2]:
        raise ConfigError("the pilot needs one per-sample cost for each iteration")
    target = problems or out.shape[0]
    ks = log_spaced_ks(k_max, 24)
    options: list[Choice] = []
    cumulative = np.cumsum(pilot.usd_per_iteration)
    for t in range(out.shape[2]):
        successes = out[:, :, t].sum(axis=1)
        post = PriorPosterior(np.full(out.shape[0], out.shape[1]), successes)
        coverage = dict(zip(ks, post.predict_population(ks, level, target), strict=True))
        for sel in pilot.selections:
            for k in ks:
                cost = target * (k * float(cumulative[t]) + sel.usd_per_problem)
                if cost > budget_usd:
                    continue
                cov = coverage[k]
                scaled = coverage[1] if sel.method == "random" else _scale(cov, float(sel([k])[0]))
                options.append(Choice(k, t + 1, sel.method, cost, scaled, cov))
    if not options:
        cheapest = target * (
            float(cumulative[0]) + min(s.usd_per_problem for s in pilot.selections)
        )
        raise ConfigError(
            f"budget {budget_usd:.2f} USD buys no configuration: one sample per problem for "
            f"{target} problems costs {cheapest:.2f} USD; raise --budget"
        )
    options.sort(key=lambda c: (-c.predicted.point, c.cost_usd))
    return Plan(options[0], tuple(options), budget_usd, target)


def _scale(interval: Interval, factor: float) -> Interval:
    return Interval(
        interval.point * factor, interval.low * factor, interval.high * factor, interval.level
    )

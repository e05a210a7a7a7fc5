"""Budget analysis of a finished run: the coverage fit summary and the policy comparison.

Pure functions over outcome matrices (what ``agentlab budget fit`` and ``simulate`` print,
and what experiments/ scripts plot), so the CLI only loads, calls and prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from agentlab.budget.fit import PowerLawFit, bootstrap_power_law
from agentlab.budget.passk import coverage_curve, log_spaced_ks
from agentlab.budget.policy import AdaptivePolicy, UniformPolicy
from agentlab.budget.posterior import Interval, PriorPosterior
from agentlab.budget.provenance import ASSUMED_SELECTIONS
from agentlab.budget.simulate import RunResult, Verifier, run_policy, shape, simulate
from agentlab.errors import ConfigError

PRIOR_PARAMETERS = ("zero_mass", "alpha", "beta", "pass_at_1")


@dataclass
class FitSummary:
    """A run's coverage fit: power law, the prior's parameters, predictions at larger k."""

    problems: int
    samples: int
    n: np.ndarray
    c: np.ndarray
    posterior: PriorPosterior
    efficiency: float  # the selection efficiency used for "selected" (see ``budget fit``)
    law: PowerLawFit | None = None
    prior: dict[str, Interval] = field(default_factory=dict)
    rows: list[tuple[int, Interval, Interval]] = field(default_factory=list)  # k, cov, sel
    measured: dict[int, float] = field(default_factory=dict)  # k <= samples: unbiased pass@k
    ks: tuple[int, ...] = ()  # the k the power law was fitted at
    law_note: str = ""  # why there is no power law, when there is none


def fit_summary(
    resolved: ArrayLike, base: str = "10", efficiency: float | None = None
) -> FitSummary:
    """Fit the problems x samples matrix of resolved outcomes (what ``budget fit`` prints).

    ``efficiency`` scales coverage to the "selected" column; by default the assumed state
    machine efficiency of :data:`agentlab.budget.provenance.ASSUMED_SELECTIONS`.
    """
    mat = np.asarray(resolved, dtype=bool)
    samples = int(mat.shape[1])
    n = np.full(mat.shape[0], samples)
    c = mat.sum(axis=1)
    ks = log_spaced_ks(samples, 8)
    post = PriorPosterior(n, c)
    eff = float(ASSUMED_SELECTIONS[1]([10])[0]) if efficiency is None else efficiency
    summary = FitSummary(int(mat.shape[0]), samples, n, c, post, eff, ks=tuple(ks))
    curve = coverage_curve(n, c, ks)
    inside = (curve > 0.0) & (curve < 1.0)
    if len(ks) < 2:
        summary.law_note = "one sample per problem gives a single point"
    elif inside.sum() < 2:
        solved = int((c > 0).sum())
        summary.law_note = (
            f"coverage is {'0' if solved == 0 else '1'} at every k (no sample "
            f"{'passed' if solved == 0 else 'failed'}): a power law needs two k with coverage"
            " strictly between 0 and 1; the zero-inflated prior below still gives an interval"
        )
    else:
        summary.law = bootstrap_power_law(n, c, ks, base=base)
    summary.prior = {name: post.parameter_interval(name) for name in PRIOR_PARAMETERS}
    for k in sorted({1, samples, 2 * samples, 4 * samples, 8 * samples}):
        iv = post.predict_observed(k)
        sel = Interval(iv.point * eff, iv.low * eff, iv.high * eff)
        summary.rows.append((k, iv, sel))
        if k <= samples:
            summary.measured[k] = float(coverage_curve(n, c, [k])[0])
    return summary


def usd_per_sample(
    llm_usd: float,
    sandbox_seconds: float,
    samples: int,
    *,
    override: float | None = None,
    cpu_hour_usd: float = 0.0,
) -> float | None:
    """Dollars per sample: ``override``, else the run's LLM plus sandbox spend / ``samples``."""
    if override is not None:
        if override <= 0:
            raise ConfigError(f"--usd-per-sample must be > 0, got {override}")
        return override
    total = llm_usd + sandbox_seconds * cpu_hour_usd / 3600.0
    return total / samples if total > 0 else None


def compare_policies(
    shape_name: str,
    problems: int,
    k: int,
    false_positive: float,
    false_negative: float,
    seed: int = 0,
) -> list[RunResult]:
    """Uniform-k, adaptive and oracle-adaptive at the uniform policy's cost (simulated)."""
    if problems < 5 or k < 1:
        raise ConfigError("--problems must be >= 5 and --k >= 1")
    pop = shape(shape_name)
    verifier = Verifier(false_positive, false_negative)
    out = simulate(pop, problems, max(64, 4 * k), verifier, seed)
    uniform = run_policy(UniformPolicy(k), out, float("inf"))
    rows = [uniform]
    for oracle in (False, True):
        policy = AdaptivePolicy(
            pop.prior,
            sample_usd=pop.sample_usd,
            false_positive=false_positive,
            false_negative=false_negative,
            max_samples=out.correct.shape[1],
            oracle=oracle,
        )
        rows.append(run_policy(policy, out, uniform.cost))
    return rows

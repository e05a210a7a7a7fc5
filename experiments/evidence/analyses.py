"""The study's analyses: pure functions over outcome matrices (numpy and agentlab.budget)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agentlab.budget import PriorPosterior, coverage_curve, fit_power_law
from agentlab.budget.policy import AdaptivePolicy, UniformPolicy
from agentlab.budget.posterior import Interval
from agentlab.budget.simulate import RunResult, replay_outcomes, run_policy
from agentlab.errors import ConfigError
from agentlab.scoring.codet import consensus_sets

# ---------------------------------------------------------------- a. scaling


def bootstrap_coverage(
    resolved: np.ndarray, ks: Sequence[int], reps: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coverage (unbiased pass@k, mean over problems) at ``ks``, with a 90% band over problems."""
    n = np.full(resolved.shape[0], resolved.shape[1])
    c = resolved.sum(axis=1)
    point = coverage_curve(n, c, list(ks))
    rng = np.random.default_rng(seed)
    draws = np.empty((reps, len(ks)))
    for r in range(reps):
        pick = rng.integers(0, len(c), len(c))
        draws[r] = coverage_curve(n[pick], c[pick], list(ks))
    return point, np.quantile(draws, 0.05, axis=0), np.quantile(draws, 0.95, axis=0)


@dataclass(frozen=True)
class OrderPrediction:
    """Predictions from the first ``seen`` samples of one sample order, and what happened."""

    order: int
    k: int
    model: Interval
    power_law: float
    realized: float


def predictions_over_orders(
    resolved: np.ndarray, *, seen: int = 8, ks: Sequence[int] = (16, 32), orders: int = 50
) -> list[OrderPrediction]:
    """Fit on ``seen`` samples per problem (a random order each time); predict coverage at ks.

    Realized coverage at k is whether any of the order's first k samples passed: what the run
    would have measured had it stopped at k.
    """
    out = []
    problems, width = resolved.shape
    for order in range(orders):
        rng = np.random.default_rng(10_000 + order)
        perm = np.argsort(rng.random((problems, width)), axis=1)
        shuffled = np.take_along_axis(resolved, perm, axis=1)
        first = shuffled[:, :seen]
        n, c = np.full(problems, seen), first.sum(axis=1)
        post = PriorPosterior(n, c)
        fit_ks = [k for k in (1, 2, 4, 8, 16) if k <= seen]
        try:
            law_k = {
                k: float(fit_power_law(fit_ks, coverage_curve(n, c, fit_ks), "10")([k])[0])
                for k in ks
            }
        except ConfigError:  # coverage 0 or 1 at every fitted k: no power law exists
            law_k = dict.fromkeys(ks, float("nan"))
        for k in ks:
            realized = float(shuffled[:, :k].any(axis=1).mean())
            out.append(
                OrderPrediction(order, k, post.predict_observed(k, seed=order), law_k[k], realized)
            )
    return out


# ---------------------------------------------------------------- a2. serial vs parallel


def interpolated_coverage(resolved: np.ndarray, k: float) -> float:
    """Unbiased coverage at a fractional k (linear between the integer k around it)."""
    n = np.full(resolved.shape[0], resolved.shape[1])
    c = resolved.sum(axis=1)
    lo = max(1, int(np.floor(k)))
    hi = min(resolved.shape[1], lo + 1)
    lo_v, hi_v = coverage_curve(n, c, [lo, hi])
    return float(lo_v + (hi_v - lo_v) * min(1.0, max(0.0, k - lo)))


# ---------------------------------------------------------------- b. allocation by replay


@dataclass(frozen=True)
class ReplayRow:
    signal: str
    policy: str
    result: RunResult
    cost_ratio: float  # cheapest threshold reaching uniform's coverage, over uniform's cost


def measured_verifier(correct: np.ndarray, passed: np.ndarray) -> tuple[float, float]:
    """False-positive and false-negative rates of a signal against the hidden tests."""
    wrong, right = ~correct, correct
    fp = float(passed[wrong].mean()) if wrong.any() else 0.0
    fn = float((~passed[right]).mean()) if right.any() else 0.0
    return fp, fn


THRESHOLDS = (0.0, *np.geomspace(1e-3, 10.0, 40).tolist())


def replay_policies(
    correct: np.ndarray,
    passed: np.ndarray,
    cost: np.ndarray,
    *,
    uniform_k: int,
    folds: Sequence[np.ndarray],
    signal: str,
    pilot: int = 8,
    min_agreement: int = 1,
) -> list[ReplayRow]:
    """Uniform-k, adaptive (threshold sweep) and oracle, two-fold: each fold's prior and
    verifier rates come from the other fold's first ``pilot`` samples, as a pilot would."""
    unit = float(cost.mean())
    uniform: list[RunResult] = []
    sweeps: dict[str, list[list[RunResult]]] = {"adaptive": [], "oracle": []}
    for fold in folds:
        out = replay_outcomes(correct[fold], passed=passed[fold], cost=cost[fold])
        uniform.append(run_policy(UniformPolicy(uniform_k), out, float("inf")))
    for threshold in THRESHOLDS:
        for name in sweeps:
            row = []
            for (fold, other), base in zip((folds, folds[::-1]), uniform, strict=True):
                first = np.asarray(correct[other][:, :pilot], dtype=bool)
                prior = PriorPosterior(
                    np.full(len(other), pilot), np.sum(first, axis=1)
                ).predictive_prior()
                fp, fn = measured_verifier(first, passed[other][:, :pilot])
                policy = AdaptivePolicy(
                    prior,
                    sample_usd=unit,
                    threshold=threshold * (1.0 / unit),
                    false_positive=fp,
                    false_negative=fn,
                    min_agreement=min_agreement,
                    max_samples=correct.shape[1],
                    oracle=name == "oracle",
                )
                out = replay_outcomes(correct[fold], passed=passed[fold], cost=cost[fold])
                row.append(run_policy(policy, out, base.cost))
            sweeps[name].append(row)
    rows = [ReplayRow(signal, f"uniform k={uniform_k}", _merge(uniform), 1.0)]
    target = _merge(uniform).coverage
    base_cost = _merge(uniform).cost
    for name, runs in sweeps.items():
        merged = [_merge(r) for r in runs]
        reaching = [m.cost for m in merged if m.coverage >= target - 1e-12]
        ratio = min(reaching) / base_cost if reaching else float("nan")
        rows.append(ReplayRow(signal, f"{name} (equal spend)", merged[0], ratio))
    return rows


def _merge(results: Sequence[RunResult]) -> RunResult:
    """Two folds' results as one run (folds are the two halves of the problems)."""
    return RunResult(
        results[0].policy,
        float(np.mean([r.score for r in results])),
        float(sum(r.cost for r in results)),
        float(np.mean([r.samples for r in results])),
        float(np.mean([r.coverage for r in results])),
    )


# ---------------------------------------------------------------- c. selection


def codet_pick(
    passes: Sequence[frozenset[int]], outputs: Sequence[tuple[str, ...]], shas: Sequence[str]
) -> int:
    """CodeT dual agreement over the first len(passes) candidates; no asserts: majority sha."""
    if not any(outputs):
        return majority_pick(shas)
    sets = consensus_sets(dict(enumerate(passes)), dict(enumerate(outputs)))
    return sets[0].members[0]


def majority_pick(shas: Sequence[str]) -> int:
    """The first member of the largest group of identical completions."""
    counts: dict[str, int] = {}
    for sha in shas:
        counts[sha] = counts.get(sha, 0) + 1
    best = max(counts.values())
    return next(i for i, sha in enumerate(shas) if counts[sha] == best)

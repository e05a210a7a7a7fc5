"""Replaying allocation policies over a stored run's samples: no model is called.

A stored run is a problems x samples matrix (its samples in stored order, sample index
ascending): whether each sample passed the hidden tests, the verifier signal a live policy
would have seen for it, and what it cost. :func:`replay_policies` runs uniform-k, the chosen
policy and the oracle over that matrix with :func:`agentlab.budget.simulate.run_policy`,
drawing each problem's samples in stored order as if live, and reports, per policy, samples
used, cost, coverage under the hidden tests and the cost of reaching uniform-k's coverage.

Signals (what the policy may look at before hidden grading):

- ``own-tests``: the sample passed its own (model-written) tests, as the task kind reads it;
- ``agreement``: the sample's normalised change equals one of an *earlier* sample of the same
  problem (causal: a live policy only knows the samples drawn so far);
- ``none``: never a signal; the adaptive policy can then only spread samples.

Pure: numpy only. The store side is :mod:`agentlab.store.budget_queries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from agentlab.budget.mixture import BetaPrior
from agentlab.budget.passk import FloatArray
from agentlab.budget.policy import AdaptivePolicy, BoolArray, UniformPolicy
from agentlab.budget.posterior import PriorPosterior
from agentlab.budget.simulate import Outcomes, RunResult, run_policy
from agentlab.errors import ConfigError

POLICIES = ("uniform", "adaptive", "oracle")
SIGNALS = ("own-tests", "agreement", "none")
# Gain-per-cost thresholds tried when looking for the cheapest run reaching uniform-k's
# coverage, as multiples of 1 / (mean cost of one sample).
THRESHOLD_SWEEP = (0.0, *np.geomspace(1e-3, 1.0, 31).tolist())


def agreement_signal(shas: Sequence[Sequence[str]]) -> BoolArray:
    """Per sample: its change (non-empty sha) equals that of an earlier sample of its problem."""
    out = np.zeros((len(shas), len(shas[0]) if shas else 0), dtype=bool)
    for i, row in enumerate(shas):
        seen: set[str] = set()
        for j, sha in enumerate(row):
            out[i, j] = bool(sha) and sha in seen
            if sha:
                seen.add(sha)
    return out


@dataclass(frozen=True)
class ReplayMatrix:
    """What a replay draws from: hidden-test outcome, signal and cost per stored sample."""

    correct: BoolArray
    signal: BoolArray
    cost: FloatArray
    unit: str  # "USD", or "tokens" when every stored dollar is 0 (a free local model)

    @classmethod
    def build(
        cls, correct: ArrayLike, signal: ArrayLike, cost: ArrayLike, unit: str
    ) -> ReplayMatrix:
        """Validate the three matrices (same shape, non-negative costs, some cost)."""
        corr = np.asarray(correct, dtype=bool)
        sig = np.asarray(signal, dtype=bool)
        cst = np.asarray(cost, dtype=np.float64)
        if corr.ndim != 2 or corr.size == 0 or sig.shape != corr.shape or cst.shape != corr.shape:
            raise ConfigError("replay needs same-shape, non-empty problems x samples matrices")
        if (cst < 0).any() or cst.max() <= 0:
            raise ConfigError("replay needs non-negative sample costs, not all zero")
        # A sample that cost nothing (a cached answer) still counts a millionth of the
        # costliest, so a policy's gain per cost stays finite.
        return cls(corr, sig, np.maximum(cst, cst.max() * 1e-6), unit)

    def outcomes(self) -> Outcomes:
        return Outcomes(self.correct, self.signal, self.cost, float(self.cost.max()))

    def verifier_rates(self) -> tuple[float, float]:
        """(P(signal | wrong), P(no signal | correct)) measured on this matrix; 0 if undefined.

        Capped at 0.999: a verifier that always errs would leave the policy's posterior
        nothing to update on.
        """
        wrong, right = ~self.correct, self.correct
        fp = float(self.signal[wrong].mean()) if wrong.any() else 0.0
        fn = float((~self.signal[right]).mean()) if right.any() else 0.0
        return min(fp, 0.999), min(fn, 0.999)

    def prior(self) -> BetaPrior:
        """The population prior fitted (grid posterior, averaged) to these hidden outcomes."""
        n = np.full(self.correct.shape[0], self.correct.shape[1])
        return PriorPosterior(n, self.correct.sum(axis=1)).predictive_prior()

    def shuffled(self, seed: int) -> ReplayMatrix:
        """Each problem's samples in a seeded random order (same permutation for all three)."""
        rng = np.random.default_rng(seed)
        order = np.argsort(rng.random(self.correct.shape), axis=1)
        take = np.take_along_axis
        return ReplayMatrix(
            take(self.correct, order, 1),
            take(self.signal, order, 1),
            take(self.cost, order, 1),
            self.unit,
        )


@dataclass(frozen=True)
class PolicyKnowledge:
    """What the adaptive policy is told: a prior and the signal's error rates, and from where."""

    prior: BetaPrior
    false_positive: float
    false_negative: float
    source: str  # e.g. "run pilot-1 (10 problems x 8 samples)"


@dataclass(frozen=True)
class ReplayRow:
    """One line of a replay table."""

    policy: str
    setting: str
    samples: int  # samples drawn in all
    cost: float
    coverage: float  # some drawn sample passes the hidden tests
    score: float  # the first signalled sample (else the first) passes the hidden tests
    ratio: float | None  # cost / uniform-k's cost, when this row reaches uniform-k's coverage


@dataclass(frozen=True)
class ReplayReport:
    """Uniform-k, the chosen policy and the oracle over one stored matrix."""

    rows: tuple[ReplayRow, ...]
    uniform: ReplayRow
    cap: float
    unit: str
    knowledge: PolicyKnowledge | None


def _row(result: RunResult, setting: str, problems: int, uniform: RunResult | None) -> ReplayRow:
    ratio = None
    if uniform is not None and result.coverage >= uniform.coverage - 1e-12 and uniform.cost > 0:
        ratio = result.cost / uniform.cost
    return ReplayRow(
        result.policy,
        setting,
        round(result.samples * problems),
        result.cost,
        result.coverage,
        result.score,
        ratio,
    )


def _adaptive(
    matrix: ReplayMatrix, knowledge: PolicyKnowledge, threshold: float, oracle: bool
) -> AdaptivePolicy:
    return AdaptivePolicy(
        knowledge.prior,
        sample_usd=float(matrix.cost.mean()),
        threshold=threshold,
        false_positive=knowledge.false_positive,
        false_negative=knowledge.false_negative,
        max_samples=matrix.correct.shape[1],
        oracle=oracle,
    )


def cheapest_reaching(
    matrix: ReplayMatrix, knowledge: PolicyKnowledge, cap: float, target: float, oracle: bool
) -> tuple[RunResult, float] | None:
    """The cheapest run (over the threshold sweep, under ``cap``) with coverage >= target."""
    scale = 1.0 / float(matrix.cost.mean())
    best: tuple[RunResult, float] | None = None
    for t in THRESHOLD_SWEEP:
        result = run_policy(_adaptive(matrix, knowledge, t * scale, oracle), matrix.outcomes(), cap)
        if result.coverage >= target - 1e-12 and (best is None or result.cost < best[0].cost):
            best = (result, t * scale)
    return best


def replay_policies(
    matrix: ReplayMatrix,
    *,
    policy: str,
    k: int,
    knowledge: PolicyKnowledge | None,
    cap: float | None = None,
) -> ReplayReport:
    """Uniform-k, then ``policy`` at ``cap`` (default uniform-k's spend) and the cheapest
    setting reaching uniform-k's coverage, then the oracle the same two ways."""
    if policy not in POLICIES:
        raise ConfigError(f"--policy {policy!r}: choose one of {', '.join(POLICIES)}")
    width = matrix.correct.shape[1]
    if not 1 <= k <= width:
        raise ConfigError(
            f"--k {k}: the run has {width} stored samples per problem; use 1..{width}"
        )
    problems = matrix.correct.shape[0]
    outcomes = matrix.outcomes()
    base = run_policy(UniformPolicy(k), outcomes, float("inf"))
    uniform = _row(base, f"k={k}", problems, base)
    spend = base.cost if cap is None else cap
    if spend <= 0:
        raise ConfigError(f"--cap must be > 0, got {cap}")
    rows = [uniform]
    names = [policy, "oracle"] if policy != "oracle" else ["oracle"]
    for name in names:
        if name == "uniform":
            if cap is not None:
                rows.append(
                    _row(run_policy(UniformPolicy(k), outcomes, spend), "capped", problems, base)
                )
            continue
        if knowledge is None:
            raise ConfigError(f"the {name} policy needs a prior (PolicyKnowledge)")
        oracle = name == "oracle"
        at_cap = run_policy(_adaptive(matrix, knowledge, 0.0, oracle), outcomes, spend)
        rows.append(_row(at_cap, f"spend <= {spend:.4g}", problems, base))
        found = cheapest_reaching(matrix, knowledge, spend, base.coverage, oracle)
        if found is None:
            rows.append(
                ReplayRow(name, "never reaches uniform-k's coverage", 0, 0.0, 0.0, 0.0, None)
            )
        else:
            result, threshold = found
            rows.append(
                _row(result, f"cheapest to reach uniform (thr {threshold:.3g})", problems, base)
            )
    return ReplayReport(tuple(rows), uniform, spend, matrix.unit, knowledge)

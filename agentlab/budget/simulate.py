"""Simulated problem populations, and running a policy on them (or on a real run's outcomes).

A population is a :class:`BetaPrior` (a point mass of unsolvable problems plus a Beta
mixture) with a per-sample cost. Drawing it gives each problem a success probability, then a
problems x samples matrix of outcomes: whether each sample is correct, whether it passes the
generated tests (an imperfect verifier with false positive / false negative rates), and what it
cost. A run replays that matrix in the order a policy asks for samples, so the same matrix
serves every policy (common random numbers) and a real run's matrix replays the same way.

The selected candidate of a problem is its first candidate that passed the generated tests,
else its first candidate; the realized score is the share of problems whose selected
candidate is correct.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from agentlab.budget.mixture import BetaPrior
from agentlab.budget.passk import FloatArray
from agentlab.budget.policy import AllocationState, BoolArray, Policy
from agentlab.errors import ConfigError


@dataclass(frozen=True)
class Verifier:
    """Generated tests as a verifier: P(a wrong candidate passes), P(a correct one fails)."""

    false_positive: float = 0.0
    false_negative: float = 0.0


PERFECT = Verifier()
REALISTIC = Verifier(false_positive=0.1, false_negative=0.2)


@dataclass(frozen=True)
class Population:
    """A named population shape: the per-problem p distribution and per-sample cost."""

    name: str
    prior: BetaPrior
    sample_usd: float = 0.45
    cost_spread: float = 0.5  # per-sample cost is sample_usd * U(1 - spread, 1 + spread)

    @property
    def max_sample_usd(self) -> float:
        return self.sample_usd * (1.0 + self.cost_spread)


SHAPES: dict[str, Population] = {
    # about a quarter unsolvable, pass@1 near 0.35 (CodeMonkeys on SWE-bench Verified)
    "codemonkeys": Population("codemonkeys", BetaPrior.single(0.25, 0.45, 0.5)),
    # mostly solvable; alpha < 1 puts a long tail of very hard problems near p = 0
    "long_tail": Population("long_tail", BetaPrior.single(0.03, 0.3, 0.5)),
    # half unsolvable, the rest mostly hard
    "hard": Population("hard", BetaPrior.single(0.5, 0.35, 1.2)),
}


def shape(name: str) -> Population:
    """Look up a named population shape."""
    if name not in SHAPES:
        raise ConfigError(f"unknown population shape {name!r}; choose one of {sorted(SHAPES)}")
    return SHAPES[name]


def draw_p(prior: BetaPrior, problems: int, rng: np.random.Generator) -> FloatArray:
    """Per-problem success probabilities from the prior."""
    comp = rng.choice(len(prior.weights), size=problems, p=np.asarray(prior.weights))
    p = rng.beta(np.asarray(prior.alphas)[comp], np.asarray(prior.betas)[comp])
    return np.where(rng.random(problems) < prior.zero_mass, 0.0, p)


@dataclass(frozen=True)
class Outcomes:
    """A problems x samples matrix: correct, passed generated tests, and cost per sample."""

    correct: BoolArray
    passed: BoolArray
    cost: FloatArray
    max_sample_usd: float
    p: FloatArray | None = None  # the true success probabilities, when simulated

    @property
    def solvable(self) -> BoolArray:
        """Which problems can be solved (truth if simulated, else: some sample was correct)."""
        if self.p is not None:
            return np.asarray(self.p > 0)
        return np.asarray(self.correct.any(axis=1))


def simulate(
    population: Population,
    problems: int,
    samples: int,
    verifier: Verifier = REALISTIC,
    seed: int = 0,
) -> Outcomes:
    """Draw a population and ``samples`` candidates per problem, seeded."""
    rng = np.random.default_rng(seed)
    p = draw_p(population.prior, problems, rng)
    correct = rng.random((problems, samples)) < p[:, None]
    noise = rng.random((problems, samples))
    passed = np.where(correct, noise >= verifier.false_negative, noise < verifier.false_positive)
    spread = population.cost_spread
    cost = population.sample_usd * rng.uniform(1 - spread, 1 + spread, (problems, samples))
    return Outcomes(correct, passed, cost, population.max_sample_usd, p)


def replay_outcomes(
    correct: ArrayLike,
    *,
    passed: ArrayLike | None = None,
    cost: ArrayLike | float = 1.0,
) -> Outcomes:
    """Outcomes of a real run (problems x samples); without verifier data, passed = correct."""
    corr = np.asarray(correct, dtype=bool)
    if corr.ndim != 2 or corr.size == 0:
        raise ConfigError("replay needs a non-empty problems x samples outcome matrix")
    pas = corr if passed is None else np.asarray(passed, dtype=bool)
    cst = np.broadcast_to(np.asarray(cost, dtype=np.float64), corr.shape).copy()
    if pas.shape != corr.shape:
        raise ConfigError("replay: the passed matrix must have the outcome matrix's shape")
    return Outcomes(corr, pas, cst, float(cst.max()))


@dataclass(frozen=True)
class RunResult:
    """What a policy achieved: realized score, spend, and samples per problem."""

    policy: str
    score: float
    cost: float
    samples: float
    coverage: float


def run_policy(policy: Policy, outcomes: Outcomes, cap_usd: float) -> RunResult:
    """Replay ``outcomes`` in the order ``policy`` asks for samples, up to the hard cap."""
    count, width = outcomes.correct.shape
    state = AllocationState.start(count, cap_usd, outcomes.max_sample_usd, outcomes.solvable)
    while True:
        decision = policy.decide(state)
        if decision.stop:
            state = state.stop(np.asarray(decision.stop, dtype=np.int64))
        if decision.stop_all or not decision.sample:
            break
        asked = np.asarray(decision.sample, dtype=np.int64)
        exhausted = asked[state.samples[asked] >= width]  # the matrix has no more samples
        if len(exhausted):
            state = state.stop(exhausted)
        asked = asked[state.samples[asked] < width]
        if len(asked) == 0:
            continue
        col = state.samples[asked]
        state = state.record(asked, outcomes.passed[asked, col], outcomes.cost[asked, col])
    return _result(policy.name, outcomes, state)


def _result(name: str, outcomes: Outcomes, state: AllocationState) -> RunResult:
    drawn = np.arange(outcomes.correct.shape[1])[None, :] < state.samples[:, None]
    passed = outcomes.passed & drawn
    first_pass = np.argmax(passed, axis=1)
    pick = np.where(passed.any(axis=1), first_pass, 0)
    chosen = outcomes.correct[np.arange(len(pick)), pick] & (state.samples > 0)
    covered = (outcomes.correct & drawn).any(axis=1)
    return RunResult(
        name,
        float(chosen.mean()),
        state.total_spent,
        float(state.samples.mean()),
        float(covered.mean()),
    )

"""Adaptive allocation policies: pure functions from an allocation state to a decision.

A policy never does I/O and keeps no hidden state, so a run can be replayed decision by
decision from its recorded samples. The coordinator (or the simulator) asks for a decision
between waves of samples, draws the samples it names, records them, and asks again.

Rules of :class:`AdaptivePolicy`:
- stop a problem once ``min_agreement`` candidates pass all its generated tests;
- otherwise keep a posterior on the problem's success probability p: the population prior
  (point mass at 0 + Beta) updated by the problem's own unverified samples, through the
  verifier's error rates; the marginal gain of one more sample is P(it is correct and passes);
- stop a problem when that gain per dollar falls below ``threshold``; the budget it frees goes
  to the remaining problems, best gain per dollar first;
- never start a sample that could pass the hard cap (each is reserved at ``max_sample_usd``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from agentlab.budget.mixture import BetaPrior, lgamma
from agentlab.budget.passk import FloatArray, IntArray
from agentlab.errors import BudgetExceededError, ConfigError

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class AllocationState:
    """Everything a policy may look at: per-problem samples, verifier signals and spend."""

    samples: IntArray
    verified: IntArray  # candidates that passed all generated tests (the agreement count)
    spent: FloatArray
    stopped: BoolArray
    cap_usd: float
    max_sample_usd: float
    solvable: BoolArray | None = None  # known only to the oracle

    @classmethod
    def start(
        cls, problems: int, cap_usd: float, max_sample_usd: float, solvable: BoolArray | None = None
    ) -> AllocationState:
        """A fresh state: nothing sampled, nothing spent."""
        if problems < 1 or cap_usd < 0 or max_sample_usd <= 0:
            raise ConfigError("allocation needs problems >= 1, cap >= 0 and max_sample_usd > 0")
        zeros = np.zeros(problems, dtype=np.int64)
        return cls(
            zeros,
            zeros.copy(),
            np.zeros(problems),
            np.zeros(problems, dtype=bool),
            cap_usd,
            max_sample_usd,
            solvable,
        )

    @property
    def total_spent(self) -> float:
        return float(self.spent.sum())

    def record(self, problems: IntArray, passed: BoolArray, cost: FloatArray) -> AllocationState:
        """One new sample for each listed problem: its verifier verdict and its cost."""
        samples, verified, spent = self.samples.copy(), self.verified.copy(), self.spent.copy()
        np.add.at(samples, problems, 1)
        np.add.at(verified, problems, passed.astype(np.int64))
        np.add.at(spent, problems, cost)
        total = float(spent.sum())
        if total > self.cap_usd + 1e-9:
            raise BudgetExceededError(
                f"recorded spend {total:.2f} USD passes the cap {self.cap_usd:.2f} USD",
                spent_usd=total,
                cap_usd=self.cap_usd,
            )
        return replace(self, samples=samples, verified=verified, spent=spent)

    def stop(self, problems: IntArray) -> AllocationState:
        stopped = self.stopped.copy()
        stopped[problems] = True
        return replace(self, stopped=stopped)


@dataclass(frozen=True)
class Decision:
    """Sample each listed problem once more, stop the listed problems, or stop everything."""

    sample: tuple[int, ...] = ()
    stop: tuple[int, ...] = ()
    stop_all: bool = False


class Policy(Protocol):
    """A pure decision rule: the same state always gives the same decision."""

    @property
    def name(self) -> str: ...

    def decide(self, state: AllocationState) -> Decision: ...


def _affordable(state: AllocationState, wanted: IntArray) -> IntArray:
    """The leading part of ``wanted`` whose worst-case cost still fits under the cap."""
    if not np.isfinite(state.cap_usd):
        return wanted
    room = int((state.cap_usd - state.total_spent + 1e-9) // state.max_sample_usd)
    return wanted[: max(room, 0)]


@dataclass(frozen=True)
class UniformPolicy:
    """k samples for every problem, no early stop (the baseline)."""

    k: int
    name: str = "uniform"

    def decide(self, state: AllocationState) -> Decision:
        wanted = np.flatnonzero(~state.stopped & (state.samples < self.k))
        chosen = _affordable(state, wanted)
        if len(chosen) == 0:
            return Decision(stop_all=True)
        return Decision(sample=tuple(int(i) for i in chosen))


def _p_grid(prior: BetaPrior, points: int = 600) -> tuple[FloatArray, FloatArray]:
    """The solvable part of the prior on a logit-spaced grid of p (fine near 0 and 1)."""
    u = np.linspace(-12.0, 12.0, points)
    p = 1.0 / (1.0 + np.exp(-u))
    mass = np.zeros(points)
    for w, a, b in zip(prior.weights, prior.alphas, prior.betas, strict=True):
        log_norm = lgamma(a + b) - lgamma(a) - lgamma(b)
        mass += w * np.exp(log_norm + a * np.log(p) + b * np.log1p(-p))  # pdf * p(1-p) du
    return p, mass / mass.sum()


def gain_table(
    prior: BetaPrior, false_positive: float, false_negative: float, max_failures: int, oracle: bool
) -> FloatArray:
    """Gain of one more sample after m unverified samples, m = 0..max_failures."""
    p, mass = _p_grid(prior)
    zero = 0.0 if oracle else prior.zero_mass
    p = np.concatenate([[0.0], p])
    mass = np.concatenate([[zero], (1.0 - zero) * mass])
    passes = p * (1.0 - false_negative) + (1.0 - p) * false_positive
    m = np.arange(max_failures + 1)[:, None]
    post = mass[None, :] * np.power(1.0 - passes[None, :], m)
    post /= post.sum(axis=1, keepdims=True)
    return np.asarray(post @ (p * (1.0 - false_negative)), dtype=np.float64)


class AdaptivePolicy:
    """Stop on agreement or on low gain per dollar; spend the rest where gain is highest."""

    def __init__(
        self,
        prior: BetaPrior,
        *,
        sample_usd: float,
        threshold: float = 0.0,
        false_positive: float = 0.0,
        false_negative: float = 0.0,
        min_agreement: int = 1,
        max_samples: int = 64,
        oracle: bool = False,
    ) -> None:
        if sample_usd <= 0 or max_samples < 1 or min_agreement < 1:
            raise ConfigError(
                "adaptive policy needs sample_usd > 0, max_samples >= 1, agreement >= 1"
            )
        self.name = "oracle" if oracle else "adaptive"
        self.sample_usd, self.threshold = sample_usd, threshold
        self.min_agreement, self.max_samples, self.oracle = min_agreement, max_samples, oracle
        self.gains = gain_table(prior, false_positive, false_negative, max_samples, oracle)

    def decide(self, state: AllocationState) -> Decision:
        """Which problems to sample next, which to stop, or stop all."""
        open_ = ~state.stopped
        done = (state.verified >= self.min_agreement) | (state.samples >= self.max_samples)
        if self.oracle:
            if state.solvable is None:
                raise ConfigError("the oracle policy needs the solvable mask in its state")
            done |= ~state.solvable
        failures = np.minimum(state.samples - state.verified, self.max_samples)
        cost = np.where(
            state.samples > 0, state.spent / np.maximum(state.samples, 1), self.sample_usd
        )
        ratio = self.gains[failures] / cost
        done |= ratio < self.threshold
        stop = np.flatnonzero(open_ & done)
        wanted = np.flatnonzero(open_ & ~done)
        wanted = wanted[np.argsort(-ratio[wanted], kind="stable")]
        chosen = _affordable(state, wanted)
        if len(chosen) == 0:
            return Decision(stop=tuple(int(i) for i in stop), stop_all=True)
        return Decision(sample=tuple(int(i) for i in chosen), stop=tuple(int(i) for i in stop))

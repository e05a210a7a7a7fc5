"""Coverage prediction: a posterior over the population prior's parameters, on a grid.

Predicting coverage at k = 64 from 8 samples per problem hinges on how much of the mass behind
"never solved in 8" is truly unsolvable and how much is merely hard, and 8 samples barely tell
them apart: the likelihood has a long ridge between a large zero mass and a Beta with small
alpha. A single maximum-likelihood fit (and a bootstrap of local refits) picks one point on the
ridge and understates the uncertainty. So the prior's parameters (zero mass, log alpha,
log beta) are integrated over a fixed grid with a flat prior; each grid point gives the
posterior-predictive mean and variance of the coverage of the observed problems in closed form,
and the interval is read off the resulting mixture. Everything is vectorised over the grid
and over the few distinct ``(n, c)`` pairs, so a fit takes well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from agentlab.budget.mixture import BetaPrior, count_table, log_rising
from agentlab.budget.passk import FloatArray
from agentlab.errors import ConfigError


@dataclass(frozen=True)
class Interval:
    """A point prediction and its central interval at ``level``."""

    point: float
    low: float
    high: float
    level: float = 0.9

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Grid:
    """The parameter grid: zero mass in [0, zero_max], alpha and beta log-spaced."""

    zero_points: int = 37
    zero_max: float = 0.9
    shape_points: int = 41
    shape_min: float = 0.05
    shape_max: float = 20.0

    def axes(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        zero = np.linspace(0.0, self.zero_max, self.zero_points)
        shape = np.geomspace(self.shape_min, self.shape_max, self.shape_points)
        z, a, b = np.meshgrid(zero, shape, shape, indexing="ij")
        return z.ravel(), a.ravel(), b.ravel()


class PriorPosterior:
    """Posterior over (zero mass, alpha, beta) given per-problem sample and success counts."""

    def __init__(self, n: ArrayLike, c: ArrayLike, *, grid: Grid | None = None) -> None:
        self.table = count_table(n, c)
        if self.table.weights.sum() < 5:
            raise ConfigError("predicting coverage needs at least 5 problems")
        self.zero, self.alpha, self.beta = (grid or Grid()).axes()
        t = self.table
        a, b, z = self.alpha[:, None], self.beta[:, None], self.zero[:, None]
        log_bb = log_rising(a, t.c) + log_rising(b, t.n - t.c) - log_rising(a + b, t.n) + t.log_comb
        solvable = (1.0 - z) * np.exp(log_bb)
        mix = solvable + np.where(t.c == 0, z, 0.0)
        log_lik = np.log(mix + 1e-300) @ t.weights
        # Grid points a trillion times less likely than the best carry no weight: drop them,
        # so every prediction below runs over a few thousand points instead of the full grid.
        keep = log_lik >= log_lik.max() - 28.0
        self.zero, self.alpha, self.beta = self.zero[keep], self.alpha[keep], self.beta[keep]
        self.log_lik = log_lik[keep]
        w = np.exp(self.log_lik - self.log_lik.max())
        self.weights = w / w.sum()
        self._p_solvable = (solvable / (mix + 1e-300))[keep]  # grid x pairs

    def map_prior(self) -> BetaPrior:
        """The most likely grid point (the grid's maximum-likelihood prior)."""
        i = int(np.argmax(self.log_lik))
        return BetaPrior.single(float(self.zero[i]), float(self.alpha[i]), float(self.beta[i]))

    def predictive_prior(self, components: int = 200) -> BetaPrior:
        """The prior averaged over the parameter posterior (its heaviest grid points)."""
        top = np.argsort(-self.weights)[:components]
        w = self.weights[top] / self.weights[top].sum()
        zero = float(w @ self.zero[top])
        solvable = w * (1.0 - self.zero[top])
        solvable /= solvable.sum()
        return BetaPrior(
            zero,
            tuple(float(x) for x in solvable),
            tuple(float(x) for x in self.alpha[top]),
            tuple(float(x) for x in self.beta[top]),
        )

    def parameter_interval(self, name: str, level: float = 0.9) -> Interval:
        """Posterior mean and central credible interval of zero_mass, alpha, beta or pass_at_1."""
        values = {
            "zero_mass": self.zero,
            "alpha": self.alpha,
            "beta": self.beta,
            "pass_at_1": (1 - self.zero) * self.alpha / (self.alpha + self.beta),
        }.get(name)
        if values is None:
            raise ConfigError(f"unknown prior parameter {name!r}; use zero_mass, alpha, beta")
        low, high = _weighted_quantiles(values, self.weights, level)
        return Interval(float(values @ self.weights), low, high, level)

    def _moments(self, k: int) -> tuple[FloatArray, FloatArray]:
        """Per grid point: mean and variance of the observed problems' coverage at k."""
        t = self.table
        a_post = self.alpha[:, None] + t.c
        b_post = self.beta[:, None] + (t.n - t.c)
        s1 = np.exp(log_rising(b_post, k) - log_rising(a_post + b_post, k))
        s2 = np.exp(log_rising(b_post, 2 * k) - log_rising(a_post + b_post, 2 * k))
        r = self._p_solvable
        ex = r * (1.0 - s1)
        ex2 = r * (1.0 - 2.0 * s1 + s2)
        total = t.weights.sum()
        return ex @ t.weights / total, (ex2 - ex**2) @ t.weights / total**2

    def predict_observed(self, k: int, level: float = 0.9, seed: int = 0) -> Interval:
        """Coverage at k of the same problems (fresh samples), with a predictive interval."""
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        mean, var = self._moments(k)
        return _mixture_interval(mean, var, self.weights, level, seed)

    def predict_population(
        self, ks: ArrayLike, level: float = 0.9, problems: int = 0
    ) -> list[Interval]:
        """Expected coverage of fresh problems at each k; with ``problems`` > 0 the interval
        also holds the spread of a finite problem set of that size."""
        out = []
        for k in np.atleast_1d(np.asarray(ks, dtype=np.int64)):
            surv = np.exp(log_rising(self.beta, k) - log_rising(self.alpha + self.beta, k))
            mean = (1.0 - self.zero) * (1.0 - surv)
            var = mean * (1 - mean) / problems if problems > 0 else np.zeros_like(mean)
            out.append(_mixture_interval(mean, var, self.weights, level, int(k)))
        return out


def _weighted_quantiles(
    values: FloatArray, weights: FloatArray, level: float
) -> tuple[float, float]:
    order = np.argsort(values)
    cdf = np.cumsum(weights[order])
    tail = (1.0 - level) / 2.0
    lo = values[order][min(int(np.searchsorted(cdf, tail)), len(cdf) - 1)]
    hi = values[order][min(int(np.searchsorted(cdf, 1.0 - tail)), len(cdf) - 1)]
    return float(lo), float(hi)


def _mixture_interval(
    mean: FloatArray, var: FloatArray, weights: FloatArray, level: float, seed: int
) -> Interval:
    """Point = posterior mean; interval from draws of the mixture of normals over the grid."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(weights), size=4000, p=weights)
    draws = rng.normal(mean[picks], np.sqrt(np.maximum(var[picks], 0.0)))
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    point = float(mean @ weights)
    return Interval(point, float(max(low, 0.0)), float(min(high, 1.0)), level)

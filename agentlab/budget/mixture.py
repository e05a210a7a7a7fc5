"""The population prior on per-problem success probability: a point mass at 0 plus Betas.

Why not only the exponentiated power law: it extrapolates a curve, and a curve fitted on small
k cannot tell an unsolvable problem from a hard one, so it overshoots coverage at large k by
several points on populations with unsolvable problems. Here each problem has its own success
probability ``p``: ``p = 0`` with probability ``zero_mass`` (unsolvable), otherwise ``p`` comes
from a mixture of Beta components. The per-problem counts ``(n, c)`` then follow a
zero-inflated beta-binomial mixture. Coverage at any k is closed form:
``E[1 - (1-p)^k] = (1 - zero_mass) * sum_j w_j (1 - B(a_j, b_j + k) / B(a_j, b_j))``, and the
Beta-function ratio is ``prod_{m<k} (b + m) / (a + b + m)``, computed through log-gamma.

The simulator describes populations with this class; :func:`fit_prior` is the plain
maximum-likelihood fit; predictions with intervals go through
:mod:`agentlab.budget.posterior`, which integrates the one-component parameters over a grid.
Problems share few distinct ``(n, c)`` pairs, so likelihoods run over those pairs with weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from agentlab.budget.optim import nelder_mead
from agentlab.budget.passk import FloatArray, IntArray, as_counts
from agentlab.errors import ConfigError

_LOG_MIN, _LOG_MAX = math.log(1e-3), math.log(1e3)


_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def lgamma(x: ArrayLike) -> FloatArray:
    """Vectorised ``log Gamma(x)`` for ``x > 0`` (Stirling series after a shift by 8)."""
    x_arr = np.asarray(x, dtype=np.float64)
    shift = np.zeros_like(x_arr)
    for i in range(8):  # log Gamma(x) = log Gamma(x + 8) - sum log(x + i)
        shift += np.log(x_arr + i)
    z = x_arr + 8.0
    inv, inv2 = 1.0 / z, 1.0 / (z * z)
    series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
    return (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + series - shift


def log_rising(x: ArrayLike, m: ArrayLike) -> FloatArray:
    """``log(x (x+1) ... (x+m-1))``, broadcast over ``x`` and ``m``."""
    x_arr = np.asarray(x, dtype=np.float64)
    return lgamma(x_arr + np.asarray(m, dtype=np.float64)) - lgamma(x_arr)


def log_beta_ratio(a: ArrayLike, b: ArrayLike, ks: ArrayLike) -> FloatArray:
    """``log E[(1-p)^k]`` for ``p ~ Beta(a, b)``: rows follow ``a``/``b``, columns ``ks``."""
    a_col = np.atleast_1d(np.asarray(a, dtype=np.float64))[:, None]
    b_col = np.atleast_1d(np.asarray(b, dtype=np.float64))[:, None]
    k_row = np.atleast_1d(np.asarray(ks, dtype=np.float64))[None, :]
    return log_rising(b_col, k_row) - log_rising(a_col + b_col, k_row)


@dataclass(frozen=True)
class BetaPrior:
    """p = 0 with probability ``zero_mass``, else p from a mixture of Beta components."""

    zero_mass: float
    weights: tuple[float, ...]
    alphas: tuple[float, ...]
    betas: tuple[float, ...]

    @classmethod
    def single(cls, zero_mass: float, alpha: float, beta: float) -> BetaPrior:
        """The one-component prior: ``p ~ Beta(alpha, beta)`` on the solvable part."""
        return cls(zero_mass, (1.0,), (alpha,), (beta,))

    @property
    def pass_at_1(self) -> float:
        means = np.array(self.alphas) / (np.array(self.alphas) + np.array(self.betas))
        return float((1.0 - self.zero_mass) * np.dot(self.weights, means))

    def coverage(self, ks: ArrayLike) -> FloatArray:
        """Expected coverage of a fresh problem at each k (the marginal curve)."""
        surv = np.exp(log_beta_ratio(self.alphas, self.betas, ks))
        return (1.0 - self.zero_mass) * (1.0 - np.asarray(self.weights) @ surv)

    def responsibilities(self, n: ArrayLike, c: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Per problem: posterior P(unsolvable), and P(component j) as a problems x K array."""
        n_arr, c_arr = as_counts(n, c)
        log_bb = _log_beta_binomial(self, n_arr, c_arr)
        joint = (1.0 - self.zero_mass) * np.asarray(self.weights)[None, :] * np.exp(log_bb)
        zero = np.where(c_arr == 0, self.zero_mass, 0.0)
        total = zero + joint.sum(axis=1) + 1e-300
        return zero / total, joint / total[:, None]

    def posterior_coverage(self, n: ArrayLike, c: ArrayLike, k: int) -> FloatArray:
        """Per problem: P(at least one of k fresh samples is correct | its own n, c)."""
        n_arr, c_arr = as_counts(n, c)
        _, resp = self.responsibilities(n_arr, c_arr)
        out = np.zeros(len(n_arr))
        for j, (a, b) in enumerate(zip(self.alphas, self.betas, strict=True)):
            pairs, inv = np.unique(
                np.stack([c_arr, n_arr - c_arr], axis=1), axis=0, return_inverse=True
            )
            surv = np.exp(log_beta_ratio(a + pairs[:, 0], b + pairs[:, 1], [k])[:, 0])
            out += resp[:, j] * (1.0 - surv[inv.reshape(-1)])
        return out

    def sample_posterior(self, n: ArrayLike, c: ArrayLike, rng: np.random.Generator) -> FloatArray:
        """Draw each problem's p from its posterior (for predictive intervals)."""
        n_arr, c_arr = as_counts(n, c)
        w0, resp = self.responsibilities(n_arr, c_arr)
        probs = np.concatenate([w0[:, None], resp], axis=1)
        pick = (rng.random(len(n_arr))[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
        comp = np.clip(pick - 1, 0, len(self.alphas) - 1)
        a = np.asarray(self.alphas)[comp] + c_arr
        b = np.asarray(self.betas)[comp] + (n_arr - c_arr)
        return np.where(pick == 0, 0.0, rng.beta(a, b))


def _log_beta_binomial(prior: BetaPrior, n: IntArray, c: IntArray) -> FloatArray:
    """``log P(c | n, component j)`` without the binomial factor: problems x K."""
    a = np.asarray(prior.alphas)[None, :]
    b = np.asarray(prior.betas)[None, :]
    n_col, c_col = n[:, None], c[:, None]
    return log_rising(a, c_col) + log_rising(b, n_col - c_col) - log_rising(a + b, n_col)


@dataclass(frozen=True)
class CountTable:
    """Distinct ``(n, c)`` pairs, how many problems have each, and their log binomials."""

    n: IntArray
    c: IntArray
    weights: FloatArray
    log_comb: FloatArray

    def reweighted(self, weights: FloatArray) -> CountTable:
        return CountTable(self.n, self.c, weights, self.log_comb)


def count_table(n: ArrayLike, c: ArrayLike) -> CountTable:
    """Group problems by their ``(n, c)`` pair."""
    n_arr, c_arr = as_counts(n, c)
    pairs, weights = np.unique(np.stack([n_arr, c_arr], axis=1), axis=0, return_counts=True)
    log_comb = np.array([math.log(math.comb(int(x), int(y))) for x, y in pairs])
    return CountTable(pairs[:, 0], pairs[:, 1], weights.astype(np.float64), log_comb)


def log_likelihood(prior: BetaPrior, table: CountTable) -> float:
    """Zero-inflated beta-binomial mixture log-likelihood of the counts."""
    log_bb = _log_beta_binomial(prior, table.n, table.c) + table.log_comb[:, None]
    mix = (1.0 - prior.zero_mass) * (np.exp(log_bb) @ np.asarray(prior.weights))
    mix = mix + np.where(table.c == 0, prior.zero_mass, 0.0)
    return float(np.sum(table.weights * np.log(mix + 1e-300)))


def _unpack(theta: FloatArray, k: int) -> BetaPrior:
    zero = 1.0 / (1.0 + math.exp(-float(np.clip(theta[0], -30, 30))))
    logits = np.concatenate([[0.0], np.clip(theta[1:k], -30, 30)])
    weights = np.exp(logits - logits.max())
    weights /= weights.sum()
    logs = np.exp(np.clip(theta[k:], _LOG_MIN, _LOG_MAX))
    return BetaPrior(
        zero, tuple(map(float, weights)), tuple(map(float, logs[:k])), tuple(map(float, logs[k:]))
    )


def _pack(prior: BetaPrior) -> FloatArray:
    zero = min(max(prior.zero_mass, 1e-9), 1 - 1e-9)
    w = np.maximum(np.asarray(prior.weights), 1e-12)
    return np.concatenate(
        [
            [math.log(zero / (1 - zero))],
            np.log(w[1:] / w[0]),
            np.log(prior.alphas),
            np.log(prior.betas),
        ]
    )


def _starts(table: CountTable, components: int) -> list[BetaPrior]:
    """Moment-based starting points: zero mass from the unsolved share, spread components."""
    rate = float(np.sum(table.weights * table.c) / np.sum(table.weights * table.n))
    unsolved = float(np.sum(table.weights * (table.c == 0)) / np.sum(table.weights))
    starts = []
    for zero in (max(unsolved * 0.7, 0.02), 0.01):
        mean = min(max(rate / (1.0 - zero), 0.02), 0.98)
        if components == 1:
            starts += [BetaPrior.single(zero, mean * s, (1 - mean) * s) for s in (0.5, 2.0)]
            continue
        means = np.linspace(0.1, 0.9, components) if mean > 0.05 else np.full(components, mean)
        starts.append(
            BetaPrior(
                zero,
                tuple([1.0 / components] * components),
                tuple(float(x) for x in means * 2.0),
                tuple(float(x) for x in (1 - means) * 2.0),
            )
        )
    return starts


def fit_table(table: CountTable, components: int = 2, start: BetaPrior | None = None) -> BetaPrior:
    """Maximum-likelihood prior for a weighted count table (several starts unless given one)."""
    best: tuple[float, FloatArray] | None = None
    for init in [start] if start is not None else _starts(table, components):
        theta, value = nelder_mead(
            lambda t: -log_likelihood(_unpack(t, components), table),
            _pack(init),
            max_iter=250 * (1 + 2 * components),
        )
        if best is None or value < best[0]:
            best = (value, theta)
    assert best is not None
    return _unpack(best[1], components)


def fit_prior(n: ArrayLike, c: ArrayLike, *, components: int = 2) -> BetaPrior:
    """Fit the zero-inflated Beta-mixture prior to per-problem sample and success counts."""
    n_arr, c_arr = as_counts(n, c)
    if len(n_arr) < 5:
        raise ConfigError(f"fitting a prior needs at least 5 problems, got {len(n_arr)}")
    if components < 1:
        raise ConfigError(f"a prior needs at least one Beta component, got {components}")
    return fit_table(count_table(n_arr, c_arr), components)

"""Exponentiated power-law coverage fits, with bootstrap intervals over problems.

``c(k) = base ** (a * k ** b)`` with ``a < 0`` and ``b < 0``. The base matters: the published
fits (e.g. SWE-bench Lite with DeepSeek-Coder-V2, a = -0.76, b = -0.21) reproduce the published
coverage only with base 10, so base 10 is the default and the base is stored on every fit.
Taking logs twice makes the law linear: ``log(-log_base c) = log(-a) + b log k``, fitted by
least squares on log-spaced k. This curve fit is kept for comparison with the literature; it
ignores unsolvable problems, so for extrapolation use :mod:`agentlab.budget.posterior`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from agentlab.budget.passk import FloatArray, as_counts, coverage_curve, pass_at_k
from agentlab.budget.posterior import Interval
from agentlab.errors import ConfigError

BASES = {"10": 10.0, "e": math.e}


def parse_base(base: str | float) -> float:
    """Accept ``"10"``, ``"e"`` or the number itself."""
    if isinstance(base, int | float):
        value = float(base)
    elif base in BASES:
        value = BASES[base]
    else:
        raise ConfigError(f"log base {base!r} is not supported; use '10' or 'e'")
    if value not in BASES.values():
        raise ConfigError(f"log base {value} is not supported; use 10 or e")
    return value


@dataclass(frozen=True)
class PowerLaw:
    """``c(k) = base ** (a * k ** b)``."""

    a: float
    b: float
    base: float = 10.0

    def __call__(self, ks: ArrayLike) -> FloatArray:
        k = np.asarray(ks, dtype=np.float64)
        return np.power(self.base, self.a * np.power(k, self.b))


def fit_power_law(ks: Sequence[int], coverage: ArrayLike, base: str | float = 10.0) -> PowerLaw:
    """Least-squares fit of the linearised law to a coverage curve (0 < c < 1 points only)."""
    b_val = parse_base(base)
    k = np.asarray(ks, dtype=np.float64)
    cov = np.asarray(coverage, dtype=np.float64)
    keep = (cov > 0.0) & (cov < 1.0)
    if keep.sum() < 2:
        raise ConfigError("a power-law fit needs at least two k with coverage strictly in (0, 1)")
    y = np.log(-np.log(cov[keep]) / math.log(b_val))
    slope, intercept = np.polyfit(np.log(k[keep]), y, 1)
    return PowerLaw(a=-math.exp(intercept), b=float(slope), base=b_val)


@dataclass(frozen=True)
class PowerLawFit:
    """A fit with bootstrap intervals on its parameters and on the curve at ``ks``."""

    law: PowerLaw
    a: Interval
    b: Interval
    ks: tuple[int, ...]
    curve: tuple[Interval, ...]
    problems: int
    draws: tuple[tuple[float, float], ...] = ()  # the bootstrap refits' (a, b)

    def band(self, ks: ArrayLike, level: float = 0.9) -> tuple[FloatArray, FloatArray]:
        """Pointwise bootstrap band of the curve at any k (extrapolation included)."""
        k = np.asarray(ks, dtype=np.float64)
        curves = np.array([PowerLaw(a, b, self.law.base)(k) for a, b in self.draws])
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(curves, [tail, 1.0 - tail], axis=0)
        return np.asarray(low), np.asarray(high)


def bootstrap_power_law(
    n: ArrayLike,
    c: ArrayLike,
    ks: Sequence[int],
    *,
    base: str | float = 10.0,
    reps: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> PowerLawFit:
    """Fit on the empirical pass@k curve, then refit on problem resamples for intervals."""
    n_arr, c_arr = as_counts(n, c)
    law = fit_power_law(ks, coverage_curve(n_arr, c_arr, ks), base)
    per_problem = np.stack([pass_at_k(n_arr, c_arr, int(k)) for k in ks], axis=1)
    rng = np.random.default_rng(seed)
    params, curves = [], []
    for _ in range(reps):
        rows = per_problem[rng.integers(0, len(n_arr), len(n_arr))]
        try:
            refit = fit_power_law(ks, rows.mean(axis=0), law.base)
        except ConfigError:
            continue  # a resample with every problem solved or none: no curve to fit
        params.append((refit.a, refit.b))
        curves.append(refit(ks))
    if not params:
        raise ConfigError("no bootstrap resample could be fitted; the run has too few problems")
    p_arr, c_mat = np.array(params), np.array(curves)
    tail = (1.0 - level) / 2.0

    def interval(values: FloatArray, point: float) -> Interval:
        low, high = np.quantile(values, [tail, 1.0 - tail])
        return Interval(point, float(low), float(high), level)

    fitted = law(ks)
    return PowerLawFit(
        law=law,
        a=interval(p_arr[:, 0], law.a),
        b=interval(p_arr[:, 1], law.b),
        ks=tuple(int(k) for k in ks),
        curve=tuple(interval(c_mat[:, i], float(fitted[i])) for i in range(len(ks))),
        problems=len(n_arr),
        draws=tuple((float(a), float(b)) for a, b in p_arr),
    )


def fit_groups(
    n: ArrayLike, c: ArrayLike, groups: Sequence[str], ks: Sequence[int], **kwargs: object
) -> dict[str, PowerLawFit]:
    """One bootstrapped power-law fit per problem group (e.g. repository or difficulty)."""
    n_arr, c_arr = as_counts(n, c)
    labels = np.asarray(groups)
    if len(labels) != len(n_arr):
        raise ConfigError(f"{len(labels)} group labels for {len(n_arr)} problems")
    return {
        str(g): bootstrap_power_law(n_arr[labels == g], c_arr[labels == g], ks, **kwargs)  # type: ignore[arg-type]
        for g in sorted(set(labels.tolist()))
    }


@dataclass(frozen=True)
class SelectionCurve:
    """Selection efficiency (selected score / coverage) measured at some k, per method.

    Between measured k it is interpolated in log k; outside, the nearest value is kept.
    """

    method: str
    ks: tuple[int, ...]
    efficiency: tuple[float, ...]
    usd_per_problem: float = 0.0  # what running the selection costs, per problem

    def __call__(self, ks: ArrayLike) -> FloatArray:
        k = np.log(np.asarray(ks, dtype=np.float64))
        return np.interp(k, np.log(np.asarray(self.ks, dtype=np.float64)), self.efficiency)


def selection_efficiency(selected: ArrayLike, coverage: ArrayLike) -> FloatArray:
    """Selected score over coverage, pointwise (0 where coverage is 0)."""
    sel = np.asarray(selected, dtype=np.float64)
    cov = np.asarray(coverage, dtype=np.float64)
    return np.divide(sel, cov, out=np.zeros_like(sel), where=cov > 0)


def score_per_dollar(
    coverage: ArrayLike, curve: SelectionCurve, ks: ArrayLike, usd_per_problem: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Predicted selected score at each k, and that score per dollar spent per problem."""
    selected = np.asarray(coverage, dtype=np.float64) * curve(ks)
    cost = np.asarray(usd_per_problem, dtype=np.float64) + curve.usd_per_problem
    return selected, np.divide(selected, cost, out=np.zeros_like(selected), where=cost > 0)

"""Unbiased pass@k and coverage curves, vectorised over problems.

pass@k from ``n`` samples with ``c`` correct is ``1 - C(n-c, k) / C(n, k)``. The binomial
coefficients overflow long before realistic ``n``, so it is computed as the product
``1 - prod(1 - k / arange(n - c + 1, n + 1))``, which stays in [0, 1] for any size. Problems
share few distinct ``(n, c)`` pairs, so each pair is computed once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from agentlab.errors import ConfigError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _one(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def as_counts(n: ArrayLike, c: ArrayLike) -> tuple[IntArray, IntArray]:
    """Validate per-problem sample counts ``n`` and correct counts ``c`` (broadcast together)."""
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64))
    if n_arr.ndim != 1:
        n_arr, c_arr = n_arr.reshape(-1), c_arr.reshape(-1)
    if np.any(n_arr < 1):
        raise ConfigError("pass@k: every problem needs at least one sample (n >= 1)")
    if np.any((c_arr < 0) | (c_arr > n_arr)):
        raise ConfigError("pass@k: correct counts must satisfy 0 <= c <= n for every problem")
    return n_arr.astype(np.int64), c_arr.astype(np.int64)


def pass_at_k(n: ArrayLike, c: ArrayLike, k: int) -> FloatArray:
    """Per-problem unbiased pass@k; ``k`` must not exceed any problem's sample count."""
    n_arr, c_arr = as_counts(n, c)
    if k < 1:
        raise ConfigError(f"pass@k: k must be >= 1, got {k}")
    if np.any(k > n_arr):
        raise ConfigError(
            f"pass@k: k={k} exceeds the {int(n_arr.min())} samples of some problem; "
            "use k <= the smallest sample count or a fitted model to extrapolate"
        )
    pairs, inverse = np.unique(np.stack([n_arr, c_arr], axis=1), axis=0, return_inverse=True)
    values = np.array([_one(int(pn), int(pc), k) for pn, pc in pairs], dtype=np.float64)
    return values[inverse.reshape(-1)]


def coverage_curve(n: ArrayLike, c: ArrayLike, ks: Sequence[int]) -> FloatArray:
    """Mean pass@k over problems for each ``k`` in ``ks`` (the coverage curve)."""
    return np.array([pass_at_k(n, c, int(k)).mean() for k in ks], dtype=np.float64)


def log_spaced_ks(k_max: int, points: int = 12) -> list[int]:
    """Distinct integer k from 1 to ``k_max``, spaced evenly in log k (how fits are sampled)."""
    if k_max < 1:
        raise ConfigError(f"k_max must be >= 1, got {k_max}")
    grid = np.unique(np.round(np.geomspace(1, k_max, num=max(points, 1))).astype(np.int64))
    return [int(k) for k in grid]


def counts_from_outcomes(outcomes: ArrayLike) -> tuple[IntArray, IntArray]:
    """``(n, c)`` per problem from a boolean problems x samples matrix."""
    mat = np.asarray(outcomes, dtype=bool)
    if mat.ndim != 2 or mat.shape[1] == 0:
        raise ConfigError("outcomes must be a problems x samples matrix with at least one sample")
    n = np.full(mat.shape[0], mat.shape[1], dtype=np.int64)
    return n, mat.sum(axis=1).astype(np.int64)


def pass_at_ks(
    per_task: Mapping[str, Sequence[bool]], ks: Sequence[int] = (1, 10, 100)
) -> dict[str, float]:
    """Mean pass@k over tasks (outcomes per task), for each k every task has samples for."""
    out: dict[str, float] = {}
    if not per_task:
        return out
    n = [len(v) for v in per_task.values()]
    c = [sum(v) for v in per_task.values()]
    for k in ks:
        if all(len(v) >= k for v in per_task.values()):
            out[f"pass@{k}"] = float(np.mean(pass_at_k(n, c, k)))
    return out

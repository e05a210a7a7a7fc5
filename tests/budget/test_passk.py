"""pass@k against brute-force combinatorics, and its guards."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from agentlab.budget.passk import coverage_curve, log_spaced_ks, pass_at_k
from agentlab.errors import ConfigError


def _brute(n: int, c: int, k: int) -> float:
    """Share of all k-subsets of n samples (c of them correct) holding a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 3, 6, 9])
def test_pass_at_k_matches_enumeration(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            got = pass_at_k([n], [c], k)[0]
            assert got == pytest.approx(_brute(n, c, k), abs=1e-12)


def test_pass_at_k_is_stable_where_binomials_overflow() -> None:
    n, c, k = 5000, 3, 1000
    exact = 1.0 - math.comb(n - c, k) / math.comb(n, k)  # Python ints: exact, but slow
    assert pass_at_k([n], [c], k)[0] == pytest.approx(exact, rel=1e-9)


def test_vectorised_over_problems_and_curve() -> None:
    n = np.array([4, 4, 4, 6])
    c = np.array([0, 1, 4, 2])
    per = pass_at_k(n, c, 2)
    assert per.tolist() == pytest.approx([0.0, 0.5, 1.0, 1 - 6 / 15])
    assert coverage_curve(n, c, [1, 2])[1] == pytest.approx(per.mean())
    assert log_spaced_ks(64, 7) == [1, 2, 4, 8, 16, 32, 64]


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ConfigError, match="exceeds"):
        pass_at_k([4], [1], 5)
    with pytest.raises(ConfigError, match="0 <= c <= n"):
        pass_at_k([4], [5], 1)

"""McNemar's exact test and the static report's shard names."""

from __future__ import annotations

import math

import pytest

from agentlab.viewer.report import shard_name
from agentlab.viewer.stats import mcnemar_exact


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (0, 0, 1.0),
        (1, 6, 2 * (1 + 7) / 2**7),  # P(X <= 1), X ~ Bin(7, 1/2), doubled
        (6, 1, 2 * (1 + 7) / 2**7),
        (0, 10, 2 / 2**10),
        (5, 5, 1.0),
    ],
)
def test_mcnemar_exact_matches_the_binomial_tail(b: int, c: int, expected: float) -> None:
    assert math.isclose(mcnemar_exact(b, c), expected)


def test_shard_names_are_file_safe_and_distinct() -> None:
    a = shard_name("problem", {"run": "r", "task": "HumanEval/53"})
    b = shard_name("problem", {"run": "r", "task": "HumanEval_53"})
    assert a != b and "/" not in a and "?" not in a
    assert shard_name("runs", {}) == "runs~3f"

"""Policies never pass the hard cap, and adaptive never scores below uniform at equal cost."""

from __future__ import annotations

import numpy as np
import pytest

from agentlab.budget.policy import AdaptivePolicy, AllocationState, UniformPolicy
from agentlab.budget.simulate import (
    PERFECT,
    REALISTIC,
    SHAPES,
    replay_outcomes,
    run_policy,
    simulate,
)
from agentlab.errors import BudgetExceededError, ConfigError


def _adaptive(name: str, threshold: float = 0.0, oracle: bool = False) -> AdaptivePolicy:
    pop = SHAPES[name]
    return AdaptivePolicy(
        pop.prior,
        sample_usd=pop.sample_usd,
        threshold=threshold,
        false_positive=REALISTIC.false_positive,
        false_negative=REALISTIC.false_negative,
        oracle=oracle,
    )


def test_no_policy_passes_the_cap_over_many_seeds() -> None:
    rng = np.random.default_rng(0)
    for seed in range(30):
        name = sorted(SHAPES)[seed % 3]
        out = simulate(SHAPES[name], 60, 40, REALISTIC, seed=seed)
        cap = float(rng.uniform(0.0, 60 * 40 * 0.5))
        policies = [
            UniformPolicy(int(rng.integers(1, 40))),
            _adaptive(name, threshold=float(rng.uniform(0, 0.5))),
            _adaptive(name, oracle=True),
        ]
        for policy in policies:
            result = run_policy(policy, out, cap)
            assert result.cost <= cap + 1e-9, (seed, policy.name, result.cost, cap)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_adaptive_never_below_uniform_at_equal_cost(name: str) -> None:
    for seed in range(3):
        out = simulate(SHAPES[name], 300, 64, REALISTIC, seed=seed)
        uniform = run_policy(UniformPolicy(10), out, float("inf"))
        adaptive = run_policy(_adaptive(name), out, uniform.cost)
        assert adaptive.cost <= uniform.cost
        assert adaptive.score >= uniform.score, (seed, adaptive, uniform)


def test_stops_on_a_verified_candidate_and_replays_identically() -> None:
    correct = np.array([[True, True, True], [False, False, False], [False, True, False]] * 4)
    out = replay_outcomes(correct, cost=1.0)
    policy = _adaptive("codemonkeys", threshold=0.05)
    first, second = run_policy(policy, out, 100.0), run_policy(policy, out, 100.0)
    assert first == second
    assert first.score == pytest.approx(2 / 3)  # the third problem is found on its second try
    assert first.samples < 3.0  # the solved ones stopped after one sample


def test_oracle_skips_unsolvable_problems() -> None:
    out = simulate(SHAPES["hard"], 200, 20, PERFECT, seed=1)
    oracle = run_policy(_adaptive("hard", oracle=True), out, float("inf"))
    adaptive = run_policy(_adaptive("hard"), out, float("inf"))
    assert oracle.cost < adaptive.cost
    state = AllocationState.start(3, 10.0, 1.0)
    with pytest.raises(ConfigError, match="solvable"):
        _adaptive("hard", oracle=True).decide(state)


def test_recording_past_the_cap_raises() -> None:
    state = AllocationState.start(2, 1.0, 1.0)
    with pytest.raises(BudgetExceededError) as info:
        state.record(np.array([0, 1]), np.array([False, False]), np.array([0.6, 0.6]))
    assert info.value.cap_usd == 1.0

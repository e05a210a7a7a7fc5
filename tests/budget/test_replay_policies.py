"""Replay of allocation policies over an outcome matrix: numbers against direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from agentlab.budget.mixture import BetaPrior
from agentlab.budget.policy import AdaptivePolicy
from agentlab.budget.replay import (
    PolicyKnowledge,
    ReplayMatrix,
    agreement_signal,
    replay_policies,
)
from agentlab.budget.simulate import Outcomes, run_policy
from agentlab.errors import ConfigError


def _matrix(seed: int = 3, problems: int = 40, width: int = 12) -> ReplayMatrix:
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(problems) < 0.4, 0.0, rng.beta(0.5, 1.5, problems))
    correct = rng.random((problems, width)) < p[:, None]
    noise = rng.random((problems, width))
    signal = np.where(correct, noise >= 0.2, noise < 0.1)
    cost = rng.uniform(0.5, 1.5, (problems, width))
    return ReplayMatrix.build(correct, signal, cost, "USD")


def test_agreement_is_causal_and_ignores_empty_changes() -> None:
    shas = [["a", "b", "a", "a"], ["", "", "c", "d"]]
    assert agreement_signal(shas).tolist() == [
        [False, False, True, True],
        [False, False, False, False],
    ]


def test_uniform_row_equals_the_direct_computation() -> None:
    m = _matrix()
    knowledge = PolicyKnowledge(m.prior(), *m.verifier_rates(), source="test")
    for k in (1, 4, 12):
        report = replay_policies(m, policy="adaptive", k=k, knowledge=knowledge)
        u = report.uniform
        assert u.samples == m.correct.shape[0] * k
        assert u.cost == pytest.approx(m.cost[:, :k].sum())
        assert u.coverage == pytest.approx(m.correct[:, :k].any(axis=1).mean())
        first = np.where(m.signal[:, :k].any(axis=1), np.argmax(m.signal[:, :k], axis=1), 0)
        assert u.score == pytest.approx(m.correct[np.arange(len(first)), first].mean())
        assert u.ratio == 1.0


def test_policy_rows_equal_a_direct_run_and_respect_the_cap() -> None:
    m = _matrix()
    fp, fn = m.verifier_rates()
    wrong, right = ~m.correct, m.correct
    assert fp == pytest.approx(m.signal[wrong].sum() / wrong.sum())
    assert fn == pytest.approx((~m.signal[right]).sum() / right.sum())
    knowledge = PolicyKnowledge(m.prior(), fp, fn, source="test")
    report = replay_policies(m, policy="adaptive", k=6, knowledge=knowledge)
    uniform = report.uniform
    at_cap = report.rows[1]
    # The same policy, built here by hand over a matrix built here by hand.
    direct = run_policy(
        AdaptivePolicy(
            knowledge.prior,
            sample_usd=float(m.cost.mean()),
            false_positive=fp,
            false_negative=fn,
            max_samples=m.correct.shape[1],
        ),
        Outcomes(m.correct, m.signal, m.cost, float(m.cost.max())),
        uniform.cost,
    )
    assert (at_cap.cost, at_cap.coverage, at_cap.score) == (
        direct.cost,
        direct.coverage,
        direct.score,
    )
    assert at_cap.cost <= uniform.cost + 1e-9
    for row in report.rows[1:]:
        if row.ratio is not None:
            assert row.coverage >= uniform.coverage
            assert row.ratio == pytest.approx(row.cost / uniform.cost)
    oracle = [r for r in report.rows if r.policy == "oracle"]
    assert len(oracle) == 2
    # The oracle never samples an unsolvable problem, so it reaches uniform's coverage.
    assert oracle[1].ratio is not None and oracle[1].ratio <= 1.0


def test_uniform_policy_with_a_cap_and_bad_arguments() -> None:
    m = _matrix()
    knowledge = PolicyKnowledge(BetaPrior.single(0.3, 0.5, 1.5), 0.1, 0.2, source="test")
    report = replay_policies(m, policy="uniform", k=4, knowledge=knowledge, cap=10.0)
    capped = report.rows[1]
    assert capped.policy == "uniform" and capped.cost <= 10.0
    with pytest.raises(ConfigError, match="--k 13"):
        replay_policies(m, policy="adaptive", k=13, knowledge=knowledge)
    with pytest.raises(ConfigError, match="--policy"):
        replay_policies(m, policy="greedy", k=2, knowledge=knowledge)
    with pytest.raises(ConfigError, match="not all zero"):
        ReplayMatrix.build([[True]], [[True]], [[0.0]], "USD")


def test_a_seeded_order_permutes_each_problem_the_same_way() -> None:
    m = _matrix()
    s = m.shuffled(7)
    assert (s.correct.sum(axis=1) == m.correct.sum(axis=1)).all()
    assert np.allclose(np.sort(s.cost, axis=1), np.sort(m.cost, axis=1))
    assert not np.array_equal(s.cost, m.cost)
    assert np.array_equal(m.shuffled(7).cost, s.cost)

"""Dual agreement (CodeT) over a tests x candidates pass matrix: pure logic."""

from __future__ import annotations

import random

import pytest

from agentlab.scoring.codet import (
    consensus_sets,
    dual_agreement,
    most_tests_passed,
    passes_from_matrix,
)


def test_dual_agreement_beats_raw_test_votes() -> None:
    # Ground truth: candidates 1, 2, 3 are correct; 0 is wrong. Tests 0-2 were generated
    # wrong and happen to agree with candidate 0; tests 3-4 are right.
    matrix = [
        [True, False, False, False],
        [True, False, False, False],
        [True, False, False, False],
        [False, True, True, True],
        [False, True, True, True],
    ]
    passes = passes_from_matrix(matrix)
    assert most_tests_passed(passes) == 0  # raw votes: 3 tests beat 2
    pick = dual_agreement(passes)
    assert pick is not None
    assert pick.candidate == 1  # set {1,2,3} scores 3 x 2 = 6 > {0} scores 1 x 3 = 3
    assert [(s.members, s.score) for s in pick.sets] == [((1, 2, 3), 6), ((0,), 3)]


def test_sets_group_by_exact_tests_passed() -> None:
    passes = {0: {1, 2}, 1: {2, 1}, 2: {1}, 3: set()}
    sets = consensus_sets(passes)
    assert [(s.members, sorted(s.passed), s.score) for s in sets] == [
        ((0, 1), [1, 2], 4),
        ((2,), [1], 1),
        ((3,), [], 0),
    ]


def test_outputs_on_generated_inputs_split_and_join_sets() -> None:
    # No test passed by anyone: agreement of outputs alone decides (largest set).
    passes: dict[int, set[int]] = {0: set(), 1: set(), 2: set(), 3: set()}
    outputs = {0: ["a", "x"], 1: ["b", "y"], 2: ["b", "y"], 3: ["a", "z"]}
    pick = dual_agreement(passes, outputs)
    assert pick is not None and pick.candidate == 1
    assert pick.best.members == (1, 2) and pick.best.outputs == ("b", "y")
    # Same tests passed but different outputs: two sets, not one.
    split = consensus_sets({0: {0}, 1: {0}}, {0: ["p"], 1: ["q"]})
    assert [s.members for s in split] == [(0,), (1,)]


def test_ties_are_deterministic() -> None:
    # {0,1} passes 1 test (score 2), {2} passes 2 tests (score 2): more tests wins the tie.
    passes = {0: {0}, 1: {0}, 2: {1, 2}}
    pick = dual_agreement(passes)
    assert pick is not None and pick.candidate == 2
    # Equal score and tests: more members, then the lower id.
    assert dual_agreement({5: {0}, 3: {1}}) == dual_agreement({3: {1}, 5: {0}})
    chosen = dual_agreement({5: {0}, 3: {1}})
    assert chosen is not None and chosen.candidate == 3


def test_order_of_input_does_not_change_the_pick() -> None:
    rng = random.Random(7)
    for _ in range(200):
        passes = {c: {t for t in range(4) if rng.random() < 0.5} for c in range(6)}
        shuffled = dict(rng.sample(sorted(passes.items()), len(passes)))
        assert dual_agreement(passes) == dual_agreement(shuffled)


def test_empty_and_ragged_input() -> None:
    assert dual_agreement({}) is None and most_tests_passed({}) is None
    assert passes_from_matrix([]) == {}
    with pytest.raises(ValueError, match="one entry per candidate"):
        passes_from_matrix([[True, False], [True]])

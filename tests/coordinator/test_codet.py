"""CodeT's dual agreement (function-task selection): clusters by tests passed, size x tests."""

from __future__ import annotations

from agentlab.coordinator.kinds.humaneval_select import distinct_tests, rank_clusters


def test_a_smaller_cluster_passing_more_tests_beats_a_larger_one_passing_none() -> None:
    passes = {
        1: frozenset(),
        2: frozenset(),
        3: frozenset(),
        4: frozenset({0, 1}),
        5: frozenset({0, 1}),
    }
    shas = {1: "a", 2: "a", 3: "a", 4: "b", 5: "c"}
    clusters = rank_clusters(passes, shas, tests=2)
    assert clusters[0].members == (4, 5)  # 2 x 2 = 4 beats 3 x 0
    assert clusters[0].passed == frozenset({0, 1})
    assert clusters[1].members == (1, 2, 3)


def test_size_times_tests_decides_between_clusters_passing_different_tests() -> None:
    passes = {1: frozenset({0}), 2: frozenset({0}), 3: frozenset({0}), 4: frozenset({0, 1})}
    clusters = rank_clusters(passes, dict.fromkeys(passes, "x"), tests=2)
    assert clusters[0].members == (1, 2, 3)  # 3 x 1 = 3 beats 1 x 2 = 2


def test_without_tests_the_largest_group_of_identical_completions_wins() -> None:
    passes = dict.fromkeys((1, 2, 3, 4), frozenset[int]())
    shas = {1: "a", 2: "b", 3: "b", 4: "c"}
    clusters = rank_clusters(passes, shas, tests=0)
    assert clusters[0].members == (2, 3)
    assert [c.members for c in clusters[1:]] == [(1,), (4,)]  # ties: earliest candidate first


def test_identical_test_scripts_count_once() -> None:
    assert distinct_tests(
        ["assert f(1) == 2\n", "assert f(1) == 2   \n", "", "assert f(2) == 3"]
    ) == [
        "assert f(1) == 2\n",
        "assert f(2) == 3",
    ]

"""Context stage: source-file choice, score and ranking parsing, packing to a budget."""

from __future__ import annotations

import pytest

from agentlab.agent.context import (
    estimate_tokens,
    is_test_path,
    pack_context,
    parse_ranking,
    parse_relevance,
    render_file,
    source_files,
)
from agentlab.errors import ReplyFormatError


def test_source_files_skip_tests_and_non_python() -> None:
    paths = [
        "pkg/core.py",
        "pkg/tests/test_core.py",
        "tests/helpers.py",
        "pkg/test_util.py",
        "pkg/util_test.py",
        "conftest.py",
        "README.md",
        "pkg/contest.py",
        "pkg/types.pyi",
    ]
    assert source_files(paths) == ["pkg/contest.py", "pkg/core.py", "pkg/types.pyi"]
    assert is_test_path("testing/x.py") and not is_test_path("latest/x.py")


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("It defines add.\nSCORE: 7", 0.7),
        ("**Score:** 10", 1.0),
        ("SCORE: 3\nOn reflection...\nSCORE: 8/10", 0.8),
        ("relevance score: 0", 0.0),
        ("SCORE: 4.5", 0.45),
    ],
)
def test_parse_relevance(reply: str, score: float) -> None:
    assert parse_relevance(reply) == pytest.approx(score)


def test_parse_relevance_errors() -> None:
    with pytest.raises(ReplyFormatError, match="no score found"):
        parse_relevance("Very relevant.")
    with pytest.raises(ReplyFormatError, match="out of range"):
        parse_relevance("SCORE: 42")


def test_parse_ranking_reads_last_block_and_filters() -> None:
    known = ["a.py", "pkg/b.py", "pkg/c.py"]
    reply = "Thoughts on a.py...\n```\n1. `pkg/b.py` - core\n- ./a.py\nnope.py\n* pkg/b.py\n```"
    assert parse_ranking(reply, known) == ["pkg/b.py", "a.py"]
    assert parse_ranking("pkg/c.py\na.py\n", known) == ["pkg/c.py", "a.py"]
    with pytest.raises(ReplyFormatError, match="no known file paths"):
        parse_ranking("```\nunknown.py\n```", known)


def test_estimate_tokens_is_cheap_and_monotone() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a b c d e f") == 6  # never fewer tokens than words
    assert estimate_tokens("x" * 400) == 100


def test_pack_everything_that_fits() -> None:
    files = [("a.py", "x = 1\n"), ("b.py", "y = 2")]
    packed = pack_context(files, 1000)
    assert packed.included == ("a.py", "b.py") and packed.truncated is None
    assert packed.text == render_file("a.py", "x = 1\n") + render_file("b.py", "y = 2")
    assert packed.tokens == estimate_tokens(packed.text)


def test_pack_truncates_last_file_with_marker_and_drops_the_rest() -> None:
    small = ("a.py", "x = 1\n")
    big = ("big.py", "".join(f"value_{i} = compute({i})\n" for i in range(200)))
    files = [small, big, ("c.py", "z = 3\n")]
    budget = estimate_tokens(render_file(*small)) + 200
    packed = pack_context(files, budget)
    assert packed.included == ("a.py",)
    assert packed.truncated == "big.py"
    assert packed.dropped == ("c.py",)
    assert packed.tokens <= budget
    assert "... [truncated: " in packed.text and "more lines of big.py]" in packed.text
    assert "value_0 = compute(0)" in packed.text and "value_199" not in packed.text


def test_pack_drops_a_file_when_only_a_stub_would_fit() -> None:
    files = [("a.py", "x = 1\n" * 10), ("b.py", "y = 2\n" * 100)]
    budget = estimate_tokens(render_file(*files[0])) + 5
    packed = pack_context(files, budget)
    assert packed.included == ("a.py",)
    assert packed.truncated is None and packed.dropped == ("b.py",)

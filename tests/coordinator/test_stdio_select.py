"""Reading the generated inputs of stdin/stdout selection (pure: no model, no sandbox)."""

from __future__ import annotations

from agentlab.coordinator.kinds.stdio_select import (
    MAX_INPUT_CHARS,
    inputs_prompt,
    parse_inputs,
)
from agentlab.tasks import stdio

PROBLEM = stdio.load_problems(stdio.BUNDLED["agentlab-stdio"])["agentlab-stdio/sum-two"]


def test_every_fenced_block_is_an_input_once_and_examples_are_dropped() -> None:
    reply = (
        "Inputs:\n```\n3 4\n```\nand\n```text\n  3 4  \n```\n```\n1 2\n```\n"
        "```\n\n```\n```\n-1 -1\n```\n"
    )
    assert parse_inputs(reply, PROBLEM, count=5) == ["3 4\n", "-1 -1\n"]


def test_at_most_count_inputs_and_no_oversized_one() -> None:
    huge = "9 " * MAX_INPUT_CHARS
    reply = f"```\n{huge}\n```\n" + "".join(f"```\n{i} {i}\n```\n" for i in range(10, 20))
    assert parse_inputs(reply, PROBLEM, count=3) == ["10 10\n", "11 11\n", "12 12\n"]


def test_a_reply_without_blocks_gives_no_input() -> None:
    assert parse_inputs("I cannot think of any.", PROBLEM, count=4) == []


def test_the_request_shows_the_statement_and_examples_but_never_hidden_cases() -> None:
    text = inputs_prompt(PROBLEM, 4)
    assert "Write 4 different test inputs" in text and PROBLEM.statement in text
    assert "1 2" in text  # the public example
    assert all(case.input.strip() not in text for case in PROBLEM.hidden if len(case.input) > 6)

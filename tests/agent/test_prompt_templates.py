"""Prompt templates render every placeholder and hash by content."""

from __future__ import annotations

import pytest

from agentlab.agent.prompts import (
    EDIT_REVIEW,
    EDITING,
    PROMPTS,
    RELEVANCE,
    TEST_REVIEW,
    Prompt,
    format_fix_message,
    prompt_hash,
)

VALUES = {
    "problem": "add() returns the wrong sign for ${x}",
    "path": "m.py",
    "content": "def f():\n    return {'a': 1}\n",
    "files": "- m.py: defines add",
    "context": "### m.py\n```\nx = 1\n```\n",
    "test": "import sys\nsys.exit(2)\n",
}


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_every_prompt_renders_without_leftover_placeholders(name: str) -> None:
    system, user = PROMPTS[name].render(**VALUES)
    assert system.role == "system" and user.role == "user"
    assert "$" not in user.content.replace("${x}", "")
    assert "{'a': 1}" in user.content or name != "relevance"


def test_editing_prompt_explains_the_block_format() -> None:
    _, user = EDITING.render(**VALUES)
    assert "<<<<<<< SEARCH" in user.content and ">>>>>>> REPLACE" in user.content


def test_missing_value_is_an_error() -> None:
    with pytest.raises(KeyError, match="content"):
        RELEVANCE.render(problem="p", path="m.py")


def test_follow_ups_render() -> None:
    msg = EDITING.follow_up(
        EDIT_REVIEW,
        original_exit="2",
        original_output="bad",
        patched_exit="0",
        patched_output="ok",
        diff="--- a/m.py",
    )
    assert "exit code 0" in msg.content and "APPROVE" in msg.content
    assert "exit code 2" in EDITING.follow_up(TEST_REVIEW, exit_code="2", output="x").content
    assert format_fix_message("no score found").endswith("requested format exactly.")


def test_hash_changes_with_text_or_version() -> None:
    base = Prompt("p", 1, "sys", "user $x")
    assert base.hash == Prompt("p", 1, "sys", "user $x").hash
    assert base.hash != Prompt("p", 2, "sys", "user $x").hash
    assert base.hash != Prompt("p", 1, "sys", "user  $x").hash
    assert len({p.hash for p in PROMPTS.values()}) == len(PROMPTS)
    assert prompt_hash(base, "follow") != prompt_hash(base, "follow!")

"""Reply parsing for the testing and editing state machines, and the bounded format-fix loop."""

from __future__ import annotations

import pytest

from agentlab.agent.edits import EditBlock
from agentlab.agent.replies import (
    EditReply,
    FormatFailure,
    Parsed,
    TestReply,
    code_blocks,
    decision,
    parse_edit_reply,
    parse_test_review,
    parse_test_script,
    parse_with_fixes,
    python_block,
)
from agentlab.errors import ReplyFormatError

SCRIPT = "import sys\nsys.exit(2)\n"
EDIT = "m.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"


def test_code_blocks_languages_and_unclosed_fence() -> None:
    text = "a\n```python\nprint(1)\n```\nb\n```diff\n-x\n```\n````py\nlast\n"
    assert code_blocks(text) == [("python", "print(1)\n"), ("diff", "-x\n"), ("py", "last\n")]
    assert python_block(text) == "last\n"
    assert python_block("```diff\n-x\n```\n") is None


def test_nested_longer_fence_keeps_inner_backticks() -> None:
    text = "````python\ns = '''\n```\n'''\n````\n"
    assert python_block(text) == "s = '''\n```\n'''\n"


def test_decision_words_must_stand_alone_and_be_upper_case() -> None:
    assert decision("Looks right.\n\n**APPROVE**\n", ("APPROVE", "REVISE")) == "APPROVE"
    assert decision("Decision: REVISE\n", ("APPROVE", "REVISE")) == "REVISE"
    assert decision("I approve this\napprove\n", ("APPROVE", "REVISE")) is None
    assert decision("REWRITE_TEST\n", ("APPROVE", "REVISE")) is None
    with pytest.raises(ReplyFormatError, match="several decisions"):
        decision("APPROVE\nREVISE\n", ("APPROVE", "REVISE"))


def test_testing_replies() -> None:
    assert parse_test_script(f"Here:\n```python\n{SCRIPT}```\n") == TestReply("WRITE", SCRIPT)
    with pytest.raises(ReplyFormatError, match="no test script"):
        parse_test_script("I would test it by running pytest.")
    assert parse_test_review("It reproduces.\nAPPROVE\n") == TestReply("APPROVE")
    revised = parse_test_review(f"REVISE\n```python\n{SCRIPT}```")
    assert revised == TestReply("REVISE", SCRIPT)
    with pytest.raises(ReplyFormatError, match="REVISE needs"):
        parse_test_review("REVISE\nI will change the assertion.")
    with pytest.raises(ReplyFormatError, match="no decision found"):
        parse_test_review(f"```python\n{SCRIPT}```")


def test_editing_replies() -> None:
    assert parse_edit_reply(f"Fix:\n```\n{EDIT}```\n") == EditReply(
        "EDIT", blocks=(EditBlock("m.py", "x = 1\n", "x = 2\n"),)
    )
    assert parse_edit_reply("The fix works.\nAPPROVE") == EditReply("APPROVE")
    assert parse_edit_reply(f"REWRITE_TEST\n```python\n{SCRIPT}```") == EditReply(
        "REWRITE_TEST", script=SCRIPT
    )
    with pytest.raises(ReplyFormatError, match="both edit blocks and APPROVE"):
        parse_edit_reply(f"{EDIT}\nAPPROVE\n")
    with pytest.raises(ReplyFormatError, match="REWRITE_TEST needs"):
        parse_edit_reply("REWRITE_TEST\n")
    with pytest.raises(ReplyFormatError, match="no edit blocks and no decision"):
        parse_edit_reply("I think the bug is in m.py.")


class Asker:
    """Stands in for the model: returns queued replies and records the fix messages."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.messages: list[str] = []

    async def __call__(self, message: str) -> str:
        self.messages.append(message)
        return self.replies.pop(0)


async def test_format_fix_loop_succeeds_after_a_fix() -> None:
    ask = Asker(f"```python\n{SCRIPT}```")
    result = await parse_with_fixes("no code here", parse_test_script, ask, max_fixes=2)
    assert isinstance(result, Parsed)
    assert result.value == TestReply("WRITE", SCRIPT)
    assert result.fixes == 1
    assert len(ask.messages) == 1
    assert ask.messages[0].startswith("Your last reply could not be used: no test script found")


async def test_format_fix_loop_gives_up_with_reason() -> None:
    ask = Asker("still prose", "more prose", "unused")
    result = await parse_with_fixes("prose", parse_edit_reply, ask, max_fixes=2)
    assert isinstance(result, FormatFailure)
    assert result.fixes == 2
    assert result.replies == ("prose", "still prose", "more prose")
    assert "no edit blocks and no decision" in result.reason
    assert ask.replies == ["unused"]


async def test_format_fix_loop_without_fixes_and_first_reply_good() -> None:
    ask = Asker()
    ok = await parse_with_fixes("APPROVE", parse_edit_reply, ask, max_fixes=0)
    assert isinstance(ok, Parsed) and ok.fixes == 0
    bad = await parse_with_fixes("hm", parse_edit_reply, ask, max_fixes=0)
    assert isinstance(bad, FormatFailure) and bad.replies == ("hm",)
    assert ask.messages == []

"""Fitting the agent's conversation to the model's window: what is kept, elided, left out."""

from __future__ import annotations

import json

from agentlab.agent.history import ELIDED, Window, message_tokens
from agentlab.errors import ContextOverflowError
from agentlab.types import Message, ToolCall

HEAD = [
    Message(role="system", content="You fix issues. " * 10),
    Message(role="user", content="Issue: add() subtracts. " * 5),
]


def text_steps(n: int, words: int = 100) -> list[Message]:
    out: list[Message] = []
    for i in range(n):
        out.append(Message(role="assistant", content=f"```bash\ncat part{i}\n```"))
        out.append(Message(role="user", content=f"line{i} " * words))
    return out


def tool_steps(n: int, words: int = 100) -> list[Message]:
    out: list[Message] = []
    for i in range(n):
        call = ToolCall(id=f"c{i}", name="bash", arguments=json.dumps({"command": f"cat {i}"}))
        out.append(Message(role="assistant", content="", tool_calls=(call,)))
        out.append(Message.tool_result(f"c{i}", f"line{i} " * words))
    return out


def size(messages: list[Message]) -> int:
    return sum(map(message_tokens, messages))


def test_a_conversation_that_fits_is_sent_as_it_is() -> None:
    messages = HEAD + text_steps(3)
    fitted = Window(size(messages) + 100, 100).fit(messages)
    assert fitted is not None
    assert (fitted.messages, fitted.trimmed, fitted.estimate) == (messages, 0, size(messages))
    assert Window(None, 100).fit(messages) == fitted  # an unknown window trims nothing


def test_the_oldest_observations_are_elided_first_and_the_last_step_kept() -> None:
    messages = HEAD + text_steps(6)
    window = Window(size(messages) - 200 + 100, 100)  # ~200 tokens too many: two outputs
    fitted = window.fit(messages)
    assert fitted is not None and fitted.trimmed == 2
    assert fitted.messages[:2] == HEAD
    assert [m.content for m in fitted.messages[3:6:2]] == [ELIDED, ELIDED]
    assert fitted.messages[6:] == messages[6:]  # steps 2-5 untouched
    assert [m.content for m in fitted.messages if m.role == "assistant"] == [
        m.content for m in messages if m.role == "assistant"
    ]  # every reply still there
    assert fitted.estimate == size(fitted.messages) <= window.tokens - 100  # type: ignore[operator]


def test_then_the_oldest_steps_are_left_out_and_the_task_says_so() -> None:
    messages = HEAD + tool_steps(8)
    need = size(HEAD) + size(messages[-2:])
    fitted = Window(need + 3 * 30 + 100, 100).fit(messages)
    assert fitted is not None
    kept = fitted.messages
    assert kept[0] == HEAD[0] and kept[1].content.startswith(HEAD[1].content)
    left_out = 8 - sum(m.role == "assistant" for m in kept)
    assert left_out > 0 and f"the first {left_out} steps were left out" in kept[1].content
    assert kept[-2:] == messages[-2:]
    # Tool calls and their results stay in pairs, in order.
    for i, m in enumerate(kept):
        if m.tool_calls:
            assert kept[i + 1].tool_call_id == m.tool_calls[0].id


def test_when_even_the_head_and_last_step_do_not_fit_nothing_is_sent() -> None:
    messages = HEAD + text_steps(3, words=400)
    window = Window(size(HEAD) + 100 + 100, 100)
    assert window.fit(messages) is None
    reason = window.too_small(messages)
    need = size(HEAD) + size(messages[-2:])
    assert reason.startswith(f"the system prompt, the task and the last step need ~{need} tokens")
    assert f"window of {window.tokens} leaves {window.tokens - 100}" in reason  # type: ignore[operator]
    assert Window(size(HEAD) + 50, 100).fit(HEAD) is None  # a task alone can be too long


def test_a_model_that_counts_more_tokens_trims_earlier() -> None:
    messages = HEAD + text_steps(4)
    window = Window(size(messages) + 100, 100)
    assert window.fit(messages).trimmed == 0  # type: ignore[union-attr]
    window.learn(estimate=1000, prompt_tokens=1500)
    window.learn(estimate=1000, prompt_tokens=1200)  # the largest ratio seen stays
    assert window.ratio == 1.5
    assert window.fit(messages).trimmed > 0  # type: ignore[union-attr]


def test_a_refusal_teaches_the_window_and_the_ratio() -> None:
    window = Window(None, 100)
    window.refused(800, ContextOverflowError("x", prompt_tokens=1200, context_tokens=1000))
    assert (window.tokens, window.ratio) == (1000, 1.5)
    window.refused(500, ContextOverflowError("x", context_tokens=2000))  # never grows
    assert window.tokens == 1000 and window.ratio == 1.5 * 1.25
    blind = Window(None, 100)
    blind.refused(800, ContextOverflowError("prompt is too long"))
    assert blind.tokens == 800 and blind.ratio == 1.25

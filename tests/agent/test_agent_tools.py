"""Pure pieces of the agent: output capping, text-mode parsing, which calls change state,
the scripted agent's hunk edits, and backward-compatible records."""

from __future__ import annotations

import json

from agentlab.agent.agent_prompts import text_call
from agentlab.agent.agent_records import AgentStep, ToolRun
from agentlab.agent.scripted_agent import hunk_edits
from agentlab.agent.tools import cap, changes_state
from agentlab.types import ChatRequest, Message, ToolCall

PATCH = """diff --git a/pkg/m.py b/pkg/m.py
index 1..2 100644
--- a/pkg/m.py
+++ b/pkg/m.py
@@ -1,3 +1,3 @@
 def f(x):
-    return x - 1
+    return x + 1

@@ -10,2 +10,3 @@ def g():
     y = 2
+    z = 3
     return y
"""


def test_cap_keeps_head_and_tail_and_says_how_much_was_cut() -> None:
    text = "".join(f"line {i}\n" for i in range(10_000))
    out = cap(text, 1000)
    assert out.startswith("line 0\nline 1\n") and out.endswith("line 9999\n")
    assert f"characters cut of {len(text)}" in out and len(out) < 1100
    assert cap("short", 1000) == "short"


def test_text_mode_wants_exactly_one_bash_block() -> None:
    call = text_call("look:\n```bash\nls -la\n```\n", 3)
    assert isinstance(call, ToolCall) and json.loads(call.arguments) == {"command": "ls -la\n"}
    assert call.id == "text_3"
    assert text_call("All good.\nSUBMIT\n", 1) is None
    two = text_call("```bash\nls\n```\n```sh\npwd\n```", 2)
    assert isinstance(two, ToolRun) and two.error == "format" and "2 ```bash" in two.output
    prose = text_call("I think the bug is in add().", 0)
    assert isinstance(prose, ToolRun) and "no ```bash" in prose.output


def test_only_editor_views_leave_the_tree_alone() -> None:
    assert not changes_state(ToolCall(name="editor", arguments='{"command": "view"}'))
    assert changes_state(ToolCall(name="editor", arguments='{"command": "create"}'))
    assert changes_state(ToolCall(name="bash", arguments='{"command": "cat x"}'))
    assert changes_state(ToolCall(name="editor", arguments="{broken"))


def test_hunk_edits_turn_each_hunk_into_one_str_replace() -> None:
    edits = [json.loads(c.arguments) for c in hunk_edits(PATCH)]
    assert [e["path"] for e in edits] == ["pkg/m.py", "pkg/m.py"]
    assert edits[0]["old_str"] == "def f(x):\n    return x - 1\n\n"
    assert edits[0]["new_str"] == "def f(x):\n    return x + 1\n\n"
    assert edits[1]["new_str"] == "    y = 2\n    z = 3\n    return y\n"


def test_records_without_tools_serialise_as_before() -> None:
    request = ChatRequest(model="m", messages=(Message(role="user", content="hi"),))
    assert set(request.model_dump()) == {
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "n",
        "stop",
        "seed",
        "logprobs",
        "top_logprobs",
    }
    assert Message(role="user", content="hi").model_dump() == {"role": "user", "content": "hi"}
    step = AgentStep(step=0, reply=Message(role="assistant", content="x"))
    assert AgentStep.model_validate_json(step.model_dump_json()) == step

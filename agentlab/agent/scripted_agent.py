"""A scripted agent that solves SWE-style problems with their reference patches, by tool calls.

For tests, demos and benchmarks of the agent loop without a real model. Each problem's rule
(matched on its problem statement, the loop's first user message) looks around with ``bash``,
views the first file the patch touches, makes the fix, shows the diff and ends. The fix goes
two ways, so both tools are exercised: by ``editor str_replace`` calls, one per hunk of the
gold patch, or by ``git apply`` of the patch through ``bash`` (every other problem).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from agentlab.llm.scripted import Rule
from agentlab.tasks.swebench import SWEInstance, diff_files
from agentlab.types import ToolCall


def bash_call(command: str) -> ToolCall:
    """A ``bash`` tool call."""
    return ToolCall(name="bash", arguments=json.dumps({"command": command}))


def editor_call(**args: str) -> ToolCall:
    """An ``editor`` tool call."""
    return ToolCall(name="editor", arguments=json.dumps(args))


def hunk_edits(patch: str) -> list[ToolCall]:
    """One ``str_replace`` per hunk: its context and removed lines become its added ones."""
    calls: list[ToolCall] = []
    path, in_hunk = "", False
    old: list[str] = []
    new: list[str] = []

    def flush() -> None:
        if in_hunk and old:
            calls.append(
                editor_call(
                    command="str_replace",
                    path=path,
                    old_str="".join(old),
                    new_str="".join(new),
                )
            )
        old.clear()
        new.clear()

    for line in patch.splitlines(keepends=True):
        if line.startswith("diff --git "):
            flush()
            in_hunk = False
        elif line.startswith("+++ "):
            target = line[4:].split("\t")[0].strip()
            path = target[2:] if target.startswith("b/") else target
        elif line.startswith("@@"):
            flush()
            in_hunk = True
        elif in_hunk and line[:1] in (" ", "-", "+", "\n"):
            tag, text = (line[:1], line[1:]) if line != "\n" else (" ", "\n")
            if tag in (" ", "-"):
                old.append(text)
            if tag in (" ", "+"):
                new.append(text)
    flush()
    return calls


def fix_calls(instance: SWEInstance, *, use_editor: bool) -> tuple[tuple[ToolCall, ...], ...]:
    """The scripted tool calls, one per turn, that reproduce ``instance``'s gold fix."""
    files = diff_files(instance.patch, include_new=False)
    look: list[tuple[ToolCall, ...]] = [(bash_call("git status --short && ls"),)]
    if files:
        look.append((editor_call(command="view", path=files[0]),))
    if use_editor and "new file mode" not in instance.patch:
        fix = [(call,) for call in hunk_edits(instance.patch)]
    else:
        heredoc = f"cat > /var/tmp/fix.diff <<'AGENTLAB_EOF'\n{instance.patch}AGENTLAB_EOF\n"
        fix = [(bash_call(heredoc + "git apply /var/tmp/fix.diff && rm /var/tmp/fix.diff"),)]
    return (*look, *fix, (bash_call("git diff --stat"),))


def agent_rules(instances: Iterable[SWEInstance]) -> list[Rule]:
    """Rules that solve each of ``instances`` through the agent's tools."""
    rules = []
    for i, instance in enumerate(instances):
        calls = fix_calls(instance, use_editor=i % 2 == 0)
        about = re.escape(instance.problem_statement.strip()[:200])
        replies = ("",) * len(calls) + ("The fix is in place.",)
        rules.append(Rule(first_user=f"(?s){about}", replies=replies, tool_calls=calls))
    return rules

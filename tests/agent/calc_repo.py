"""The one-file repository the agent-loop tests fix: a wrong ``add`` in ``calc.py``, committed."""

from __future__ import annotations

import json

from agentlab.protocols import Sandbox
from agentlab.types import ToolCall

CALC = "def add(a, b):\n    return a - b\n"
TASK = "Issue: add(2, 3) returns -1 in calc.py; it should return 5."


def bash(command: str) -> ToolCall:
    """A ``bash`` tool call as a model sends it."""
    return ToolCall(name="bash", arguments=json.dumps({"command": command}))


async def checkout(sb: Sandbox) -> None:
    """Write ``calc.py`` into /testbed and commit it, so the agent's diff is its own."""
    await sb.write_file("/testbed/calc.py", CALC)
    done = await sb.exec(
        "git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm base",
        cwd="/testbed",
        timeout=60,
    )
    assert done.ok, done.stderr

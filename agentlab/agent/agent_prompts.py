"""What the tool-calling agent is told, and how a text-mode reply becomes a tool call.

Text mode is for models without native tool calling: each reply carries exactly one fenced
``bash`` block, which runs as a ``bash`` call; a reply with no block and a line ``SUBMIT``
ends the trajectory. Anything else is a format error shown to the model (and counted).
"""

from __future__ import annotations

import json
import re

from agentlab.agent.agent_records import ToolRun
from agentlab.types import ToolCall

TOOLS_SYSTEM = """You are a software engineer fixing an issue in the repository at {repo}.
Use the tools: `bash` to explore and run commands, `editor` to view, create and edit files.
Make the smallest change that resolves the issue; do not edit tests unless asked.
When you are done, reply without calling a tool: your working tree is the answer."""

TEXT_SYSTEM = """You are a software engineer fixing an issue in the repository at {repo}.
Each reply must contain exactly ONE fenced block of bash to run, like

```bash
grep -rn "def add" .
```

You will see its output and exit code. Each command runs in a fresh shell at the repository
root. Edit files with commands (sed, python, cat <<'EOF' > file). Make the smallest change
that resolves the issue. When you are done, reply with no code block and a line SUBMIT."""

_BLOCK = re.compile(r"```(?:bash|sh)\s*\n(.*?)```", re.DOTALL)
_SUBMIT = re.compile(r"^\s*SUBMIT\s*$", re.MULTILINE)


def text_call(reply: str, step: int) -> ToolCall | ToolRun | None:
    """The bash call in a text-mode reply, a format-error run, or None for a submission."""
    blocks = _BLOCK.findall(reply)
    if len(blocks) == 1:
        return ToolCall(
            id=f"text_{step}", name="bash", arguments=json.dumps({"command": blocks[0]})
        )
    if not blocks and _SUBMIT.search(reply):
        return None
    found = "no" if not blocks else f"{len(blocks)}"
    return ToolRun(
        call=ToolCall(id=f"text_{step}", name="bash", arguments=""),
        output=f"error: your reply had {found} ```bash blocks; send exactly one command "
        "block, or no block and a line SUBMIT when you are done",
        error="format",
    )

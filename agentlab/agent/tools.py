"""The agent's tools in a sandbox: ``bash`` and a file ``editor`` (view, create, str_replace).

Every observation is capped (head and tail kept, a marker saying how much was cut) before it
reaches the model or the store. A command still running at its timeout has its process tree
killed by the sandbox and the model is told so. Bad calls (arguments that are not a JSON
object, missing arguments, a tool that does not exist) are never run: they come back to the
model as an error observation and are counted by kind.

The working tree's state is a diff against the repository's single commit (``snapshot``);
``restore`` applies one to a fresh sandbox, which is how a resumed loop gets its tree back.
"""

from __future__ import annotations

import json
import shlex
import time
import uuid
from dataclasses import dataclass
from typing import Any

from agentlab.agent.agent_records import ToolRun
from agentlab.agent.tool_scripts import EDITOR_PYTHON, EDITOR_SCRIPT, EXIT_TRAP, SNAPSHOT
from agentlab.errors import SandboxError
from agentlab.protocols import Sandbox
from agentlab.types import ToolCall, ToolSpec

SCRATCH = "/var/tmp/agentlab"  # outside the repository, so never part of the diff
BASH = ToolSpec(
    name="bash",
    description="Run one bash command in the repository root and return its output "
    "(stdout and stderr together, long output cut in the middle) and exit code. Each call is "
    "a fresh shell: `cd` and variables do not carry over. No network.",
    parameters={
        "type": "object",
        "properties": {"command": {"type": "string", "description": "The command to run."}},
        "required": ["command"],
    },
)
EDITOR = ToolSpec(
    name="editor",
    description="View, create or edit a file. `view` shows the file with line numbers; "
    "`create` writes `file_text` to a new or existing file; `str_replace` replaces the one "
    "occurrence of `old_str` with `new_str` (it fails if `old_str` occurs zero or several "
    "times). Paths are relative to the repository root.",
    parameters={
        "type": "object",
        "properties": {
            "command": {"type": "string", "enum": ["view", "create", "str_replace"]},
            "path": {"type": "string"},
            "file_text": {"type": "string"},
            "old_str": {"type": "string"},
            "new_str": {"type": "string"},
        },
        "required": ["command", "path"],
    },
)
TOOLS = (BASH, EDITOR)
_SHELL = "exec 2>&1\ntrap __agentlab_exit EXIT\n"


class ToolError(Exception):
    """A call that cannot run; the message is written for the model."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def cap(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and tail around a marker."""
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n[... {cut} characters cut of {len(text)} ...]\n{text[-half:]}"


def changes_state(call: ToolCall) -> bool:
    """Whether running ``call`` may change the sandbox (only ``editor view`` cannot)."""
    if call.name != EDITOR.name:
        return True
    try:
        return bool(json.loads(call.arguments).get("command") != "view")
    except (ValueError, AttributeError):
        return True


def _arguments(call: ToolCall) -> dict[str, Any]:
    if call.name not in (BASH.name, EDITOR.name):
        names = ", ".join(t.name for t in TOOLS)
        raise ToolError("unknown_tool", f"there is no tool {call.name!r}; the tools are {names}")
    try:
        args = json.loads(call.arguments)
    except ValueError as exc:
        raise ToolError("malformed", f"the arguments are not valid JSON ({exc})") from None
    if not isinstance(args, dict):
        raise ToolError("malformed", "the arguments must be a JSON object")
    return args


def _need(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise ToolError("bad_arguments", f"argument {key!r} (a string) is required")
    return value


@dataclass(frozen=True)
class Toolbox:
    """Runs tool calls in ``sandbox`` against the repository at ``repo_dir``.

    Each call is one exec: the bash command, or the editor (a small python3 program), runs
    in a shell whose exit trap kills what the call left running and, for a call that may
    change state, appends the working tree's diff (see :mod:`agentlab.agent.tool_scripts`).
    """

    sandbox: Sandbox
    repo_dir: str = "/testbed"
    timeout_s: float = 60.0
    output_chars: int = 10_000

    async def run(self, call: ToolCall, *, note: str = "") -> tuple[ToolRun, str | None]:
        """Run one call: what the model is shown, and the tree's diff after it (None when the
        call did not run or cannot change the tree). A problem with the call itself becomes
        an error observation; it never raises for one."""
        started = time.perf_counter()
        diff = None
        try:
            args = _arguments(call)
            if call.name == BASH.name:
                run, diff = await self._exec(call, _need(args, "command"), None)
            else:
                program = f'{EDITOR_PYTHON} -c "$AGENTLAB_EDITOR"'
                run, diff = await self._exec(call, program, json.dumps(args))
        except ToolError as exc:
            run = ToolRun(call=call, output=f"error: {exc}", error=exc.kind)
        output = f"{note}\n{run.output}" if note else run.output
        elapsed = time.perf_counter() - started
        return run.model_copy(update={"output": output, "duration_s": elapsed}), diff

    async def _exec(
        self, call: ToolCall, command: str, stdin: str | None
    ) -> tuple[ToolRun, str | None]:
        mark = uuid.uuid4().hex if changes_state(call) else ""
        env = {
            "PYTHONDONTWRITEBYTECODE": "1",
            "AGENTLAB_SNAPSHOT": mark,
            "AGENTLAB_REPO": self.repo_dir,
            "AGENTLAB_EDITOR": EDITOR_SCRIPT,
        }
        result = await self.sandbox.exec(
            ["bash", "-c", EXIT_TRAP + _SHELL + command],
            cwd=self.repo_dir,
            timeout=self.timeout_s,
            env=env,
            stdin=stdin,
        )
        out, diff = result.stdout + result.stderr, None
        head, sep, tail = out.rpartition(f"\n{mark}\n") if mark else ("", "", "")
        if sep and tail.endswith(f"{mark}-end\n") and not result.truncated:
            out, diff = head, tail.removesuffix(f"{mark}-end\n")
        elif mark:  # killed before its trap ran, or output over the cap: ask separately
            diff = await self.snapshot()
        if call.name == EDITOR.name:
            error = "bad_arguments" if result.exit_code == 3 else ""
            return ToolRun(
                call=call, output=cap(out.strip("\n"), self.output_chars), error=error
            ), diff
        text = cap(out, self.output_chars)
        if result.truncated:
            text += "\n[output past the sandbox's capture limit was dropped]"
        if result.timed_out:
            text += (
                f"\n[agentlab: the command was still running after {self.timeout_s:g}s and was "
                "killed with everything it started; run something shorter]"
            )
        elif result.oom_killed:
            text += "\n[agentlab: the command ran out of memory and was killed]"
        text = f"{text.rstrip()}\n[exit code {result.exit_code}]".lstrip()
        run = ToolRun(
            call=call, output=text, exit_code=result.exit_code, timed_out=result.timed_out
        )
        return run, diff

    async def snapshot(self) -> str:
        """The working tree as a diff against the repository's commit (new files included)."""
        done = await self.sandbox.exec(["bash", "-c", SNAPSHOT], cwd=self.repo_dir, timeout=120)
        if not done.ok:
            raise SandboxError(f"cannot diff the working tree: {done.stdout}{done.stderr}".strip())
        return done.stdout

    async def restore(self, diff: str) -> None:
        """Apply a stored snapshot to a fresh checkout (resume)."""
        if not diff:
            return
        path = f"{SCRATCH}/resume.diff"
        await self.sandbox.write_file(path, diff)
        done = await self.sandbox.exec(
            f"git apply --binary --whitespace=nowarn {shlex.quote(path)}",
            cwd=self.repo_dir,
            timeout=120,
        )
        if not done.ok:
            raise SandboxError(f"cannot restore the working tree: {done.stderr.strip()}")

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
from dataclasses import dataclass
from typing import Any

from agentlab.agent.agent_records import ToolRun
from agentlab.errors import SandboxDiedError, SandboxError
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
# Runs when a bash call's shell exits (also on `exit`): SIGKILL every process that carries
# this exec's marker (the sandbox sets it on every exec) except the shell and its `timeout`
# parent, so nothing a call started in the background (a server, a fork bomb) outlives it.
# Builtins only: with the pids limit exhausted, nothing new can be forked.
_SWEEP = r"""__agentlab_sweep() {
  local rc=$? round p kv found
  [ -n "$AGENTLAB_EXEC_ID" ] || return $rc
  for round in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    found=
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      if [ "$p" = "$$" ] || [ "$p" = "$PPID" ]; then continue; fi
      while IFS= read -r -d '' kv; do
        if [ "$kv" = "AGENTLAB_EXEC_ID=$AGENTLAB_EXEC_ID" ]; then
          kill -9 "$p" 2>/dev/null; found=1; break
        fi
      done 2>/dev/null < "/proc/$p/environ"
    done
    [ -n "$found" ] || break
  done
  return $rc
}
trap __agentlab_sweep EXIT
exec 2>&1
"""
_SNAPSHOT = (
    f"mkdir -p {SCRATCH} && export GIT_INDEX_FILE={SCRATCH}/snapshot.index && "
    "rm -f $GIT_INDEX_FILE && git read-tree HEAD && "
    "git add -A -- . ':(exclude,glob)**/__pycache__/**' ':(exclude,glob)**/*.pyc' && "
    "git diff --cached --binary HEAD"
)


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
    """Runs tool calls in ``sandbox`` against the repository at ``repo_dir``."""

    sandbox: Sandbox
    repo_dir: str = "/testbed"
    timeout_s: float = 60.0
    output_chars: int = 10_000

    async def run(self, call: ToolCall, *, note: str = "") -> ToolRun:
        """Run one call; every problem with the call itself becomes an error observation."""
        started = time.perf_counter()
        try:
            args = _arguments(call)
            if call.name == BASH.name:
                run = await self._bash(call, _need(args, "command"))
            else:
                run = ToolRun(call=call, output=cap(await self._edit(args), self.output_chars))
        except ToolError as exc:
            run = ToolRun(call=call, output=f"error: {exc}", error=exc.kind)
        output = f"{note}\n{run.output}" if note else run.output
        return run.model_copy(
            update={"output": output, "duration_s": time.perf_counter() - started}
        )

    async def _bash(self, call: ToolCall, command: str) -> ToolRun:
        result = await self.sandbox.exec(
            ["bash", "-c", _SWEEP + command],
            cwd=self.repo_dir,
            timeout=self.timeout_s,
            env={"PYTHONDONTWRITEBYTECODE": "1"},
        )
        text = cap(result.stdout + result.stderr, self.output_chars)
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
        return ToolRun(
            call=call, output=text, exit_code=result.exit_code, timed_out=result.timed_out
        )

    def _path(self, rel: str) -> str:
        if rel.startswith("/"):
            return rel
        return f"{self.repo_dir.rstrip('/')}/{rel}"

    async def _read(self, rel: str) -> str:
        try:
            return (await self.sandbox.read_file(self._path(rel))).decode("utf-8", "replace")
        except SandboxDiedError:
            raise
        except SandboxError as exc:
            raise ToolError("bad_arguments", f"cannot read {rel}: {exc}") from None

    async def _edit(self, args: dict[str, Any]) -> str:
        command, path = _need(args, "command"), _need(args, "path")
        if command == "view":
            lines = (await self._read(path)).splitlines()
            return "\n".join(f"{i:6}\t{line}" for i, line in enumerate(lines, 1)) or "(empty)"
        if command == "create":
            await self.sandbox.write_file(self._path(path), _need(args, "file_text"))
            return f"created {path}"
        if command == "str_replace":
            old, new = _need(args, "old_str"), args.get("new_str", "")
            text = await self._read(path)
            count = text.count(old) if old else 0
            if count != 1:
                where = "does not occur" if count == 0 else f"occurs {count} times"
                raise ToolError("bad_arguments", f"old_str {where} in {path}; quote it exactly")
            await self.sandbox.write_file(self._path(path), text.replace(old, str(new), 1))
            return f"edited {path}"
        raise ToolError("bad_arguments", f"unknown editor command {command!r}")

    async def snapshot(self) -> str:
        """The working tree as a diff against the repository's commit (new files included)."""
        done = await self.sandbox.exec(["bash", "-c", _SNAPSHOT], cwd=self.repo_dir, timeout=120)
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

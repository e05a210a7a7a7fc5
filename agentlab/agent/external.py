"""Bring your own agent: run a user's program in a sandbox whose only network is the proxy.

:func:`run_external` starts a :class:`~agentlab.agent.proxy.MeteringProxy` on a Unix socket in
a private temp dir, opens the sandbox with ``SandboxSpec.proxy_socket`` pointing at it (the
Docker backend relays ``agentlab-proxy:8080`` on a network with no route out to that socket),
writes the task and the agent's files, runs the command from the repository with the OpenAI
variables set, and takes the working tree's diff as the candidate. The proxy meters, records
and caps every call; the program's output (stdout and stderr merged, head and tail kept) is
returned for the store. The proxy, the sandbox, its network and the forwarder are removed
however the run ends.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agentlab.agent.loop import ToolModel
from agentlab.agent.proxy import MeteringProxy
from agentlab.agent.tool_scripts import SNAPSHOT
from agentlab.agent.tools import SCRATCH, cap
from agentlab.errors import ConfigError, SandboxError
from agentlab.llm.scripted import Rule
from agentlab.protocols import Sandbox
from agentlab.sandbox.common import PROXY_HOST, PROXY_PORT
from agentlab.tasks.swebench import SWEInstance
from agentlab.types import CallContext, SandboxSpec

TASK_FILE = f"{SCRATCH}/task.md"
AGENT_DIR = f"{SCRATCH}/agent"


class ExternalConfig(BaseModel):
    """The ``external:`` section: the user's agent program and its limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str = Field(
        default="",
        description="Shell command run in the sandbox from the repository root (bash -c).",
    )
    files: list[str] = Field(
        default_factory=list,
        description=f"Host files copied into {AGENT_DIR}/ first (relative to the working dir).",
    )
    timeout_s: float = Field(default=1800.0, gt=0, description="Wall limit of the command.")
    max_usd: float | None = Field(
        default=None, gt=0, description="Per problem and sample; past it the proxy says 402."
    )
    log_chars: int = Field(
        default=20000, gt=0, description="Of the program's output kept (head and tail)."
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment.")


class ExternalRun(BaseModel):
    """What one external agent run left: the record stored as its turn row."""

    model_config = ConfigDict(frozen=True)

    step: int = 0
    command: str
    exit_code: int
    timed_out: bool
    log: str
    calls: int
    refused: int
    usd: float
    diff: str


Opener = Callable[[SandboxSpec], AbstractAsyncContextManager[Sandbox]]


async def run_external(
    model: ToolModel,
    open_sandbox: Opener,
    spec: SandboxSpec,
    config: ExternalConfig,
    *,
    task: str,
    context: CallContext,
    repo_dir: str,
    prepare: Callable[[Sandbox], Awaitable[None]] | None = None,
) -> ExternalRun:
    """Run ``config.command`` once against a fresh proxy; the diff it leaves is the result."""
    if not config.command.strip():
        raise ConfigError("external.command is empty: give the command that runs your agent")
    files = _read_files(config.files)
    # Short path: a Unix socket path must fit in ~108 bytes.
    home = tempfile.mkdtemp(prefix="alx-", dir="/tmp")
    try:
        proxy = MeteringProxy(
            model, context=context, cap_usd=config.max_usd, socket_path=f"{home}/proxy.sock"
        )
        async with proxy:
            wired = spec.model_copy(update={"proxy_socket": proxy.socket_path, "network": False})
            async with open_sandbox(wired) as sandbox:
                if prepare is not None:
                    await prepare(sandbox)
                await sandbox.write_file(TASK_FILE, task)
                for name, data in files.items():
                    await sandbox.write_file(f"{AGENT_DIR}/{name}", data, mode=0o755)
                env = {
                    **config.env,
                    "OPENAI_BASE_URL": f"http://{PROXY_HOST}:{PROXY_PORT}/v1",
                    "OPENAI_API_KEY": proxy.token,
                    "OPENAI_MODEL": model.model,
                    "AGENTLAB_TASK_FILE": TASK_FILE,
                    "AGENTLAB_AGENT_DIR": AGENT_DIR,
                    "AGENTLAB_REPO": repo_dir,
                }
                done = await sandbox.exec(
                    ["bash", "-c", f"exec 2>&1\n{config.command}"],
                    cwd=repo_dir,
                    env=env,
                    timeout=config.timeout_s,
                )
                snap = await sandbox.exec(["bash", "-c", SNAPSHOT], cwd=repo_dir, timeout=120)
                if snap.exit_code != 0:
                    raise SandboxError(f"cannot read the agent's diff: {snap.stdout[-300:]}")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    stats = proxy.stats
    return ExternalRun(
        command=config.command,
        exit_code=done.exit_code,
        timed_out=done.timed_out,
        log=cap(done.stdout + done.stderr, config.log_chars),
        calls=stats.calls,
        refused=stats.refused,
        usd=stats.usd,
        diff=snap.stdout,
    )


def _read_files(paths: list[str]) -> Mapping[str, bytes]:
    files: dict[str, bytes] = {}
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise ConfigError(f"external.files: {raw!r} is not a file; give a path to copy in")
        files[path.name] = path.read_bytes()
    return files


def diff_rules(instances: Iterable[SWEInstance]) -> list[Rule]:
    """The scripted model's answers to ``examples/diff_agent.py``: each gold fix as a diff."""
    rules = []
    for instance in instances:
        about = re.escape(instance.problem_statement.strip()[:200])
        reply = f"Here is the fix.\n```diff\n{instance.patch}```\n"
        rules.append(Rule(first_user=f"(?s){about}", replies=(reply,)))
    return rules

"""The small interfaces the implementation packages meet at.

Implementation packages (llm, sandbox, tasks, scoring, budget, store) never import each other;
they depend on these protocols, and the composition root (cli, coordinator) wires the real
implementations together. This is what keeps imports pointing one way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

from agentlab.types import CallContext, ChatRequest, ChatResponse, Cost, ExecResult, SandboxSpec


@runtime_checkable
class Sandbox(Protocol):
    """A running, isolated place to execute commands and hold files."""

    @property
    def id(self) -> str: ...

    async def exec(
        self,
        cmd: str | Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | str | None = None,
    ) -> ExecResult:
        """Run ``cmd`` (a shell string, or an argv list) and return its capped result.

        A command that runs past ``timeout`` has its whole process tree killed and comes back
        with ``timed_out=True`` (and exit code 124); it does not raise. Engine failures raise
        :class:`agentlab.errors.SandboxError`.
        """
        ...

    async def read_file(self, path: str) -> bytes: ...

    async def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644) -> None: ...

    async def copy_in(self, src: Path, dest: str) -> None:
        """Copy a host file or directory tree to ``dest`` inside the sandbox."""
        ...

    async def copy_out(self, src: str, dest: Path) -> None:
        """Copy a file or directory tree from the sandbox to ``dest`` on the host."""
        ...


class SandboxBackend(Protocol):
    """Where sandboxes run (Docker, a local process). ``open`` starts one and always cleans up."""

    name: str

    def open(self, spec: SandboxSpec) -> AbstractAsyncContextManager[Sandbox]: ...


class ChatBackend(Protocol):
    """One LLM provider. Does exactly one request; retries, limits and cost live in the client."""

    name: str

    async def generate(self, request: ChatRequest) -> ChatResponse: ...

    async def aclose(self) -> None: ...


class ResponseCache(Protocol):
    """Replays a response for an identical request and sample index (keyed by a hash)."""

    async def get(self, key: str) -> ChatResponse | None: ...

    async def put(self, key: str, response: ChatResponse) -> None: ...


class CallRecorder(Protocol):
    """Receives one row per LLM call (including cache hits and failures)."""

    async def record_call(
        self,
        *,
        context: CallContext,
        endpoint: str,
        model: str,
        request_hash: str,
        response: ChatResponse | None,
        cost: Cost,
        attempts: int,
        cache_hit: bool,
        error: str | None,
        replayed_usd: float = 0.0,
    ) -> None:
        """``replayed_usd``: for a cache hit, what the replayed answer cost when it was made."""
        ...


class ExecRecorder(Protocol):
    """Receives one row per sandbox exec, for accounting and replay."""

    async def record_exec(
        self,
        *,
        run_id: str,
        sandbox_id: str,
        command: str,
        result: ExecResult,
        labels: Mapping[str, str],
    ) -> None: ...

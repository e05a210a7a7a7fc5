"""The small interfaces the implementation packages meet at.

Implementation packages (llm, sandbox, tasks, scoring, budget, store) never import each other;
they depend on these protocols, and the composition root (cli, coordinator) wires the real
implementations together. This is what keeps imports pointing one way.

The seams a user plugs into (each a protocol plus a registry from a config name to an
implementation; docs/architecture.md says how to add one):

- :class:`SandboxProvider` (``sandbox:`` in the experiment YAML, ``--sandbox`` on the CLI):
  where sandboxes run, how images are prepared, how leftovers are reaped. Registry:
  :mod:`agentlab.sandbox.providers`.
- :class:`Executor`: runs a run's :class:`~agentlab.types.WorkItem` records (local asyncio, or
  Ray). Registry: :mod:`agentlab.coordinator.executors`.
- ``TaskKind`` (``dataset.kind``): a benchmark's problems, trajectories and grading. It needs
  the run's environment, so its protocol lives in :mod:`agentlab.coordinator.kinds.base`, with
  the registry in :mod:`agentlab.coordinator.kinds`.
- ``Selector`` (``selection.methods``): picks one candidate of a problem. Protocol and registry
  in :mod:`agentlab.scoring.selectors`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

from agentlab.types import (
    CallContext,
    ChatRequest,
    ChatResponse,
    Cost,
    ExecResult,
    SandboxSpec,
    WorkItem,
    WorkResult,
)


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


class ImageBuilder(Protocol):
    """Builds (or finds) an image from a parent, files and shell steps; returns its tag."""

    async def __call__(
        self,
        *,
        parent: str,
        commands: Sequence[str],
        files: Mapping[str, str],
        network: bool,
        name: str,
    ) -> str: ...


class SandboxProvider(Protocol):
    """One place sandboxes can run: the backend, image preparation and the janitor.

    Built from its config (``type`` discriminator) by :func:`agentlab.sandbox.make_provider`;
    nothing above ``agentlab/sandbox/`` names a concrete provider.
    """

    name: str

    def backend(self) -> SandboxBackend:
        """The backend that opens this provider's sandboxes."""
        ...

    async def prepare_image(
        self,
        *,
        parent: str,
        commands: Sequence[str],
        files: Mapping[str, str],
        network: bool,
        name: str,
    ) -> str:
        """Build (once, content-hashed) an image from a parent plus files and steps; its tag.

        The signature is :class:`ImageBuilder`'s, so a provider can be handed to the
        evaluation harness as its image builder.
        """
        ...

    async def remove_image(self, tag: str) -> bool:
        """Drop a prepared image (``--clean``); False when there was none."""
        ...

    async def pull_image(self, image: str) -> bool:
        """Make a named image present (a current-format instance's own image): True when it is
        here already or a registry gave it; False when neither (the caller says what to do)."""
        ...

    async def reap(
        self, run_id: str | None = None, *, ttl_s: float | None = None, everything: bool = False
    ) -> list[str]:
        """Remove sandboxes a crashed or killed process left behind; their names.

        Stale means: owner process gone, stopped, or older than ``ttl_s`` (default: the TTL
        each was started with). ``run_id`` limits it to one run; ``everything`` removes live
        ones too (never while other runs share the engine).
        """
        ...


class ItemHandler(Protocol):
    """Does one work item to the end (its rows stored) and says how it went."""

    async def __call__(self, item: WorkItem) -> WorkResult: ...


class Executor(Protocol):
    """Runs work items, at most ``max_workers`` at a time, and hands back their results.

    Contract: every item is handed to ``handler`` exactly once per call (retries are the
    handler's business); ``on_result`` sees each result as it finishes, in the driver
    process, so it can persist or schedule; if one item raises, or the caller is cancelled,
    every other item is cancelled and awaited before ``run`` returns or raises. Items and
    results are plain records, so an executor may ship them to other processes.
    """

    name: str

    async def run(
        self,
        items: Sequence[WorkItem],
        handler: ItemHandler,
        *,
        max_workers: int,
        on_result: Callable[[WorkResult], Awaitable[None]] | None = None,
    ) -> list[WorkResult]: ...

    def bound(self, env: object) -> AbstractAsyncContextManager[None]:
        """Ready the executor for one run's environment (the driver's ``RunEnv``) around
        the block: a remote executor connects, ships the run's ledger, and lets go on exit."""
        ...

    async def attempt(
        self, item: WorkItem, here: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        """Where one item's attempt runs: ``here()`` in this process, or the same attempt
        rebuilt from the store on another node. Returns the attempt's failure reason or None;
        budget errors are raised as in ``here()``."""
        ...

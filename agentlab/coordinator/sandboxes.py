"""Sandboxes as a run uses them: starts and execs under the run's sandbox limit, every exec
stored as a ``sandbox_exec`` row and, with a meter, charged to the run's ledger (wall seconds
x the container's CPUs; see :class:`agentlab.llm.budget.ComputeMeter`).

The limit counts sandboxes *busy* (starting, or running a command), not open: a trajectory
keeps its container while it waits for the model, which costs a sleeping process, while
the limit bounds the CPU that commands actually use.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session

from agentlab.llm.budget import ComputeMeter, Reservation
from agentlab.protocols import Sandbox, SandboxBackend
from agentlab.store.db import Store
from agentlab.store.tables import SandboxExec, utcnow
from agentlab.types import ExecResult, SandboxSpec


@dataclass
class SandboxPool:
    """The run's sandbox limit, a busy counter for progress, and the exec log."""

    backend: SandboxBackend
    limit: int
    store: Store | None = None
    run_id: str = ""
    name: str = "gated"  # a SandboxBackend itself, so the eval harness's sandboxes are gated too
    meter: ComputeMeter | None = None
    busy: int = 0
    _gate: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._gate = asyncio.Semaphore(self.limit)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the run's sandbox slots."""
        async with self._gate:
            self.busy += 1
            try:
                yield
            finally:
                self.busy -= 1

    @contextlib.asynccontextmanager
    async def open(self, spec: SandboxSpec, task_id: str = "") -> AsyncIterator[Sandbox]:
        """Start a sandbox (inside a slot) and hand out a gated, recording view of it."""
        async with self.slot():
            opened = self.backend.open(spec)
            sandbox = await opened.__aenter__()
        try:
            task = task_id or spec.labels.get("agentlab.instance_id", "")
            yield GatedSandbox(sandbox, self, task, spec.cpus)
        except BaseException as exc:
            await opened.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            await opened.__aexit__(None, None, None)

    async def record(
        self,
        sandbox_id: str,
        task_id: str,
        command: str,
        result: ExecResult,
        charge: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        """One ``sandbox_exec`` row; ``charge`` is (CPU-seconds, dollars) put on the ledger."""
        if self.store is None:
            return
        row = {
            "cpu_seconds": charge[0],
            "usd": charge[1],
            "run_id": self.run_id or None,
            "sandbox_id": sandbox_id[:128],
            "task_id": task_id,
            "command": command[:2000],
            "exit_code": result.exit_code,
            "duration_s": result.duration_s,
            "timed_out": result.timed_out,
            "oom_killed": result.oom_killed,
            "truncated": result.truncated,
            "created_at": utcnow(),
        }

        def write(session: Session) -> None:
            # A core insert: one row per exec is on the hot path; no ORM object needed.
            session.execute(insert(SandboxExec.__table__).values(**row))  # type: ignore[attr-defined]

        await self.store.acall(write)


@dataclass
class GatedSandbox:
    """A :class:`Sandbox` whose execs take a pool slot and are logged; files pass through."""

    inner: Sandbox
    pool: SandboxPool
    task_id: str = ""
    cpus: float = 1.0

    @property
    def id(self) -> str:
        return self.inner.id

    async def exec(
        self,
        cmd: str | Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | str | None = None,
    ) -> ExecResult:
        meter = self.pool.meter
        text = cmd if isinstance(cmd, str) else shlex.join(cmd)
        async with self.pool.slot():
            # Reserved inside the slot: execs queued for a slot hold no budget.
            held = None if meter is None else meter.reserve(self.cpus, timeout, scope=self.task_id)
            started = time.monotonic()
            try:
                result = await self.inner.exec(cmd, timeout=timeout, env=env, cwd=cwd, stdin=stdin)
            except BaseException as exc:
                # An engine error or a cancellation still held the CPUs: charge and log it.
                failed = ExecResult(exit_code=-1, stderr=f"exec failed: {type(exc).__name__}")
                charge = self._settle(held, started)
                if meter is not None:
                    await self.pool.record(self.inner.id, self.task_id, text, failed, charge)
                raise
            charge = self._settle(held, started)
        await self.pool.record(self.inner.id, self.task_id, text, result, charge)
        return result

    def _settle(self, held: Reservation | None, started: float) -> tuple[float, float]:
        """(CPU-seconds, dollars) of an exec that started at ``started``, settled."""
        if held is None or self.pool.meter is None:
            return 0.0, 0.0
        cpu_s = (time.monotonic() - started) * self.cpus
        return cpu_s, self.pool.meter.settle(held, cpu_s)

    async def read_file(self, path: str) -> bytes:
        return await self.inner.read_file(path)

    async def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644) -> None:
        await self.inner.write_file(path, data, mode=mode)

    async def copy_in(self, src: Path, dest: str) -> None:
        await self.inner.copy_in(src, dest)

    async def copy_out(self, src: str, dest: Path) -> None:
        await self.inner.copy_out(src, dest)

"""Containers never outlive their owner: exit, exception, cancellation, signals, gc, TTL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import pytest

from agentlab.sandbox import cleanup
from agentlab.sandbox.docker import DockerBackend, gc
from agentlab.types import SandboxSpec

pytestmark = pytest.mark.docker

Lookup = Callable[[str], list[str]]

# A child process that opens a sandbox, says "ready" and blocks in a long exec.
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from agentlab.sandbox.docker import DockerBackend
    from agentlab.types import SandboxSpec

    async def main() -> None:
        spec = SandboxSpec(image=sys.argv[1], run_id=sys.argv[2], ttl_s=600)
        async with DockerBackend().open(spec) as sb:
            print("ready", flush=True)
            await sb.exec("sleep 300")

    asyncio.run(main())
    """
)


def _start_child(image: str, run_id: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, image, run_id], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


async def _wait_for(condition: Callable[[], bool], limit_s: float = 60.0) -> bool:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if condition():
            return True
        await asyncio.sleep(0.2)
    return condition()


async def test_normal_exit_and_exception_remove(
    docker_backend: DockerBackend, spec: SandboxSpec, containers_of: Lookup
) -> None:
    async with docker_backend.open(spec) as sb:
        assert containers_of(spec.run_id) == [sb.id[:12]]
        assert len(cleanup.live()) == 1  # registered for signal/atexit cleanup
    assert containers_of(spec.run_id) == []
    assert cleanup.live() == []
    with pytest.raises(RuntimeError, match="boom"):
        async with docker_backend.open(spec):
            raise RuntimeError("boom")
    assert containers_of(spec.run_id) == []


async def test_cancellation_mid_exec_removes(
    docker_backend: DockerBackend, spec: SandboxSpec, containers_of: Lookup
) -> None:
    started = asyncio.Event()

    async def work() -> None:
        async with docker_backend.open(spec) as sb:
            started.set()
            await sb.exec("sleep 300")

    task = asyncio.create_task(work())
    await started.wait()
    await asyncio.sleep(0.5)  # let the exec get under way
    assert len(containers_of(spec.run_id)) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert containers_of(spec.run_id) == []


def test_sigkill_leak_is_reaped_by_gc(base_image: str, run_id: str, containers_of: Lookup) -> None:
    child = _start_child(base_image, run_id)
    time.sleep(0.5)  # mid-exec
    child.kill()
    child.wait()
    # SIGKILL runs no cleanup: the container is left behind, as after a real crash...
    assert len(containers_of(run_id)) == 1
    # ...until the janitor sees that its owner is gone.
    done = subprocess.run(
        [sys.executable, "-m", "agentlab", "sandbox", "gc"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert containers_of(run_id) == []


def test_sigterm_removes_then_dies_by_signal(
    base_image: str, run_id: str, containers_of: Lookup
) -> None:
    child = _start_child(base_image, run_id)
    time.sleep(0.5)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == -signal.SIGTERM  # default action re-raised after cleanup
    assert containers_of(run_id) == []


def test_sigint_removes(base_image: str, run_id: str, containers_of: Lookup) -> None:
    child = _start_child(base_image, run_id)
    time.sleep(0.5)
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=60) != 0
    assert containers_of(run_id) == []


async def test_container_dies_on_its_own_after_ttl(
    docker_backend: DockerBackend, spec: SandboxSpec, containers_of: Lookup
) -> None:
    short = spec.model_copy(update={"ttl_s": 2})
    async with docker_backend.open(short):
        # Nobody removes it: PID 1's sleep ends at the TTL and auto-remove deletes it.
        assert await _wait_for(lambda: containers_of(short.run_id) == [])


async def test_gc_ttl_and_all(
    docker_backend: DockerBackend, spec: SandboxSpec, containers_of: Lookup
) -> None:
    async with docker_backend.open(spec) as sb:
        # Our own live, young container survives a plain gc...
        assert sb.id[:12] in containers_of(spec.run_id)
        await asyncio.to_thread(gc, run_id=spec.run_id)
        assert containers_of(spec.run_id) == [sb.id[:12]]
        # ...but not one with a TTL it has outlived. (run_id keeps other people's work safe.)
        await asyncio.sleep(1.1)
        removed = await asyncio.to_thread(gc, 1.0, run_id=spec.run_id)
        assert containers_of(spec.run_id) == []
        assert removed

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


# A child whose workers retry on a sandbox error, like the eval harness does: a SIGINT
# removes their containers mid-exec, so each worker sees an error and opens a fresh sandbox
# while the shutdown is under way.
RETRYING_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from agentlab.errors import SandboxError
    from agentlab.sandbox.docker import DockerBackend
    from agentlab.types import SandboxSpec

    async def worker(backend, spec, ready):
        while True:
            try:
                async with backend.open(spec) as sb:
                    ready.append(1)
                    if len(ready) == int(sys.argv[3]):
                        print("ready", flush=True)
                    await sb.exec("sleep 300")
            except SandboxError:
                continue

    async def main() -> None:
        spec = SandboxSpec(image=sys.argv[1], run_id=sys.argv[2], ttl_s=600)
        backend, ready = DockerBackend(), []
        async with asyncio.TaskGroup() as group:
            for _ in range(int(sys.argv[3])):
                group.create_task(worker(backend, spec, ready))

    asyncio.run(main())
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
@pytest.mark.parametrize("round_", range(3))
def test_signal_during_retries_leaves_no_container(
    base_image: str, run_id: str, containers_of: Lookup, sig: signal.Signals, round_: int
) -> None:
    """Shutdown removes every sandbox, including ones a retry was creating meanwhile."""
    child = subprocess.Popen(
        [sys.executable, "-c", RETRYING_CHILD, base_image, run_id, "4"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    child.send_signal(sig)
    assert child.wait(timeout=120) != 0
    assert containers_of(run_id) == []


async def _until_registered(before: set[str]) -> str:
    """The key of the sandbox registered since ``before`` (its create is then in flight)."""
    # Polling on purpose: the registry has no event to wait on, and one loop turn suffices.
    while not (new := set(cleanup.live()) - before):  # noqa: ASYNC110
        await asyncio.sleep(0)
    return new.pop()


async def test_cancellation_mid_create_leaves_no_container(
    docker_backend: DockerBackend, spec: SandboxSpec, containers_of: Lookup
) -> None:
    """Cancelled while its container is being created: the create is waited for, then removed."""

    async def work() -> None:
        async with docker_backend.open(spec) as sb:
            await sb.exec("sleep 300")

    before = set(cleanup.live())
    task = asyncio.create_task(work())
    await _until_registered(before)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Let any thread still creating a container finish before looking.
    await asyncio.get_running_loop().shutdown_default_executor()
    assert containers_of(spec.run_id) == []
    assert cleanup.live() == []


async def test_no_new_sandbox_once_shutdown_began(
    docker_backend: DockerBackend, spec: SandboxSpec, containers_of: Lookup
) -> None:
    """After a signal's cleanup, a retry in the same event loop starts nothing."""
    async with docker_backend.open(spec):
        cleanup.remove_all()  # what the SIGINT/SIGTERM handler runs
        assert containers_of(spec.run_id) == []
    with pytest.raises(asyncio.CancelledError):
        async with docker_backend.open(spec):
            pytest.fail("a sandbox was started after shutdown began")
    assert containers_of(spec.run_id) == []


# A child that signals itself while its one container is being created.
MID_CREATE_CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from agentlab.sandbox import cleanup
    from agentlab.sandbox.docker import DockerBackend
    from agentlab.types import SandboxSpec

    async def main() -> None:
        backend = DockerBackend()
        await asyncio.to_thread(backend.client)
        spec = SandboxSpec(image=sys.argv[1], run_id=sys.argv[2], ttl_s=600)

        async def work():
            async with backend.open(spec) as sb:
                await sb.exec("sleep 300")

        task = asyncio.create_task(work())
        while not cleanup.live():
            await asyncio.sleep(0)
        os.kill(os.getpid(), getattr(signal, sys.argv[3]))
        await task

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_signal_mid_create_leaves_no_container(
    base_image: str, run_id: str, containers_of: Lookup, sig: signal.Signals
) -> None:
    child = subprocess.run(
        [sys.executable, "-c", MID_CREATE_CHILD, base_image, run_id, sig.name],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -sig, child.stderr
    assert containers_of(run_id) == []

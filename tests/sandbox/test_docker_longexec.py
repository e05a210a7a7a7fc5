"""An exec with no timeout waits as long as its command runs, however long it stays silent."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from agentlab.sandbox.docker import DockerBackend
from agentlab.types import SandboxSpec

pytestmark = pytest.mark.docker


async def test_silent_exec_outlives_the_client_timeout(base_image: str, spec: SandboxSpec) -> None:
    """A client whose requests time out after 2 s still waits for a silent 5 s command."""
    backend = DockerBackend(client_timeout_s=2.0)
    try:
        async with backend.open(spec) as sb:
            res = await sb.exec("sleep 5; echo done")
            assert (res.exit_code, res.timed_out, res.stdout) == (0, False, "done\n")
            # A timeout, when given, still holds.
            cut = await sb.exec("sleep 30", timeout=1)
            assert cut.timed_out and cut.exit_code == 124
    finally:
        backend.close()


@pytest.mark.slow
async def test_silent_70s_exec_with_the_default_client(
    docker_backend: DockerBackend, spec: SandboxSpec
) -> None:
    """The default client (60 s request timeout) and a command silent for 70 s."""
    async with docker_backend.open(spec) as sb:
        res = await sb.exec("sleep 70; echo done")
    assert (res.exit_code, res.timed_out, res.stdout) == (0, False, "done\n")


def _started(cid: str) -> int:
    """How many of the long execs have started, asked through the docker CLI (not our pools)."""
    done = subprocess.run(
        ["docker", "exec", cid, "sh", "-c", "ls /tmp | grep -c '^started' || true"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip() or 0)


async def _wait_started(cid: str, n: int) -> None:
    # Polled, and on the loop's own thread: the default executor may be the thing that is full.
    while _started(cid) < n:  # noqa: ASYNC110
        await asyncio.sleep(0.2)


async def _removal_while_execs_run(backend: DockerBackend, spec: SandboxSpec, n: int) -> None:
    async with backend.open(spec) as busy:
        execs = [
            asyncio.create_task(busy.exec(f"touch /tmp/started.{i}; sleep 120")) for i in range(n)
        ]
        await _wait_started(busy.id, n)
        # Create and remove another container while all n execs hold their threads.
        async with backend.open(spec) as other:
            assert other.id
        assert not any(t.done() for t in execs), "removal waited for the long execs to end"
        for t in execs:
            t.cancel()
    # Leaving `busy` removed its container, which ended the execs' streams.
    await asyncio.gather(*execs, return_exceptions=True)


async def test_removal_is_not_queued_behind_long_execs(
    docker_backend: DockerBackend, spec: SandboxSpec
) -> None:
    """As many long execs as the event loop's default executor has threads."""
    n = min(32, (os.cpu_count() or 1) + 4)
    await _removal_while_execs_run(docker_backend, spec, n)


async def test_removal_proceeds_with_the_exec_pool_full(base_image: str, spec: SandboxSpec) -> None:
    """Every exec thread busy: create and remove use their own threads."""
    backend = DockerBackend(exec_threads=3)
    try:
        await _removal_while_execs_run(backend, spec, 3)
    finally:
        backend.close()

"""Shared fixtures. Docker tests run against the real engine.

Where AGENTLAB_REQUIRE_DOCKER=1 (CI sets it) a missing engine or base image FAILS the run;
elsewhere those tests are skipped with a line saying how to enable them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from agentlab.errors import SandboxUnavailableError
from agentlab.types import SandboxSpec


def pytest_configure(config: pytest.Config) -> None:
    """Give the tests a working Ctrl-C even when started with SIGINT ignored.

    A shell without job control starts background commands with SIGINT ignored, and an
    ignored signal stays ignored across exec: every child a test interrupts (the cleanup and
    resume tests send SIGINT) would then never see it. A handled SIGINT is reset to the
    default on exec, so children start with Python's KeyboardInterrupt as under a terminal.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


BASE_IMAGE = "agentlab/base:bookworm"


def _unavailable(reason: str) -> None:
    if os.environ.get("AGENTLAB_REQUIRE_DOCKER") == "1":
        pytest.fail(f"AGENTLAB_REQUIRE_DOCKER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_backend() -> object:
    """A DockerBackend connected to the local engine (skips/fails when none answers)."""
    from agentlab.sandbox.docker import DockerBackend

    backend = DockerBackend(exec_grace_s=2.0)
    try:
        backend.client()
    except SandboxUnavailableError as exc:
        _unavailable(str(exc))
    return backend


@pytest.fixture(scope="session")
def base_image(docker_backend: object) -> str:
    """The base sandbox image tag, once it is known to exist."""
    from agentlab.sandbox.docker import image_exists

    if not image_exists(BASE_IMAGE):
        _unavailable(f"{BASE_IMAGE} is missing: run `agentlab sandbox build-base`")
    return BASE_IMAGE


@pytest.fixture
def run_id() -> str:
    """A run id unique to this test, so container lookups cannot see other tests' work."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def spec(base_image: str, run_id: str) -> SandboxSpec:
    """Small limits that keep hostile tests cheap."""
    return SandboxSpec(
        image=base_image, run_id=run_id, memory_mb=256, pids_limit=64, tmp_mb=64, ttl_s=600
    )


@pytest.fixture
async def sandbox(docker_backend: object, spec: SandboxSpec) -> AsyncIterator[object]:
    """An open Docker sandbox, removed after the test."""
    from agentlab.sandbox.docker import DockerBackend

    assert isinstance(docker_backend, DockerBackend)
    async with docker_backend.open(spec) as sb:
        yield sb


def _containers_of(run_id: str) -> list[str]:
    done = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=agentlab.run_id={run_id}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


@pytest.fixture
def containers_of() -> Callable[[str], list[str]]:
    """Ids of containers (running or not) labelled with a run id, via the docker CLI."""
    return _containers_of


@pytest.fixture
async def stdio_sandbox(
    docker_backend: object, base_image: str, run_id: str
) -> AsyncIterator[object]:
    """A Docker sandbox sized for two 256 MB stdin/stdout programs at a time."""
    from agentlab.sandbox.docker import DockerBackend

    assert isinstance(docker_backend, DockerBackend)
    spec = SandboxSpec(image=base_image, run_id=run_id, cpus=2.0, memory_mb=1024, pids_limit=256)
    async with docker_backend.open(spec) as sb:
        yield sb

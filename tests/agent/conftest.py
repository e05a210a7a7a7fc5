"""Fixtures of the agent tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentlab.protocols import Sandbox
from agentlab.types import SandboxSpec
from tests.agent.calc_repo import checkout


@pytest.fixture
async def repo(docker_backend: Any, spec: SandboxSpec) -> AsyncIterator[Sandbox]:
    """A real sandbox holding the committed calc.py repository."""
    async with docker_backend.open(spec) as sb:
        await checkout(sb)
        yield sb

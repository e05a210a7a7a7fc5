"""The process provider cannot isolate a proxy-only network, so it refuses one."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.errors import SandboxUnavailableError
from agentlab.sandbox import ProcessConfig, make_backend
from agentlab.types import SandboxSpec


async def test_process_sandboxes_refuse_the_proxy_network(tmp_path: Path) -> None:
    backend = make_backend(ProcessConfig(root_dir=str(tmp_path)))
    spec = SandboxSpec(image="none", proxy_socket=str(tmp_path / "s"))
    with pytest.raises(SandboxUnavailableError, match="needs the docker provider"):
        async with backend.open(spec):
            pass

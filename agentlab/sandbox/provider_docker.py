"""The ``docker`` sandbox provider: containers, content-hashed images, the label janitor."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from agentlab.protocols import SandboxBackend
from agentlab.sandbox import docker as engine
from agentlab.sandbox.config import DockerConfig
from agentlab.sandbox.images import ImageSpec, ensure_image


class DockerProvider:
    """Sandboxes as Docker containers (the default, and the only strong isolation)."""

    name = "docker"

    def __init__(self, config: DockerConfig | None = None) -> None:
        self.config = config or DockerConfig()
        self._backend: engine.DockerBackend | None = None

    def backend(self) -> SandboxBackend:
        """One backend (one engine client) per provider."""
        if self._backend is None:
            self._backend = engine.DockerBackend(
                self.config.base_url, exec_grace_s=self.config.exec_grace_s
            )
        return self._backend

    async def prepare_image(
        self,
        *,
        parent: str,
        commands: Sequence[str],
        files: Mapping[str, str],
        network: bool,
        name: str,
    ) -> str:
        """Build the image once per content hash (see :mod:`agentlab.sandbox.images`)."""
        spec = ImageSpec(
            parent=parent, name=name, setup=tuple(commands), files=dict(files), network=network
        )
        return await ensure_image(spec)

    async def remove_image(self, tag: str) -> bool:
        return await asyncio.to_thread(engine.remove_image, tag, self.config.base_url)

    async def pull_image(self, image: str) -> bool:
        """Present already, or pulled from a registry that answers."""
        return await asyncio.to_thread(engine.try_pull, image, self.config.base_url)

    async def reap(
        self, run_id: str | None = None, *, ttl_s: float | None = None, everything: bool = False
    ) -> list[str]:
        """Containers whose owner died, that stopped, or outlived their TTL (of one run)."""
        return await asyncio.to_thread(
            engine.gc, ttl_s, everything=everything, run_id=run_id, base_url=self.config.base_url
        )

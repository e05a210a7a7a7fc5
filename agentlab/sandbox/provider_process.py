"""The ``process`` sandbox provider: local processes in temp dirs; no images to prepare."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agentlab.errors import SandboxUnavailableError
from agentlab.protocols import SandboxBackend
from agentlab.sandbox.config import ProcessConfig
from agentlab.sandbox.process import ProcessBackend


class ProcessProvider:
    """Sandboxes as local processes. Isolates much less than Docker; images are ignored."""

    name = "process"

    def __init__(self, config: ProcessConfig | None = None) -> None:
        self.config = config or ProcessConfig()
        self._backend: ProcessBackend | None = None

    def backend(self) -> SandboxBackend:
        if self._backend is None:
            self._backend = ProcessBackend(root_dir=self.config.root_dir)
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
        """Not possible: a process sandbox runs on the host's own files."""
        raise SandboxUnavailableError(
            f"the process sandbox provider cannot prepare image {name!r} (a repository"
            " environment); use `--sandbox docker` for SWE-style tasks"
        )

    async def remove_image(self, tag: str) -> bool:
        return False

    async def pull_image(self, image: str) -> bool:
        """Never: local processes run on this machine's files, not in an image."""
        return False

    async def reap(
        self, run_id: str | None = None, *, ttl_s: float | None = None, everything: bool = False
    ) -> list[str]:
        """Nothing to reap: each temp dir is removed when its sandbox closes."""
        return []

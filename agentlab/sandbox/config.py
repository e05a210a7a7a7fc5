"""Sandbox provider configs: one model per provider, told apart by ``type``, unknown keys
rejected. The experiment YAML's ``sandbox:`` section is one of these; a new provider adds its
config class here and to :data:`SandboxConfig` (and its module to the registry in
:mod:`agentlab.sandbox`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class DockerConfig(BaseModel):
    """Sandboxes as Docker containers (the default, and the only strong isolation)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["docker"] = "docker"
    base_url: str | None = Field(
        default=None, description="Engine URL; default DOCKER_HOST or the local socket."
    )
    exec_grace_s: float = Field(
        default=5.0,
        gt=0,
        description="How long past an exec's timeout the host waits before killing it itself.",
    )


class ProcessConfig(BaseModel):
    """Sandboxes as local processes in a temp dir. Isolates much less than Docker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["process"] = "process"
    root_dir: str | None = Field(
        default=None, description="Where temp dirs are made; default the system temp dir."
    )


SandboxConfig = Annotated[DockerConfig | ProcessConfig, Field(discriminator="type")]
BackendConfig = SandboxConfig  # the earlier name

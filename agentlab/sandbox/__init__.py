"""agentlab.sandbox: isolated places to run model-written code.

``make_backend(config)`` turns a :data:`BackendConfig` into a backend; ``backend.open(spec)``
is an async context manager yielding a :class:`agentlab.protocols.Sandbox`. The Docker backend
is imported lazily so that machines without the engine can still use the process backend.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from agentlab.errors import ConfigError
from agentlab.protocols import SandboxBackend
from agentlab.sandbox.config import BackendConfig, DockerConfig, ProcessConfig

__all__ = ["BackendConfig", "DockerConfig", "ProcessConfig", "make_backend", "parse_config"]

_ADAPTER: TypeAdapter[DockerConfig | ProcessConfig] = TypeAdapter(BackendConfig)


def parse_config(data: dict[str, Any]) -> DockerConfig | ProcessConfig:
    """Validate a backend config mapping (e.g. from YAML); errors name the bad key."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "type"
        raise ConfigError(
            f"sandbox config: {where}: {first['msg']} (type is 'docker' or 'process')"
        ) from exc


def make_backend(config: DockerConfig | ProcessConfig | None = None) -> SandboxBackend:
    """The backend a config asks for; Docker when none is given."""
    config = config or DockerConfig()
    if isinstance(config, ProcessConfig):
        from agentlab.sandbox.process import ProcessBackend

        return ProcessBackend(root_dir=config.root_dir)
    from agentlab.sandbox.docker import DockerBackend

    return DockerBackend(config.base_url, exec_grace_s=config.exec_grace_s)

"""agentlab.sandbox: isolated places to run model-written code, behind the provider seam.

A provider (:class:`agentlab.protocols.SandboxProvider`) is where sandboxes run plus how
images are prepared and leftovers reaped. :func:`make_provider` builds one from its config
(``sandbox:`` in the experiment YAML, ``--sandbox`` on the CLI; ``type`` picks the provider);
nothing above this package names a concrete provider or imports :mod:`agentlab.sandbox.docker`.

Adding a provider (say ``modal``): a module ``agentlab/sandbox/provider_modal.py`` with a class
taking its config and meeting :class:`~agentlab.protocols.SandboxProvider`, its config class
(``type: Literal["modal"]``, ``extra="forbid"``) in :mod:`agentlab.sandbox.config` and in
:data:`~agentlab.sandbox.config.SandboxConfig`, and one line in :data:`PROVIDERS`.
Providers are imported lazily, so a machine without the Docker engine can use ``process``.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from agentlab.errors import ConfigError
from agentlab.protocols import SandboxBackend, SandboxProvider
from agentlab.sandbox.config import BackendConfig, DockerConfig, ProcessConfig, SandboxConfig

__all__ = [
    "PROVIDERS",
    "BackendConfig",
    "DockerConfig",
    "ProcessConfig",
    "SandboxConfig",
    "make_backend",
    "make_provider",
    "parse_config",
    "parse_option",
]

# config ``type`` -> "module:class"; the class is called with the validated config.
PROVIDERS: dict[str, str] = {
    "docker": "agentlab.sandbox.provider_docker:DockerProvider",
    "process": "agentlab.sandbox.provider_process:ProcessProvider",
}

_ADAPTER: TypeAdapter[DockerConfig | ProcessConfig] = TypeAdapter(SandboxConfig)


def parse_config(data: dict[str, Any]) -> DockerConfig | ProcessConfig:
    """Validate a provider config mapping (e.g. from YAML); errors name the bad key."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "type"
        known = " or ".join(repr(t) for t in PROVIDERS)
        raise ConfigError(f"sandbox config: {where}: {first['msg']} (type is {known})") from exc


def parse_option(text: str) -> DockerConfig | ProcessConfig:
    """``--sandbox TYPE[,key=value...]`` as a provider config (``process``, ``docker,...``)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ConfigError("--sandbox: give a provider type, e.g. --sandbox process")
    data: dict[str, Any] = {"type": parts[0]}
    for pair in parts[1:]:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--sandbox {text!r}: expected TYPE[,key=value...], e.g. process")
        data[key.strip()] = value.strip()
    return parse_config(data)


def make_provider(config: BaseModel | None = None) -> SandboxProvider:
    """The provider a config asks for; Docker when none is given."""
    config = config or DockerConfig()
    kind = str(getattr(config, "type", ""))
    target = PROVIDERS.get(kind)
    if target is None:
        raise ConfigError(
            f"sandbox.type {kind!r}: unknown provider (known: {', '.join(PROVIDERS)})"
        )
    module, _, attr = target.partition(":")
    provider: SandboxProvider = getattr(importlib.import_module(module), attr)(config)
    return provider


def make_backend(config: DockerConfig | ProcessConfig | None = None) -> SandboxBackend:
    """The backend a config asks for (its provider's); Docker when none is given."""
    return make_provider(config).backend()

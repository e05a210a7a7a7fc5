"""The executor seam: a registry from a name to an :class:`~agentlab.protocols.Executor`.

Adding an executor (e.g. Ray) is one module in this folder and one line in :data:`EXECUTORS`:
the module defines a class with ``name`` and ``run(items, handler, *, max_workers,
on_result)``, ``bound(env)`` and ``attempt(item, here)``; items and results are the plain
records in :mod:`agentlab.types`.
"""

from __future__ import annotations

import importlib

from agentlab.config import ExecutorConfig, LocalExecutorConfig
from agentlab.errors import ConfigError
from agentlab.protocols import Executor

# name -> "module:attribute" of a factory taking the executor's config (the class).
EXECUTORS: dict[str, str] = {
    "local": "agentlab.coordinator.executors.local:LocalExecutor",
    "ray": "agentlab.coordinator.executors.ray:RayExecutor",
}


def make_executor(config: ExecutorConfig | str = "local") -> Executor:
    """The executor a config (or a registered name) asks for; it gets its config."""
    spec = LocalExecutorConfig() if config == "local" else config
    name = spec if isinstance(spec, str) else spec.type
    target = EXECUTORS.get(name)
    if target is None:
        known = ", ".join(sorted(EXECUTORS))
        raise ConfigError(f"executor {name!r}: unknown (known: {known})")
    module, _, attr = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except ImportError as exc:  # an optional SDK (ray) not installed
        raise ConfigError(
            f"executor {name!r}: {exc.name or exc} is not installed; pip install 'agentlab[{name}]'"
        ) from exc
    executor: Executor = factory() if isinstance(spec, str) else factory(spec)
    return executor


__all__ = ["EXECUTORS", "make_executor"]

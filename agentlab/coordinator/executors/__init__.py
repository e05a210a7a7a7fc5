"""The executor seam: a registry from a name to an :class:`~agentlab.protocols.Executor`.

Adding an executor (e.g. Ray) is one module in this folder and one line in :data:`EXECUTORS`:
the module defines a class with ``name`` and ``run(items, handler, *, max_workers,
on_result)``; items and results are the plain records in :mod:`agentlab.types`.
"""

from __future__ import annotations

import importlib

from agentlab.errors import ConfigError
from agentlab.protocols import Executor

# name -> "module:attribute" of a zero-argument factory (usually the class).
EXECUTORS: dict[str, str] = {
    "local": "agentlab.coordinator.executors.local:LocalExecutor",
}


def make_executor(name: str = "local") -> Executor:
    """The executor registered as ``name``."""
    target = EXECUTORS.get(name)
    if target is None:
        known = ", ".join(sorted(EXECUTORS))
        raise ConfigError(f"executor {name!r}: unknown (known: {known})")
    module, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    executor: Executor = factory()
    return executor


__all__ = ["EXECUTORS", "make_executor"]

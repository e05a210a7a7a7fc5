"""The task-kind registry: ``dataset.kind`` name -> the module that implements it.

Adding a kind (say ``mbpp``) is one module here plus one line in :data:`KINDS`:

1. write ``agentlab/coordinator/kinds/mbpp.py`` with a class meeting
   :class:`~agentlab.coordinator.kinds.base.TaskKind` (``name``, ``claims``, ``problem_ids``,
   ``reference_rules``, ``open`` returning a :class:`~agentlab.coordinator.kinds.base.Pipeline`,
   ``own_test_signal``); format parsing and grading helpers that need no run may go in
   ``agentlab/tasks/`` and its data in ``agentlab/datasets/``;
2. add ``"mbpp": "agentlab.coordinator.kinds.mbpp:MBPPKind"`` below.

Nothing else names a kind: the engine, ``agentlab run`` and the scripted model go through
:func:`kind_for`.
"""

from __future__ import annotations

import importlib

from agentlab.config import DatasetConfig
from agentlab.coordinator.kinds.base import Pipeline, Stage, TaskKind
from agentlab.errors import ConfigError

# name -> "module:attribute" of a zero-argument factory (usually the class).
KINDS: dict[str, str] = {
    "swe": "agentlab.coordinator.kinds.swe:SWEKind",
    "humaneval": "agentlab.coordinator.kinds.humaneval:HumanEvalKind",
    "stdio": "agentlab.coordinator.kinds.stdio:StdioKind",
    "swe-agent": "agentlab.coordinator.kinds.swe_agent:SWEAgentKind",
    "external": "agentlab.coordinator.kinds.external:ExternalKind",
}


def get_kind(name: str) -> TaskKind:
    """The kind registered as ``name``."""
    target = KINDS.get(name)
    if target is None:
        known = ", ".join(sorted(KINDS))
        raise ConfigError(f"dataset.kind {name!r}: unknown task kind (known: {known})")
    module, _, attr = target.partition(":")
    kind: TaskKind = getattr(importlib.import_module(module), attr)()
    return kind


def kind_for(dataset: DatasetConfig) -> TaskKind:
    """``dataset.kind``, or the one kind that claims the dataset when none is given."""
    if dataset.kind is not None:
        return get_kind(dataset.kind)
    claimed = [kind for kind in map(get_kind, KINDS) if kind.claims(dataset)]
    if len(claimed) == 1:
        return claimed[0]
    names = ", ".join(k.name for k in claimed) or "none"
    raise ConfigError(
        f"dataset {dataset.name!r}: cannot infer its kind (claimed by: {names});"
        f" set dataset.kind to one of {', '.join(sorted(KINDS))}"
    )


__all__ = ["KINDS", "Pipeline", "Stage", "TaskKind", "get_kind", "kind_for"]

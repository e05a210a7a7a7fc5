"""Evaluation orchestration: grading a predictions file (``agentlab eval``), per task kind.

A kind that supports ``agentlab eval`` registers its entry here (kind name ->
"module:function"); the function takes an :class:`~.base.EvalRequest`, a sandbox provider, an
eval store and an :class:`~.base.EvalProgress`, and returns an :class:`~.base.EvalOutcome`.
A run's own grading goes through the kind's ``Pipeline.grade`` instead; both store rows built
by :func:`.records.evaluation_record`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Coroutine
from typing import Any

from agentlab.coordinator.evaluation.base import (
    EvalOutcome,
    EvalProgress,
    EvalRequest,
    NoEvalProgress,
)
from agentlab.errors import ConfigError
from agentlab.protocols import SandboxProvider
from agentlab.store.eval_store import EvalStore

Evaluate = Callable[
    [EvalRequest, SandboxProvider, EvalStore, EvalProgress], Coroutine[Any, Any, EvalOutcome]
]

EVALUATORS: dict[str, str] = {
    "swe": "agentlab.coordinator.evaluation.swe:evaluate_swe",
    "humaneval": "agentlab.coordinator.evaluation.humaneval:evaluate_humaneval",
    "stdio": "agentlab.coordinator.evaluation.stdio:evaluate_stdio",
}


def evaluator(kind: str) -> Evaluate:
    """The evaluation entry of task kind ``kind``."""
    target = EVALUATORS.get(kind)
    if target is None:
        known = ", ".join(sorted(EVALUATORS))
        raise ConfigError(f"--kind {kind!r}: no evaluation for this task kind (have: {known})")
    module, _, attr = target.partition(":")
    fn: Evaluate = getattr(importlib.import_module(module), attr)
    return fn


__all__ = [
    "EVALUATORS",
    "EvalOutcome",
    "EvalProgress",
    "EvalRequest",
    "NoEvalProgress",
    "evaluator",
]

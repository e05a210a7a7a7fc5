"""What every kind's evaluation (``agentlab eval``) takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agentlab.tasks.harness import EvalConfig


@dataclass(frozen=True)
class EvalRequest:
    """One ``agentlab eval`` invocation, parsed."""

    dataset: str
    predictions: str  # a file, or the kind's reference answers (``gold`` / ``canonical``)
    config: EvalConfig
    split: str = "test"  # of a Hugging Face dataset (local files have one)
    max_workers: int = 4
    instance_ids: tuple[str, ...] = ()
    report_dir: Path = Path(".")
    rewrite_reports: bool = False
    offline: bool = False
    cache_level: str = "env"
    clean: bool = False


class EvalProgress(Protocol):
    """How far the grading is (a progress bar, or nothing)."""

    def begin(self, total: int) -> None: ...

    def advance(self, resolved: bool, error: bool) -> None: ...


class NoEvalProgress:
    """An :class:`EvalProgress` that shows nothing."""

    def begin(self, total: int) -> None:
        return None

    def advance(self, resolved: bool, error: bool) -> None:
        return None


@dataclass
class EvalOutcome:
    """What to tell the user: ``notes`` for the console (rich markup), ``lines`` for stdout."""

    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

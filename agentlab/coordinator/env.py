"""What every pipeline of a run shares: ids, config, store, models, sandboxes, progress.

Also the one definition of an *infrastructure* failure (retried, never a model's fault) and
the helpers that turn state-machine steps into stored turns and back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pydantic import BaseModel

from agentlab.config import ExperimentConfig
from agentlab.coordinator.models import Models
from agentlab.coordinator.sandboxes import SandboxPool
from agentlab.errors import MalformedResponseError, RetryableLLMError, SandboxError, StoreError
from agentlab.protocols import SandboxProvider
from agentlab.sandbox import make_provider
from agentlab.store.run_store import RunState, RunStore

INFRA_ERRORS: tuple[type[Exception], ...] = (
    SandboxError,
    RetryableLLMError,
    MalformedResponseError,
    StoreError,
)

M = TypeVar("M", bound=BaseModel)


class Progress(Protocol):
    """What the pipelines report as they go (a rich display, or nothing)."""

    def begin(self, totals: dict[str, int]) -> None: ...

    def advance(self, stage: str, n: int = 1) -> None: ...

    def note(self, text: str) -> None: ...


class NoProgress:
    """A :class:`Progress` that shows nothing."""

    def begin(self, totals: dict[str, int]) -> None:
        return None

    def advance(self, stage: str, n: int = 1) -> None:
        return None

    def note(self, text: str) -> None:
        return None


@dataclass
class RunEnv:
    """The shared pieces of one run."""

    run_id: str
    config: ExperimentConfig
    store: RunStore
    models: Models
    pool: SandboxPool
    state: RunState
    progress: Progress = field(default_factory=NoProgress)
    provider: SandboxProvider | None = None  # image preparation (None: the config's)

    def sandbox_provider(self) -> SandboxProvider:
        """The run's sandbox provider (the config's ``sandbox:`` when none was given)."""
        if self.provider is None:
            self.provider = make_provider(self.config.sandbox)
        return self.provider

    def steps(self, task_id: str, sample: int, stage: str, record: type[M]) -> list[M]:
        """The stored steps of one stage, parsed back into their records."""
        return [record.model_validate_json(raw) for raw in self.state.steps(task_id, sample, stage)]

    def saver(
        self, task_id: str, sample: int, stage: str, action: Callable[[M], str]
    ) -> Callable[[M], Awaitable[None]]:
        """An ``on_step`` hook that stores each finished step as a turn row."""

        async def save(step: M) -> None:
            number = int(getattr(step, "step", 0))
            await self.save_turn(
                task_id, sample, stage, number, action(step), step.model_dump_json()
            )

        return save

    async def save_turn(
        self, task_id: str, sample: int, stage: str, step: int, action: str, record: str
    ) -> None:
        """Store a finished step, and remember it so a retry in this run resumes after it."""
        await self.store.save_turn(self.run_id, task_id, sample, stage, step, action, record)
        self.state.turns.setdefault((task_id, sample, stage), []).append(record)


def describe(exc: BaseException) -> str:
    """One line naming an error's type and message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:2000] if text else type(exc).__name__


def first_leaf(error: BaseException) -> BaseException:
    """The first non-group exception inside (possibly nested) exception groups."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error

"""The ``TaskKind`` seam: what the run engine needs from one kind of benchmark.

A kind (SWE-style repositories, HumanEval functions, stdin/stdout programs, ...) is a small
object registered by name in :mod:`agentlab.coordinator.kinds`. The engine never asks which
kind it runs: it loads problems, opens a per-run :class:`Pipeline`, fans its (problem,
sample) items out, stores each :class:`~agentlab.types.Candidate`, grades it, and asks the
kind for the candidate's own-test signal when the adaptive policy allocates samples.

Contract a kind must keep (the engine relies on it for resume and accounting):

- every model call goes through ``env.models.chat(role, CallContext(...))`` and every sandbox
  through ``env.pool.open(spec, task_id)`` (so spend, limits and the exec log hold);
- every finished step is stored with ``env.save_turn`` / ``env.saver`` before the next one
  starts, and ``trajectory`` first reads back stored steps (``env.steps``) so a resumed
  sample continues where it stopped instead of paying again;
- ``grade`` is deterministic for a given candidate, raises an ``INFRA_ERRORS`` member
  (e.g. :class:`~agentlab.errors.SandboxError`) on infrastructure trouble (retried), and
  stores an evaluation row built by
  :func:`agentlab.coordinator.evaluation.records.evaluation_record`, so budget fits read
  the run like any other;
- nothing in the kind compares a dataset name or a stage name owned by another kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from agentlab.config import DatasetConfig, SelectionSection
from agentlab.llm.scripted import Rule
from agentlab.scoring.selectors import Selector
from agentlab.store.run_store import RunState
from agentlab.types import Candidate

if TYPE_CHECKING:  # the run environment imports models and sandboxes; only its type here
    from agentlab.coordinator.env import RunEnv


@dataclass(frozen=True)
class Stage:
    """A progress stage of a kind's trajectories.

    ``per_problem`` stages (a shared context step) advance once per problem; the others once
    per (problem, sample). The engine adds its own ``grading`` stage after the kind's.
    """

    name: str
    per_problem: bool = False


class Pipeline(Protocol):
    """One kind, opened for one run: its problems, trajectories and grading."""

    @property
    def dataset_name(self) -> str:
        """The dataset's name as stored with each problem row."""
        ...

    def task_ids(self) -> list[str]:
        """The run's problems, in order (the config's filters applied)."""
        ...

    def stages(self) -> Sequence[Stage]:
        """The trajectory's progress stages, in order (grading excluded)."""
        ...

    async def trajectory(self, task_id: str, sample: int) -> Candidate:
        """Run (or resume) one sample to its candidate; steps are stored as they finish."""
        ...

    async def grade(self, candidate: Candidate) -> bool:
        """Resolved under the hidden tests? Records the evaluation row."""
        ...

    async def aclose(self) -> None:
        """Release what the pipeline holds across samples (warm graders, ...)."""
        ...


class TaskKind(Protocol):
    """One kind of benchmark, registered by name; ``dataset.kind`` chooses it."""

    name: str

    def claims(self, dataset: DatasetConfig) -> bool:
        """Whether this kind can load ``dataset`` (used when ``dataset.kind`` is not given)."""
        ...

    def problem_ids(self, dataset: DatasetConfig) -> list[str]:
        """Load the dataset and return the chosen problem ids (ConfigError if none/unknown)."""
        ...

    def reference_rules(self, dataset: DatasetConfig) -> Sequence[Rule]:
        """What the in-process scripted model answers: each problem's reference solution."""
        ...

    def open(self, env: RunEnv) -> Pipeline:
        """The per-run pipeline (cheap: heavy setup happens lazily inside it)."""
        ...

    def own_test_signal(self, state: RunState, task_id: str, sample: int) -> bool:
        """Before hidden grading: did the sample's own test say its candidate works?

        The adaptive policy counts, per problem, the largest group of signalled samples that
        share one ``patch_sha``. Read only stored steps (``state.steps(...)``): the answer
        must be the same on resume.
        """
        ...


@runtime_checkable
class SelectsCandidates(Protocol):
    """Optional: a kind that can pick one candidate per problem after the run.

    ``agentlab run`` with ``selection.enabled`` calls it once every sample is graded; it
    stores one ``selection`` row per (problem, method), so ``agentlab report RUN`` shows
    the selected score beside coverage and the random pick. A kind without it refuses
    ``selection.enabled`` before the run starts.
    """

    async def select(
        self, env: RunEnv, section: SelectionSection, selectors: Sequence[Selector]
    ) -> None: ...


@runtime_checkable
class SelectionAsksModels(Protocol):
    """Optional, beside :class:`SelectsCandidates`: a kind whose matrix stage itself calls a
    model (stdin/stdout: the generated inputs), so a re-selection must open the run's models."""

    def selection_asks_models(self, section: SelectionSection) -> bool: ...

"""The selector seam: a small protocol and a registry from a method name to a selector.

Selection of one problem runs in two layers. The vote matrix (generated tests x candidates,
:mod:`agentlab.scoring.votes`) always runs first and narrows the candidates to the top m in
vote order; then each configured selector picks one of those. The experiment YAML's
``selection:`` section lists the methods (``methods: [vote, judge, tournament, trajectory]``)
and which pick counts (``final``); each method's config has a ``type`` discriminator and
names the model role it uses (``models.verifier`` / ``models.selection``).

Adding a selection method (say ``majority``): a class with ``name`` and
``async pick(problem) -> Pick | None`` taking ``(config, roles)``, its config class here with
``type: Literal["majority"]`` in :data:`SelectorConfig`, and one line in :data:`SELECTORS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agentlab.errors import ConfigError
from agentlab.scoring import verifiers
from agentlab.scoring.llm import ModelRole
from agentlab.scoring.selector import Option, RunTest, SelectionStep, select
from agentlab.scoring.verifiers import Verdict


@dataclass(frozen=True)
class SelectionInput:
    """One problem as a selector sees it: the top candidates in vote order."""

    task_id: str
    problem: str
    options: Sequence[Option]  # options[0] has the most votes: every method's fallback
    run_test: RunTest | None = None  # runs a script on every option; None without sandboxes


@dataclass(frozen=True)
class Pick:
    """A selector's choice, with what the store keeps about how it was made."""

    method: str
    candidate_id: int
    reason: str = ""
    fallback: bool = False
    model: str = ""
    verdicts: tuple[Verdict, ...] = ()
    steps: tuple[SelectionStep, ...] = ()


class Selector(Protocol):
    """Picks one candidate of a problem; None when the method does not apply (one option)."""

    name: str

    async def pick(self, problem: SelectionInput) -> Pick | None: ...


# --------------------------------------------------------------------------- configs


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VoteConfig(_Config):
    """The candidate the most valid generated tests pass (ties: fewer failures, then first)."""

    type: Literal["vote"] = "vote"


class JudgeConfig(_Config):
    """A pointwise verifier: a 0-10 score per candidate, or P(YES) with ``logprobs``."""

    type: Literal["judge"] = "judge"
    role: Literal["verifier", "selection"] = "verifier"
    logprobs: bool = Field(False, description="Score by first-token log-probabilities.")


class TournamentConfig(_Config):
    """A pairwise verifier: round robin over the top m, most wins."""

    type: Literal["tournament"] = "tournament"
    role: Literal["verifier", "selection"] = "verifier"


class TrajectoryConfig(_Config):
    """The selection state machine: the model writes tests to tell candidates apart, then picks."""

    type: Literal["trajectory"] = "trajectory"
    role: Literal["verifier", "selection"] = "selection"
    max_tests: int = Field(2, ge=0, description="Tests the model may run before it must pick.")


class DualConfig(_Config):
    """CodeT's dual agreement over tests the model writes (function and stdin/stdout kinds)."""

    type: Literal["dual"] = "dual"
    role: Literal["verifier", "selection"] = "selection"
    tests: int = Field(5, ge=1, description="Test scripts the model writes for the problem.")
    cluster_outputs: bool = Field(
        True, description="Also split consensus sets by what the tests printed per candidate."
    )


SelectorConfig = Annotated[
    VoteConfig | JudgeConfig | TournamentConfig | TrajectoryConfig | DualConfig,
    Field(discriminator="type"),
]


# ------------------------------------------------------------------------- selectors


class VoteSelector:
    name = "vote"

    def __init__(self, config: VoteConfig, roles: Mapping[str, ModelRole]) -> None:
        self.config = config

    async def pick(self, problem: SelectionInput) -> Pick | None:
        return Pick("vote", problem.options[0].candidate_id, reason="most votes")


def _role(roles: Mapping[str, ModelRole], name: str, method: str) -> ModelRole:
    role = roles.get(name)
    if role is None:
        raise ConfigError(f"selection method {method!r} needs models.{name} (or models.default)")
    return role


class JudgeSelector:
    def __init__(self, config: JudgeConfig, roles: Mapping[str, ModelRole]) -> None:
        self.config = config
        self.name = "logprob" if config.logprobs else "judge"
        self.role = _role(roles, config.role, self.name)

    async def pick(self, problem: SelectionInput) -> Pick | None:
        fn = verifiers.judge_logprob if self.config.logprobs else verifiers.judge
        rows = [
            await fn(
                self.role,
                task_id=problem.task_id,
                problem=problem.problem,
                candidate_id=o.candidate_id,
                patch=o.patch,
            )
            for o in problem.options
        ]
        order = [o.candidate_id for o in problem.options]
        best = verifiers.best(rows, order)
        return Pick(self.name, best, "top score", model=self.role.model, verdicts=tuple(rows))


class TournamentSelector:
    name = "tournament"

    def __init__(self, config: TournamentConfig, roles: Mapping[str, ModelRole]) -> None:
        self.role = _role(roles, config.role, self.name)

    async def pick(self, problem: SelectionInput) -> Pick | None:
        if len(problem.options) < 2:
            return None
        entrants = [(o.candidate_id, o.patch) for o in problem.options]
        rows = await verifiers.tournament(
            self.role, task_id=problem.task_id, problem=problem.problem, entrants=entrants
        )
        best = verifiers.best(rows, [c for c, _ in entrants])
        return Pick(self.name, best, "most wins", model=self.role.model, verdicts=tuple(rows))


class TrajectorySelector:
    name = "trajectory"

    def __init__(self, config: TrajectoryConfig, roles: Mapping[str, ModelRole]) -> None:
        self.config = config
        self.role = _role(roles, config.role, self.name)

    async def pick(self, problem: SelectionInput) -> Pick | None:
        if problem.run_test is None:
            return None
        outcome = await select(
            self.role,
            task_id=problem.task_id,
            problem=problem.problem,
            options=problem.options,
            run_test=problem.run_test,
            max_tests=self.config.max_tests,
        )
        return Pick(
            self.name,
            outcome.candidate_id,
            outcome.reason,
            fallback=outcome.fallback,
            model=self.role.model,
            steps=tuple(outcome.steps),
        )


# ---------------------------------------------------------------------------- registry

# config ``type`` -> "module:class"; the class is called with (config, roles).
SELECTORS: dict[str, str] = {
    "vote": "agentlab.scoring.selectors:VoteSelector",
    "judge": "agentlab.scoring.selectors:JudgeSelector",
    "tournament": "agentlab.scoring.selectors:TournamentSelector",
    "trajectory": "agentlab.scoring.selectors:TrajectorySelector",
    "dual": "agentlab.scoring.dual:DualAgreementSelector",
}


def make_selector(config: BaseModel, roles: Mapping[str, ModelRole]) -> Selector:
    """The selector for one ``selection.methods`` entry, wired to its model role."""
    kind = str(getattr(config, "type", ""))
    target = SELECTORS.get(kind)
    if target is None:
        raise ConfigError(f"selection method {kind!r}: unknown (known: {', '.join(SELECTORS)})")
    module, _, attr = target.partition(":")
    selector: Selector = getattr(importlib.import_module(module), attr)(config, roles)
    return selector


__all__ = [
    "SELECTORS",
    "DualConfig",
    "JudgeConfig",
    "Pick",
    "SelectionInput",
    "Selector",
    "SelectorConfig",
    "TournamentConfig",
    "TrajectoryConfig",
    "VoteConfig",
    "make_selector",
]

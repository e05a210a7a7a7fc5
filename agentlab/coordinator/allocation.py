"""What the allocation policy sees of a run, and the per-problem dollar cap.

The adaptive policy (:class:`agentlab.budget.AdaptivePolicy`) is pure: a decision from an
:class:`~agentlab.budget.AllocationState`. This module builds that state from what the store
holds, and turns a policy decision into a round of (problem, sample) items, again as a pure
function of a :class:`RoundState` so a resumed run can replay every stored round and check it
gets the stored answer.

The per-sample signal available during a run (before hidden-test grading) is the trajectory's
own test, as the task kind reads it (``TaskKind.own_test_signal``). A problem's agreement
count is the largest number of signalled samples sharing one normalised diff.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from agentlab.budget import AdaptivePolicy, AllocationState, BetaPrior, PriorPosterior
from agentlab.config import AdaptivePolicyConfig, ExperimentConfig
from agentlab.coordinator.env import RunEnv
from agentlab.errors import ConfigError
from agentlab.store.budget_queries import read_run_outcomes
from agentlab.store.db import Store
from agentlab.store.run_store import RunState

FREE_SAMPLE_USD = 1e-6  # a free sample still counts this much, so gain per dollar stays finite


Signal = Callable[[RunState, str, int], bool]  # a task kind's own_test_signal


def agreement(state: RunState, task_id: str, samples: Sequence[int], signal: Signal) -> int:
    """The most finished samples of a problem that share one signalled, normalised diff.

    ``patch_sha`` is the normalised one (:func:`agentlab.scoring.diffs.patch_sha`): diffs
    differing only in whitespace or hunk offsets count as one.
    """
    shas = Counter(
        state.candidates[(task_id, s)].patch_sha
        for s in samples
        if _has_patch(state, task_id, s) and signal(state, task_id, s)
    )
    return max(shas.values(), default=0)


def _has_patch(state: RunState, task_id: str, sample: int) -> bool:
    cand = state.candidates.get((task_id, sample))
    return cand is not None and bool(cand.patch_sha)


@dataclass(frozen=True)
class RoundState:
    """Everything one round's decision depends on, per problem in task order (JSON-able)."""

    tasks: tuple[str, ...]
    samples: tuple[int, ...]  # finished samples
    verified: tuple[int, ...]  # agreement count
    spent: tuple[float, ...]  # dollars, context stage included
    stopped: tuple[bool, ...]
    next_sample: tuple[int, ...]  # index the problem's next sample gets
    cap_usd: float | None
    per_task_usd: float | None
    reserve_usd: float  # worst-case dollars of one sample

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RoundState:
        data: dict[str, Any] = json.loads(text)
        lists = ("tasks", "samples", "verified", "spent", "stopped", "next_sample")
        return cls(**{**data, **{key: tuple(data[key]) for key in lists}})

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def allocation(self) -> AllocationState:
        """The policy's view: only open problems' counts matter to it."""
        samples = np.asarray(self.samples, dtype=np.int64)
        spent = np.maximum(np.asarray(self.spent, dtype=np.float64), samples * FREE_SAMPLE_USD)
        return AllocationState(
            samples=samples,
            verified=np.asarray(self.verified, dtype=np.int64),
            spent=spent,
            stopped=np.asarray(self.stopped, dtype=bool),
            cap_usd=float("inf") if self.cap_usd is None else self.cap_usd,
            max_sample_usd=max(self.reserve_usd, FREE_SAMPLE_USD),
        )


@dataclass(frozen=True)
class Round:
    """One round: the items to run, the problems stopped (with why), and whether it is over."""

    items: tuple[tuple[str, int], ...]
    stops: dict[str, str]
    stop_all: bool

    def items_json(self) -> str:
        return json.dumps([list(i) for i in self.items])

    def stops_json(self) -> str:
        return json.dumps(self.stops, sort_keys=True)


def build_policy(config: AdaptivePolicyConfig, k: int, prior: BetaPrior) -> AdaptivePolicy:
    """The configured policy; ``k`` is the most samples any problem gets."""
    return AdaptivePolicy(
        prior,
        sample_usd=config.sample_usd,
        threshold=config.threshold,
        false_positive=config.false_positive,
        false_negative=config.false_negative,
        min_agreement=config.min_agreement,
        max_samples=k,
    )


async def load_prior(store: Store, config: AdaptivePolicyConfig) -> BetaPrior:
    """The configured prior, or one fitted to the pilot run's graded samples."""
    if config.pilot_run is None:
        p = config.prior
        return BetaPrior.single(p.zero_mass, p.alpha, p.beta)
    try:
        pilot = await asyncio.to_thread(read_run_outcomes, store, config.pilot_run)
    except ConfigError as exc:
        raise ConfigError(f"budget.policy.pilot_run: {exc}") from exc
    n = np.full(len(pilot.instance_ids), pilot.samples)
    c = np.array([sum(row) for row in pilot.resolved])
    return await asyncio.to_thread(lambda: PriorPosterior(n, c).map_prior())


def decide_round(policy: AdaptivePolicy, state: RoundState) -> Round:
    """The round ``state`` leads to: the policy's choice, minus problems at their dollar cap."""
    decision = policy.decide(state.allocation())
    stops = {state.tasks[i]: stop_reason(policy, state, i) for i in decision.stop}
    items: list[tuple[str, int]] = []
    for i in decision.sample:
        task = state.tasks[i]
        capped = cap_reason(state.spent[i], state.reserve_usd, state.per_task_usd)
        if capped is not None:
            stops[task] = capped
        elif state.next_sample[i] < policy.max_samples:
            items.append((task, state.next_sample[i]))
    # A round is a set of items run side by side; a canonical order keeps the stored decision
    # independent of how the policy ranked near-equal problems.
    return Round(tuple(sorted(items)), stops, decision.stop_all or not items)


def stop_reason(policy: AdaptivePolicy, state: RoundState, i: int) -> str:
    """Why the policy stopped problem ``i`` (its rules, in the order it applies them)."""
    if state.verified[i] >= policy.min_agreement:
        return f"agreement: {state.verified[i]} samples share a diff that passes its own test"
    if state.samples[i] >= policy.max_samples:
        return f"max samples: {state.samples[i]} done"
    alloc = state.allocation()
    failures = min(state.samples[i] - state.verified[i], policy.max_samples)
    cost = alloc.spent[i] / state.samples[i] if state.samples[i] else policy.sample_usd
    ratio = policy.gains[failures] / cost
    return f"gain per dollar {ratio:.4g} below threshold {policy.threshold:g}"


def cap_reason(spent: float, reserve: float, cap: float | None) -> str | None:
    """Why a problem may not start another sample under ``budget.per_task_usd``, or None."""
    if cap is None or spent + reserve <= cap:
        return None
    return (
        f"per_task_usd: spent ${spent:.4f} + one sample's reservation ${reserve:.4f}"
        f" would pass the problem's cap ${cap:.4f}"
    )


def reserve_usd(config: ExperimentConfig, sample_costs: Mapping[tuple[str, int], float]) -> float:
    """Worst-case dollars of one sample: configured, else the costliest finished one so far."""
    if config.budget.sample_reserve_usd is not None:
        return config.budget.sample_reserve_usd
    return max(sample_costs.values(), default=0.0)


class TaskCaps:
    """``budget.per_task_usd`` for samples that start concurrently (the uniform fan-out).

    Each starting sample holds a reservation against its problem's cap; when it ends the hold
    is released and the problem's spend re-read from the stored LLM calls.
    """

    def __init__(self, env: RunEnv, cap: float, spend: Mapping[tuple[str, int], float]) -> None:
        self.env, self.cap = env, cap
        self.held: defaultdict[str, float] = defaultdict(float)
        self._absorb(spend)

    def _absorb(self, spend: Mapping[tuple[str, int], float]) -> None:
        self.spent: defaultdict[str, float] = defaultdict(float)
        for (task, _), usd in spend.items():
            self.spent[task] += usd
        finished = {key: usd for key, usd in spend.items() if key[1] >= 0 and self._done(key)}
        self.reserve = reserve_usd(self.env.config, finished)

    def _done(self, key: tuple[str, int]) -> bool:
        traj = self.env.state.trajectories.get(key)
        return traj is not None and traj.status == "done"

    def hold(self, task_id: str) -> tuple[float, str | None]:
        """Reserve one sample's worst case, or say why the problem is capped."""
        reason = cap_reason(self.spent[task_id] + self.held[task_id], self.reserve, self.cap)
        if reason is not None:
            return 0.0, reason
        self.held[task_id] += self.reserve
        return self.reserve, None

    async def release(self, task_id: str, amount: float) -> None:
        self.held[task_id] -= amount
        self._absorb(await self.env.store.spend_by_sample(self.env.run_id))

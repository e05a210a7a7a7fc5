"""The adaptive run: samples in rounds, the allocation policy deciding between them.

Each round the state is rebuilt from the store (finished samples, their own-test signal and
agreement, dollars per problem), the policy decides, the decision is stored in
``policy_decision``, and only the chosen (problem, sample) items run. On ``--resume`` every
stored round is replayed through the policy and must give the stored answer (a changed config
or pilot prior is refused, not silently re-decided); the unfinished items of stored rounds run
first, and only then does the next round get decided, from the same state an uninterrupted
run would have had.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

from agentlab.budget import AdaptivePolicy
from agentlab.config import AdaptivePolicyConfig
from agentlab.coordinator.allocation import (
    Round,
    RoundState,
    Signal,
    agreement,
    build_policy,
    decide_round,
    load_prior,
    reserve_usd,
)
from agentlab.coordinator.env import RunEnv
from agentlab.errors import ConfigError
from agentlab.store.run_tables import PolicyDecision

Item = tuple[str, int]
RunItems = Callable[[list[Item]], Awaitable[None]]
Finished = Callable[[str, int], bool]


class Rounds:
    """Scheduled samples and stops of one adaptive run, as the stored decisions say."""

    def __init__(
        self, env: RunEnv, tasks: Sequence[str], policy: AdaptivePolicy, signal: Signal
    ) -> None:
        self.env, self.tasks, self.policy, self.signal = env, tuple(tasks), policy, signal
        self.scheduled: dict[str, list[int]] = defaultdict(list)
        self.stops: dict[str, str] = {}
        self.count = 0
        self.over = False

    def take(self, row: PolicyDecision) -> None:
        """Add one stored round."""
        for task, sample in json.loads(row.items_json):
            self.scheduled[task].append(int(sample))
        self.stops.update(json.loads(row.stops_json))
        self.count, self.over = row.round + 1, row.stop_all

    def state(self, finished: Finished, spend: dict[Item, float]) -> RoundState:
        """The state the next decision sees, from the store."""
        config = self.env.config
        done = {t: [s for s in self.scheduled[t] if finished(t, s)] for t in self.tasks}
        costs = {key: usd for key, usd in spend.items() if key[1] >= 0 and finished(*key)}
        return RoundState(
            tasks=self.tasks,
            samples=tuple(len(done[t]) for t in self.tasks),
            verified=tuple(agreement(self.env.state, t, done[t], self.signal) for t in self.tasks),
            spent=tuple(
                round(sum(u for (t2, _), u in spend.items() if t2 == t), 9) for t in self.tasks
            ),
            stopped=tuple(t in self.stops for t in self.tasks),
            next_sample=tuple(max(self.scheduled[t], default=-1) + 1 for t in self.tasks),
            cap_usd=config.budget.cap_usd,
            per_task_usd=config.budget.per_task_usd,
            reserve_usd=round(reserve_usd(config, costs), 9),
        )

    async def record(self, state: RoundState, decided: Round) -> None:
        row = PolicyDecision(
            run_id=self.env.run_id,
            round=self.count,
            policy=self.policy.name,
            digest=state.digest(),
            state_json=state.to_json(),
            items_json=decided.items_json(),
            stops_json=decided.stops_json(),
            stop_all=decided.stop_all,
        )
        await self.env.store.save_decision(row)
        self.take(row)


def check_round(policy: AdaptivePolicy, row: PolicyDecision, run_id: str) -> None:
    """The policy, replayed on a stored round's state, must give the stored decision."""
    state = RoundState.from_json(row.state_json)
    if state.digest() != row.digest:
        raise ConfigError(
            f"run {run_id}: round {row.round}: the stored state does not match its digest"
        )
    again = decide_round(policy, state)
    stored = (json.loads(row.items_json), json.loads(row.stops_json), row.stop_all)
    if (json.loads(again.items_json()), again.stops, again.stop_all) != stored:
        raise ConfigError(
            f"run {run_id}: round {row.round} decides differently now than when it ran"
            " (budget.policy, sampling.k or the pilot run changed); start a new run"
        )


async def run_rounds(
    env: RunEnv,
    tasks: Sequence[str],
    config: AdaptivePolicyConfig,
    finished: Finished,
    run_items: RunItems,
    signal: Signal,
) -> dict[str, str]:
    """Run rounds until the policy stops everything; returns the stopped problems and why."""
    policy = build_policy(config, env.config.sampling.k, await load_prior(env.store.store, config))
    rounds = Rounds(env, tasks, policy, signal)
    for row in await env.store.decisions(env.run_id):
        check_round(policy, row, env.run_id)
        rounds.take(row)
    pending = [(t, s) for t in tasks for s in rounds.scheduled[t] if not finished(t, s)]
    if pending:  # a round a kill (or an infrastructure error) left unfinished
        await run_items(pending)
    while not rounds.over:
        spend = await env.store.spend_by_sample(env.run_id)
        state = rounds.state(finished, spend)
        decided = decide_round(policy, state)
        await rounds.record(state, decided)
        if decided.items:
            await run_items(list(decided.items))
    return rounds.stops

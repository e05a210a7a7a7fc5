"""The pure half of adaptive allocation: a round from a stored state, replay checks, caps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentlab.agent.records import EditingStep
from agentlab.budget import BetaPrior
from agentlab.config import AdaptivePolicyConfig, parse_experiment
from agentlab.coordinator.allocation import (
    RoundState,
    agreement,
    build_policy,
    cap_reason,
    decide_round,
    load_prior,
)
from agentlab.coordinator.kinds.swe import SWEKind
from agentlab.coordinator.rounds import check_round
from agentlab.errors import ConfigError
from agentlab.scoring.diffs import patch_sha
from agentlab.store import open_store
from agentlab.store.run_store import RunState
from agentlab.store.run_tables import PolicyDecision
from agentlab.store.tables import Evaluation, Run
from agentlab.types import Candidate, ExecResult

PRIOR = BetaPrior.single(0.25, 0.5, 0.6)


def _state(**changes: object) -> RoundState:
    base: dict[str, object] = {
        "tasks": ("a", "b", "c"),
        "samples": (2, 1, 0),
        "verified": (2, 0, 0),
        "spent": (0.02, 0.01, 0.0),
        "stopped": (False, False, False),
        "next_sample": (2, 1, 0),
        "cap_usd": None,
        "per_task_usd": None,
        "reserve_usd": 0.01,
    }
    base.update(changes)
    return RoundState(**base)  # type: ignore[arg-type]


def _row(state: RoundState, policy_config: AdaptivePolicyConfig, k: int = 4) -> PolicyDecision:
    decided = decide_round(build_policy(policy_config, k, PRIOR), state)
    return PolicyDecision(
        run_id="r",
        round=0,
        digest=state.digest(),
        state_json=state.to_json(),
        items_json=decided.items_json(),
        stops_json=decided.stops_json(),
        stop_all=decided.stop_all,
    )


def test_agreement_stops_a_problem_and_the_others_get_their_next_sample() -> None:
    policy = build_policy(AdaptivePolicyConfig(min_agreement=2), 4, PRIOR)
    decided = decide_round(policy, _state())
    assert set(decided.items) == {("b", 1), ("c", 0)}
    assert decided.stops["a"].startswith("agreement: 2 samples")
    assert not decided.stop_all


def test_a_problem_at_its_dollar_cap_gets_no_sample_and_says_why() -> None:
    policy = build_policy(AdaptivePolicyConfig(min_agreement=2), 4, PRIOR)
    decided = decide_round(policy, _state(per_task_usd=0.015))
    assert ("b", 1) not in decided.items and ("c", 0) in decided.items
    assert decided.stops["b"].startswith("per_task_usd: spent $0.0100")
    assert cap_reason(0.01, 0.005, 0.015) is None  # exactly at the cap still starts


def test_the_hard_cap_leaves_room_for_whole_samples_only() -> None:
    policy = build_policy(AdaptivePolicyConfig(min_agreement=2), 4, PRIOR)
    decided = decide_round(policy, _state(cap_usd=0.035))  # 0.03 spent, one 0.01 sample: none
    assert decided.items == () and decided.stop_all


def test_a_state_round_trips_through_json_with_the_same_digest() -> None:
    state = _state(cap_usd=1.5)
    again = RoundState.from_json(state.to_json())
    assert again == state and again.digest() == state.digest()


def test_replay_accepts_the_same_policy_and_refuses_a_changed_one() -> None:
    row = _row(_state(), AdaptivePolicyConfig(min_agreement=2))
    check_round(build_policy(AdaptivePolicyConfig(min_agreement=2), 4, PRIOR), row, "r")
    with pytest.raises(ConfigError, match="round 0 decides differently"):
        check_round(build_policy(AdaptivePolicyConfig(min_agreement=3), 4, PRIOR), row, "r")
    row.state_json = _state(spent=(0.5, 0.01, 0.0)).to_json()
    with pytest.raises(ConfigError, match="digest"):
        check_round(build_policy(AdaptivePolicyConfig(min_agreement=2), 4, PRIOR), row, "r")


def test_policy_config_is_uniform_by_default_and_rejects_unknown_keys() -> None:
    head = "run_name: x\ndataset: {name: agentlab-mini}\nmodels: {default: {endpoint: s}}\n"
    assert parse_experiment(head).budget.policy.type == "uniform"
    adaptive = parse_experiment(head + "budget: {policy: {type: adaptive, threshold: 3}}\n")
    assert isinstance(adaptive.budget.policy, AdaptivePolicyConfig)
    with pytest.raises(ConfigError, match=r":4: budget\.policy.*unknown key"):
        parse_experiment(head + "budget: {policy: {type: adaptive, agreement: 3}}\n")
    with pytest.raises(ConfigError, match=r"budget\.policy: Input tag 'greedy'"):
        parse_experiment(head + "budget: {policy: {type: greedy}}\n")


async def test_the_prior_comes_from_a_pilot_run_or_says_which_run_is_missing(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/pilot.db")
    try:
        # Six problems x four samples: two never solved, the rest half the time.
        solved = [0, 0, 2, 2, 2, 2]
        store.call(lambda s: s.add(Run(id="pilot", kind="run")))
        rows: list[Any] = []
        for i, c in enumerate(solved):
            for sample in range(4):
                rows.append(
                    Evaluation(
                        run_id="pilot",
                        instance_id=f"p{i}",
                        sample=sample,
                        outcome="resolved" if sample < c else "unresolved",
                        resolved=sample < c,
                    )
                )
        store.call(lambda s: s.add_all(rows))
        prior = await load_prior(store, AdaptivePolicyConfig(pilot_run="pilot"))
        assert 0.0 < prior.zero_mass < 0.9 and 0.1 < prior.pass_at_1 < 0.6
        with pytest.raises(ConfigError, match=r"budget\.policy\.pilot_run: run 'nope'"):
            await load_prior(store, AdaptivePolicyConfig(pilot_run="nope"))
    finally:
        store.close()


def _signalled(state: RunState, task: str, sample: int, diff: str) -> None:
    """A sample whose own test failed on the original code and passed on ``diff``."""
    step = EditingStep(
        step=0,
        messages=(),
        action="APPROVE",
        diff=diff,
        original=ExecResult(exit_code=1),
        patched=ExecResult(exit_code=0),
    )
    state.turns[(task, sample, "editing")] = [step.model_dump_json()]
    candidate = Candidate(task_id=task, sample=sample, patch=diff, patch_sha=patch_sha(diff))
    state.candidates[(task, sample)] = candidate


DIFF = """diff --git a/m.py b/m.py
index 1111111..2222222 100644
--- a/m.py
+++ b/m.py
@@ -10,2 +10,2 @@ def f():
-    return 1
+    return 2
"""
# The same change: other blob ids, hunk offsets and function context, trailing whitespace.
SAME = (
    DIFF.replace("1111111..2222222", "3333333..4444444")
    .replace("@@ -10,2 +10,2 @@ def f():", "@@ -12,2 +12,2 @@")
    .replace("+    return 2", "+    return 2   ")
)
OTHER = DIFF.replace("+    return 2", "+    return 3")


def test_agreement_counts_diffs_differing_in_whitespace_or_hunk_offsets_as_one() -> None:
    state = RunState()
    _signalled(state, "t", 0, DIFF)
    _signalled(state, "t", 1, SAME)
    _signalled(state, "t", 2, OTHER)
    signal = SWEKind().own_test_signal
    assert agreement(state, "t", [0, 1, 2], signal) == 2
    assert agreement(state, "t", [0, 2], signal) == 1
    # Without the own-test signal, no sample counts.
    assert agreement(state, "t", [0, 1, 2], lambda *_: False) == 0

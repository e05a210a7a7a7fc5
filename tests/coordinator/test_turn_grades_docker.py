"""A serial HumanEval run grades every turn it wrote, so a plan can choose n from it: the
scripted model answers wrong first and right after the failure comes back (real HTTP, real
Docker)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentlab.budget.plan import Pilot, plan
from agentlab.config import load_experiment
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.pilot_queries import read_turn_outcomes
from tests.coordinator.conftest import write_experiment

pytestmark = pytest.mark.docker

ADD = "HumanEval/53"  # add(x, y)
RULES = [
    Rule(user=r"Write three assert statements", replies=("```python\nassert add(2, 3) == 5\n```",)),
    Rule(
        user=r"Your function failed its tests",
        replies=("```python\ndef add(x, y):\n    return x + y\n```",),
    ),
    Rule(
        user=r"Complete this Python function",
        replies=("```python\ndef add(x, y):\n    return x - y\n```",),
    ),
]


async def test_turn_grades_give_outcomes_at_every_turn_limit(
    base_image: str, store: Store, tmp_path: Path, run_id: str
) -> None:
    with ScriptedServer(ScriptedModel(RULES)) as server:
        path = write_experiment(tmp_path, server.base_url, [ADD], k=2, n=3, dataset="humaneval")
        outcome = await run_pipeline(new_request(load_experiment(path), path, run_id), store)
    assert outcome.status == "finished", outcome
    turns = read_turn_outcomes(store, run_id, 3)
    assert turns is not None and turns.instance_ids == [ADD]
    # wrong at one turn; fixed at the second; a third turn is never needed (asserts passed)
    assert turns.resolved == [[[False, True, True], [False, True, True]]]
    assert turns.usd_per_turn[0] > 0 and turns.usd_per_turn[1] > 0  # turn 2 pays for the asserts
    assert turns.usd_per_turn[2] == 0.0
    # The planner over 5 copies of this problem picks 2 turns: 1 never solves, 3 adds nothing.
    outcomes = [turns.resolved[0]] * 5
    best = plan(Pilot(np.array(outcomes), turns.usd_per_turn), 1.0).best
    assert best.iterations == 2

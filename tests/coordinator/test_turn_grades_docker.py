"""A serial HumanEval run grades every turn it wrote, so a plan can choose n from it: the
scripted model answers wrong first and right after the failure comes back (real HTTP, real
Docker)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agentlab.budget.plan import Pilot, plan
from agentlab.cli import app
from agentlab.config import load_experiment
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.pilot_queries import read_turn_outcomes
from agentlab.tasks.humaneval import load_problems
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


FIVE = ["HumanEval/53", "HumanEval/23", "HumanEval/45", "HumanEval/2", "HumanEval/13"]


def _wrong_then_right() -> list[Rule]:
    """Every problem: a body that returns None first, the reference after the failure."""
    problems = load_problems()
    fixes = [
        Rule(
            user=r"Your function failed its tests",
            first_user=re.escape(problems[t].prompt[-200:]),
            replies=(f"```python\n{problems[t].prompt}{problems[t].canonical_solution}```",),
        )
        for t in FIVE
    ]
    return [
        Rule(user=r"Write three assert statements", replies=("```python\nassert False\n```",)),
        *fixes,
        Rule(user=r"Complete this Python function", replies=("```python\n    pass\n```",)),
    ]


async def test_budget_plan_chooses_turns_from_a_serial_pilot(
    base_image: str, store: Store, tmp_path: Path, run_id: str
) -> None:
    with ScriptedServer(ScriptedModel(_wrong_then_right())) as server:
        path = write_experiment(tmp_path, server.base_url, FIVE, k=2, n=3, dataset="humaneval")
        outcome = await run_pipeline(new_request(load_experiment(path), path, run_id), store)
    assert outcome.status == "finished", outcome
    turns = read_turn_outcomes(store, run_id, 3)
    assert turns is not None
    assert all(sample == [False, True, True] for row in turns.resolved for sample in row)
    shown = CliRunner().invoke(
        app, ["budget", "plan", "--pilot", run_id, "--budget", "10", "--store", store.url]
    )
    assert shown.exit_code == 0, shown.output
    assert "iterations: 1-3 from the pilot's per-turn grades" in shown.output
    assert "2 iteration(s)" in shown.output  # one turn never solves; a third adds only cost

"""`agentlab run` end to end: the scripted model over real HTTP, the real Docker engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select

from agentlab.config import load_experiment
from agentlab.coordinator.kinds.swe_gold import (
    SYSTEM_EDITING,
    SYSTEM_TESTING,
    edit_blocks,
    follow_up_rules,
    gold_rules,
)
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import Fault, ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.run_tables import CandidateRow, Turn
from agentlab.store.tables import LLMCall, SandboxExec, Task
from agentlab.tasks.swebench import Dataset
from tests.coordinator.conftest import assert_no_duplicates, snapshot, write_experiment

pytestmark = pytest.mark.docker

TWO = ["agentlab-mini__confini-1", "agentlab-mini__spans-1"]


async def test_gold_script_yields_resolved_candidates(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
    containers_of: Callable[[str], list[str]],
) -> None:
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        path = write_experiment(tmp_path, server.base_url, TWO, k=2, n=2)
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store)
        requests = len(server.requests)
    assert outcome.status == "finished", outcome
    snap = snapshot(store, run_id)
    assert_no_duplicates(snap)
    assert [c[:2] for c in snap["candidates"]] == [(t, s) for t in TWO for s in (0, 1)]
    assert all(c[5] is True for c in snap["candidates"]), snap["candidates"]
    assert all(t[2:] == ("done", "done") for t in snap["trajectories"])
    calls = store.call(lambda s: s.exec(select(LLMCall).where(LLMCall.run_id == run_id)).all())
    assert len(calls) == requests  # every request the server saw is one stored call row
    assert {c.role for c in calls} >= {"relevance", "testing", "editing"}
    execs = store.call(
        lambda s: s.exec(select(SandboxExec).where(SandboxExec.run_id == run_id)).all()
    )
    assert execs and all(e.task_id in TWO for e in execs)
    assert containers_of(run_id) == []


def _broken_then_fixed(mini: Dataset, task_id: str) -> ScriptedModel:
    """Replies that break the format once per stage, then comply (the fix turn is turn 1)."""
    instance = mini.by_id()[task_id]
    probe = (
        "```python\nimport subprocess, sys\n"
        "n = subprocess.run(['git', 'rev-list', '--count', 'HEAD'], capture_output=True,"
        " text=True).stdout.strip()\nprint('commits:', n)\nsys.exit(2)\n```"
    )
    return ScriptedModel(
        [
            *follow_up_rules(),
            Rule(system=SYSTEM_TESTING, replies=("I would test the parser.", probe)),
            Rule(
                system=SYSTEM_EDITING,
                replies=("The bug is an off-by-one.", edit_blocks(instance.patch)),
            ),
        ],
        default="SCORE: 5",
    )


async def test_broken_replies_take_the_format_fix_path(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
) -> None:
    task_id = TWO[0]
    with ScriptedServer(_broken_then_fixed(mini, task_id)) as server:
        path = write_experiment(tmp_path, server.base_url, [task_id], k=1, n=2)
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store)
    assert outcome.status == "finished"
    turns = store.call(
        lambda s: s.exec(select(Turn).where(Turn.run_id == run_id, Turn.sample == 0)).all()
    )
    first = {t.stage: json.loads(t.record_json) for t in turns if t.step == 0}
    assert first["testing"]["fixes"] == 1 and first["editing"]["fixes"] == 1
    # The trajectory's repository has one commit: the history that holds the fix is gone.
    assert "commits: 1" in first["testing"]["run"]["stdout"]
    cand = store.call(lambda s: s.exec(select(CandidateRow)).one())
    assert cand.resolved is True and cand.status == "final"


async def test_infrastructure_errors_are_retried_on_resume_not_counted_done(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
) -> None:
    task_id = TWO[0]
    model = ScriptedModel(gold_rules(mini))
    # The editing call fails with HTTP 500 exactly as often as one invocation tries it (2 client
    # attempts x 2 coordinator attempts): the trajectory is an error and the problem failed;
    # then the endpoint has recovered.
    model.inject(Fault(kind="server_error", times=4, user="Fix the issue"))
    with ScriptedServer(model) as server:
        path = write_experiment(tmp_path, server.base_url, [task_id], k=1, n=2)
        request = new_request(load_experiment(path), path, run_id)
        first = await run_pipeline(request, store)
        assert first.status == "finished" and task_id in first.errors
        snap = snapshot(store, run_id)
        assert snap["trajectories"] == [(task_id, 0, "editing", "error")]
        assert snap["candidates"] == []
        task = store.call(lambda s: s.exec(select(Task).where(Task.run_id == run_id)).one())
        assert task.status == "failed" and "RetryableLLMError" in (task.error or "")
        again = await run_pipeline(request, store)
    assert again.status == "finished" and not again.errors
    snap = snapshot(store, run_id)
    assert_no_duplicates(snap)
    assert snap["trajectories"] == [(task_id, 0, "done", "done")]
    assert [c[5] for c in snap["candidates"]] == [True]
    # The testing steps finished in the first invocation were replayed, not asked again.
    testing = [t for t in snap["turns"] if t[2] == "testing"]
    assert [t[3] for t in testing] == [0, 1]


async def test_budget_cap_stops_the_run_with_partial_state(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text(
        "version: test\nmodels:\n  scripted-gold:\n    kind: api\n"
        "    input_per_mtok: 0\n    output_per_mtok: 1000\n"
    )
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        # Deterministic exhaustion: one call in flight at a time, each reserving max_tokens
        # (4096) at $1000/M = $4.096; the cap leaves $0.40 of real spend, which the context
        # stage ($0.07) and the first testing replies (~$0.13 each) pass partway through.
        path = write_experiment(
            tmp_path,
            server.base_url,
            TWO,
            k=2,
            n=2,
            extra={"budget": {"cap_usd": 4.5}, "concurrency": {"llm_calls": 1, "sandboxes": 2}},
        )
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store, pricing=pricing)
    assert outcome.status == "budget_exhausted", outcome
    assert "budget cap" in outcome.reason
    calls = store.call(lambda s: s.exec(select(LLMCall).where(LLMCall.run_id == run_id)).all())
    spent = sum(c.usd for c in calls)
    assert 0.4 < spent <= 4.5
    assert any("BudgetExceededError" in (c.error or "") for c in calls)
    snap = snapshot(store, run_id)
    assert snap["turns"], "finished steps are kept"
    assert_no_duplicates(snap)

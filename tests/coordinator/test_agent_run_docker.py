"""`agentlab run` with the agent kind (`dataset.kind: swe-agent`) end to end: the scripted
agent over real HTTP, the real Docker engine, every agentlab-mini instance graded resolved;
and a run killed mid-trajectory resumes without asking the model again for stored steps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select

from agentlab.agent.agent_records import AgentStep
from agentlab.agent.scripted_agent import agent_rules
from agentlab.config import load_experiment
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.run_tables import Turn
from agentlab.store.tables import LLMCall
from agentlab.tasks.swebench import Dataset
from tests.coordinator.conftest import assert_no_duplicates, snapshot, write_experiment

pytestmark = pytest.mark.docker

AGENT = {"dataset": {"kind": "swe-agent"}, "agent": {"max_steps": 15, "command_timeout_s": 60}}


def _experiment(tmp: Path, url: str, instances: list[str], k: int = 1) -> Path:
    path = write_experiment(tmp, url, instances, k=k, extra={"agent": AGENT["agent"]})
    text = path.read_text().replace("dataset:\n", "dataset:\n  kind: swe-agent\n", 1)
    path.write_text(text)
    return path


@pytest.mark.slow
async def test_agent_kind_resolves_all_of_agentlab_mini(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
    containers_of: Callable[[str], list[str]],
) -> None:
    ids = [i.instance_id for i in mini.instances]
    with ScriptedServer(ScriptedModel(agent_rules(mini.instances))) as server:
        path = _experiment(tmp_path, server.base_url, ids)
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store)
        requests = len(server.requests)
    assert outcome.status == "finished", outcome
    snap = snapshot(store, run_id)
    assert_no_duplicates(snap)
    assert len(snap["candidates"]) == len(ids)
    assert all(c[4] == "final" and c[5] is True for c in snap["candidates"]), snap["candidates"]
    assert {t[2] for t in snap["turns"]} == {"agent"}
    calls = store.call(lambda s: s.exec(select(LLMCall).where(LLMCall.run_id == run_id)).all())
    assert len(calls) == requests and {c.role for c in calls} == {"agent"}
    assert containers_of(run_id) == []


async def test_a_killed_agent_run_resumes_at_the_next_step(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
) -> None:
    task = mini.instances[0].instance_id
    with ScriptedServer(ScriptedModel(agent_rules(mini.instances))) as server:
        path = _experiment(tmp_path, server.base_url, [task])
        request = new_request(load_experiment(path), path, run_id)
        run = asyncio.create_task(run_pipeline(request, store))

        def finished_steps() -> int:
            rows = store.call(lambda s: s.exec(select(Turn).where(Turn.run_id == run_id)).all())
            return sum(AgentStep.model_validate_json(r.record_json).done for r in rows)

        # Kill it once two steps are in the store (the run has no hook to await; poll it).
        while finished_steps() < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        before = len(server.requests)
        stored = finished_steps()
        outcome = await run_pipeline(request, store)
        asked = len(server.requests) - before
    assert outcome.status == "finished", outcome
    snap = snapshot(store, run_id)
    assert_no_duplicates(snap)
    assert snap["candidates"][0][5] is True  # resolved after the resume
    total = len([t for t in snap["turns"] if t[2] == "agent"])
    # Only the steps not stored yet went to the model again (a pending one is not re-asked).
    assert asked <= total - stored, (asked, total, stored)

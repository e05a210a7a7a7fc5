"""``budget.per_task_usd`` is hard: the first wave of a problem's samples, started together
before any spend is known, still cannot pass it. Scripted model over real HTTP, the real
Docker engine, real SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from agentlab.config import load_experiment
from agentlab.coordinator.kinds.swe_gold import gold_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.run_tables import Trajectory
from agentlab.store.tables import LLMCall, SandboxExec
from agentlab.tasks.swebench import Dataset
from tests.coordinator.conftest import write_experiment

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SOLVED = "agentlab-mini__confini-1"


def charged(store: Store, run_id: str, task_id: str) -> float:
    def read(session: object) -> float:
        total = 0.0
        for table in (LLMCall, SandboxExec):
            rows = session.exec(  # type: ignore[attr-defined]
                select(table).where(table.run_id == run_id, table.task_id == task_id)
            ).all()
            total += sum(r.usd for r in rows)
        return total

    return store.call(read)


async def test_first_wave_cannot_pass_the_problem_cap(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
) -> None:
    # No sample_reserve_usd: nothing is known when the four samples start together. The
    # first sample with the context stage costs about $0.004, so four would spend ~$0.012.
    cap = 0.006
    extra = {
        "budget": {"per_task_usd": cap},
        "models": {"default": {"endpoint": "scripted-http", "max_tokens": 256}},
    }
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        path = write_experiment(tmp_path, server.base_url, [SOLVED], k=4, n=1, extra=extra)
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store)
    assert outcome.status == "finished", outcome  # one problem's cap never ends the run
    assert 0 < charged(store, run_id, SOLVED) <= cap
    trajs = store.call(
        lambda s: s.exec(select(Trajectory).where(Trajectory.run_id == run_id)).all()
    )
    capped = [t for t in trajs if t.status == "capped"]
    assert capped and all("per_task_usd" in (t.error or "") for t in capped)

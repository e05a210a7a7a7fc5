"""Selection inside `agentlab run` shares the run's hard cap: when a selector's call does not fit,
the run ends `budget_exhausted` with a one-line reason and keeps every candidate (it once
ended in a traceback). Scripted model over real HTTP, real Docker."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from agentlab.config import load_experiment
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.run_tables import CandidateRow
from agentlab.store.tables import Run
from tests.coordinator.conftest import write_experiment
from tests.coordinator.test_selection_run_docker import _he_rules

pytestmark = pytest.mark.docker

ONE = ["HumanEval/53"]
K = 4
HEADROOM = 0.0055  # a grading exec ($0.00375) plus a 300-token call fit; the judge's does not


async def test_selection_refused_by_the_cap_ends_the_run_cleanly(
    base_image: str, store: Store, tmp_path: Path, run_id: str
) -> None:
    single = {
        "concurrency": {"llm_calls": 1, "sandboxes": 1},
        "models": {"default": {"endpoint": "scripted-http", "temperature": 0.0, "max_tokens": 300}},
    }
    with ScriptedServer(ScriptedModel(_he_rules())) as server:
        first = write_experiment(
            tmp_path, server.base_url, ONE, k=K, n=2, dataset="humaneval", extra=single
        )
        sampled = await run_pipeline(new_request(load_experiment(first), first, "no-sel"), store)
        assert sampled.status == "finished"
        spent = store.call(lambda s: s.get(Run, "no-sel")).spent_usd
        # Room for the sampling (and a grading exec's worst case), not for CodeT's exec.
        extra = {
            **single,
            "selection": {"enabled": True, "methods": ["judge"]},
            "models": {
                "default": {"endpoint": "scripted-http", "temperature": 0.0, "max_tokens": 300},
                "verifier": {"endpoint": "scripted-http", "temperature": 0.0, "max_tokens": 60000},
            },
            "budget": {"cap_usd": spent + HEADROOM},
            "cache": "bypass",  # pay for the calls again, as the first run did
        }
        path = write_experiment(
            tmp_path, server.base_url, ONE, k=K, n=2, dataset="humaneval", extra=extra
        )
        outcome = await run_pipeline(new_request(load_experiment(path), path, run_id), store)
    assert outcome.status == "budget_exhausted", outcome
    assert outcome.reason.startswith("selection: ") and "\n" not in outcome.reason
    assert "could cost up to" in outcome.reason
    row = store.call(lambda s: s.get(Run, run_id))
    assert row.status == "budget_exhausted" and row.spent_usd <= spent + HEADROOM
    kept = store.call(
        lambda s: s.exec(select(CandidateRow).where(CandidateRow.run_id == run_id)).all()
    )
    assert len(kept) == K and all(c.resolved for c in kept)

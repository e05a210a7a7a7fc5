"""``cache: bypass`` makes a run ask the model again instead of replaying an earlier run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from agentlab.config import load_experiment
from agentlab.coordinator.models import load_endpoint_configs, open_models
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.llm_log import StoreCallRecorder, StoreResponseCache
from agentlab.store.tables import LLMCall, Run
from agentlab.types import CallContext, ChatRequest, Message
from tests.coordinator.conftest import write_experiment

REQUEST = ChatRequest(model="", messages=(Message(role="user", content="fix it"),), seed=1)


async def one_run(path: Path, store: Store, run_id: str, overrides: list[str]) -> None:
    config = load_experiment(path, overrides)
    store.call(lambda s: s.add(Run(id=run_id, kind="run")))
    async with open_models(
        config,
        load_endpoint_configs(config, path.parent),
        pricing=None,
        spent_usd=0.0,
        cache=StoreResponseCache(store),
        recorder=StoreCallRecorder(store),
    ) as models:
        client = models.clients["scripted-http"]
        await client.generate(REQUEST, CallContext(run_id=run_id, role="editing", task_id="t"))


@pytest.mark.parametrize(("mode", "asked"), [("replay", 1), ("bypass", 2)])
async def test_second_run_replays_or_asks_again(
    mode: str, asked: int, tmp_path: Path, store: Store
) -> None:
    with ScriptedServer(ScriptedModel(default="done")) as server:
        path = write_experiment(tmp_path, server.base_url, ["agentlab-mini__confini-1"])
        await one_run(path, store, "first", [])
        await one_run(path, store, "second", [f"cache={mode}"])
        assert len(server.requests) == asked
    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    [second] = [r for r in rows if r.run_id == "second"]
    assert second.cache_hit == (mode == "replay")
    assert (second.usd > 0) == (mode == "bypass")
    assert (second.replayed_usd > 0) == (mode == "replay")

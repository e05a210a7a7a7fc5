"""Selection over agent runs needs a ``testing`` model: refused before any trajectory runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.config import load_experiment
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.errors import ConfigError
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.run_tables import Trajectory
from tests.coordinator.conftest import write_experiment


async def test_selection_without_a_testing_model_is_refused_before_sampling(
    store: Store, tmp_path: Path, run_id: str
) -> None:
    extra = {
        "trajectory": {"type": "agent"},
        "selection": {"enabled": True},
        "models": {"editing": {"endpoint": "scripted-http"}},
        "sandbox": {"type": "process"},
    }
    with ScriptedServer(ScriptedModel([])) as server:
        path = write_experiment(
            tmp_path, server.base_url, ["agentlab-mini__confini-1"], k=1, extra=extra
        )
        with pytest.raises(ConfigError, match=r"models\.testing"):
            await run_pipeline(new_request(load_experiment(path), path, run_id), store)
        assert server.requests == []
    assert store.call(lambda s: s.exec(Trajectory.__table__.select()).all()) == []

"""``agentlab budget replay`` over a real HumanEval run (the scripted model over real HTTP,
real sandboxes): the own-test signal is the kind's, costs are the stored dollars, and the
replay sends no request and adds no ``llm_call`` row."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from agentlab.cli import app
from agentlab.config import load_experiment
from agentlab.coordinator.kinds.humaneval import canonical_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.coordinator.replay import load_matrix
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import open_store
from agentlab.store.budget_queries import count_llm_calls
from agentlab.store.tables import LLMCall
from tests.coordinator.conftest import write_experiment

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HE = ["HumanEval/53", "HumanEval/23", "HumanEval/0", "HumanEval/2", "HumanEval/4"]


def test_replay_of_a_real_run_uses_its_signals_and_dollars_and_calls_no_model(
    base_image: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/run.db"
    store = open_store(url)
    model = ScriptedModel(canonical_rules())
    try:
        with ScriptedServer(model) as server:
            path = write_experiment(
                tmp_path, server.base_url, HE, k=2, n=2, dataset="humaneval", store=url
            )
            outcome = asyncio.run(
                run_pipeline(new_request(load_experiment(path), path, "real"), store)
            )
            assert outcome.status == "finished", outcome
            served, rows = model.calls, count_llm_calls(store)
            matrix, samples, _ = load_matrix(store, "real", "own-tests")
            result = CliRunner().invoke(
                app,
                ["budget", "replay", "real", "--k", "1", "--signal", "own-tests", "--store", url],
                terminal_width=300,
            )
            assert result.exit_code == 0, (result.output, result.exception)
            assert model.calls == served and count_llm_calls(store) == rows
        calls = store.call(
            lambda s: list(s.exec(select(LLMCall).where(LLMCall.run_id == "real")).all())
        )
    finally:
        store.close()
    assert samples.instance_ids == sorted(HE) and samples.samples == 2
    # The canonical completions pass their own asserts (a ``passed`` step) and the hidden tests.
    assert matrix.signal.all() and matrix.correct.all() and matrix.unit == "USD"
    usd = {(c.task_id, c.sample): 0.0 for c in calls}
    for c in calls:
        usd[(c.task_id, c.sample)] += c.usd
    expected = np.array([[usd[(t, s)] for s in range(2)] for t in sorted(HE)])
    assert np.allclose(matrix.cost, np.maximum(expected, expected.max() * 1e-6))
    text = " ".join(result.output.split())
    assert "5 problems x 2 graded samples" in text and "New LLM calls: 0" in text

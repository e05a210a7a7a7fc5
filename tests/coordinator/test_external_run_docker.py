"""`agentlab run` with the bring-your-own-agent kind (`dataset.kind: external`) end to end: the
example stdlib agent runs inside each instance's sandbox behind the metering proxy, the model is
the scripted one over real HTTP, and every candidate is graded resolved by the harness."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select

import agentlab.agent.examples.diff_agent as diff_agent
from agentlab.agent.external import ExternalRun, diff_rules
from agentlab.config import load_experiment
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.run_tables import Turn
from agentlab.store.tables import LLMCall
from agentlab.tasks.swebench import Dataset
from tests.coordinator.conftest import assert_no_duplicates, snapshot, write_experiment

pytestmark = [pytest.mark.docker, pytest.mark.slow]

AGENT = str(Path(diff_agent.__file__).resolve())
ROOT = Path(__file__).resolve().parents[2]


async def test_external_kind_resolves_through_agentlab_run(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
    containers_of: Callable[[str], list[str]],
) -> None:
    ids = [i.instance_id for i in mini.instances[:3]]
    external = {
        "command": "python3 $AGENTLAB_AGENT_DIR/diff_agent.py",
        "files": [AGENT],
        "timeout_s": 300,
    }
    with ScriptedServer(ScriptedModel(diff_rules(mini.instances))) as server:
        path = write_experiment(tmp_path, server.base_url, ids, k=1, extra={"external": external})
        text = path.read_text().replace("dataset:\n", "dataset:\n  kind: external\n", 1)
        path.write_text(text)
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store)
        requests = len(server.requests)
    assert outcome.status == "finished", outcome
    snap = snapshot(store, run_id)
    assert_no_duplicates(snap)
    assert len(snap["candidates"]) == len(ids)
    assert all(c[4] == "final" and c[5] is True for c in snap["candidates"]), snap["candidates"]
    turns = store.call(lambda s: s.exec(select(Turn).where(Turn.run_id == run_id)).all())
    runs = [ExternalRun.model_validate_json(t.record_json) for t in turns]
    assert {t.stage for t in turns} == {"external"} and len(runs) == len(ids)
    assert all(r.exit_code == 0 and "git apply exit 0" in r.log and r.calls == 1 for r in runs)
    calls = store.call(lambda s: s.exec(select(LLMCall).where(LLMCall.run_id == run_id)).all())
    assert len(calls) == requests == len(ids) and {c.role for c in calls} == {"external"}
    assert containers_of(run_id) == []


def test_shipped_config_resolves_with_dollars(base_image: str, tmp_path: Path) -> None:
    """configs/experiments/mini-external-scripted.yaml through the CLI (three problems)."""
    url = f"sqlite:///{tmp_path}/cfg.db"
    config = "configs/experiments/mini-external-scripted.yaml"
    argv = [sys.executable, "-m", "agentlab", "run", config, "dataset.limit=3"]
    argv += ["--run-id", "ext-cfg", "--store", url]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    # (The in-process scripted endpoint has no API price: dollars are tested with a priced
    # endpoint in tests/agent/test_external_docker.py; here the calls and tokens.)
    sql = "select role, count(*) as n, sum(completion_tokens) as out from llm_call group by role"
    query = [sys.executable, "-m", "agentlab", "sql", "--store", url, "--format", "json", sql]
    rows = json.loads(subprocess.run(query, cwd=ROOT, capture_output=True, text=True).stdout)
    assert [r["role"] for r in rows] == ["external"] and rows[0]["n"] == 6 and rows[0]["out"] > 0
    resolved = "select count(*) as n from candidate where resolved"
    query[-1] = resolved
    rows = json.loads(subprocess.run(query, cwd=ROOT, capture_output=True, text=True).stdout)
    assert rows == [{"n": 6}]

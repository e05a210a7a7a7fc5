"""`agentlab run` against a model whose context window a sample outgrows: that sample ends
``context_exhausted`` with its reason stored, the others go on, the run finishes, and no
traceback reaches the user. The scripted model over real HTTP refuses over-long prompts as
llama-cpp-python does; the real Docker engine runs the sandboxes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from agentlab.agent.agent_records import AgentStep
from agentlab.agent.scripted_agent import agent_rules, bash_call
from agentlab.llm import Rule, ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import open_store
from agentlab.store.run_tables import CandidateRow, Trajectory, Turn
from agentlab.store.tables import Run
from agentlab.tasks.swebench import Dataset
from tests.coordinator.conftest import agentlab_cli, write_experiment

pytestmark = pytest.mark.docker

WINDOW = 6000  # the scripted model's window (words, 4 per message); the gold fixes fit in it


def _endpoint_window(folder: Path, tokens: int) -> None:
    path = folder / "endpoints.yaml"
    endpoints = yaml.safe_load(path.read_text())
    endpoints[0]["context_tokens"] = tokens
    path.write_text(yaml.safe_dump(endpoints))


@pytest.mark.slow
async def test_a_sample_that_outgrows_the_window_ends_cleanly_and_the_run_finishes(
    base_image: str, docker_backend: object, mini: Dataset, tmp_path: Path
) -> None:
    flooded, solved = mini.instances[0], mini.instances[1]
    about = re.escape(flooded.problem_statement.strip()[:200])
    # The flooded sample prints more than the whole window, then would go on: it cannot.
    flood = Rule(
        first_user=f"(?s){about}",
        replies=("", "", "done"),
        tool_calls=((bash_call("seq 1 8000"),), (bash_call("ls"),)),
    )
    model = ScriptedModel([flood, *agent_rules([solved])], context_tokens=WINDOW)
    trajectory = {"type": "agent", "mode": "tools", "max_steps": 12, "output_chars": 60_000}
    with ScriptedServer(model) as server:
        path = write_experiment(
            tmp_path,
            server.base_url,
            [flooded.instance_id, solved.instance_id],
            k=1,
            store=f"sqlite:///{tmp_path}/runs.db",
            extra={"trajectory": trajectory},
        )
        _endpoint_window(tmp_path, WINDOW)
        done = agentlab_cli("run", str(path), "--run-id", "ctx-run")
        statuses = [r.status for r in server.requests]
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output
    assert 400 not in statuses  # the window was known: nothing over-long was ever sent

    runs = open_store(f"sqlite:///{tmp_path}/runs.db")
    try:
        run = runs.call(lambda s: s.exec(select(Run).where(Run.id == "ctx-run")).one())
        cands = runs.call(lambda s: s.exec(select(CandidateRow)).all())
        trajs = runs.call(lambda s: s.exec(select(Trajectory)).all())
        turns = runs.call(lambda s: s.exec(select(Turn).order_by(Turn.step)).all())
    finally:
        runs.close()
    assert run.status == "finished"
    by_task = {c.task_id: c for c in cands}
    assert (by_task[flooded.instance_id].status, by_task[flooded.instance_id].resolved) == (
        "context_exhausted",
        False,
    )
    assert (by_task[solved.instance_id].status, by_task[solved.instance_id].resolved) == (
        "final",
        True,
    )
    assert {t.status for t in trajs} == {"done"}  # both graded, stored work kept
    last = [t for t in turns if t.task_id == flooded.instance_id][-1]
    step = AgentStep.model_validate_json(last.record_json)
    assert last.action == "context_exhausted" and step.step == 1
    assert step.stopped.startswith(
        "context_exhausted: the system prompt, the task and the last step need"
    )
    assert f"window of {WINDOW}" in step.stopped
    assert json.loads(last.record_json)["stopped"] == step.stopped


async def test_a_state_machine_sample_refused_for_length_ends_and_the_run_finishes(
    base_image: str, docker_backend: object, mini: Dataset, tmp_path: Path
) -> None:
    """Kinds without history trimming: the refusal ends the sample (not retried), the run
    goes on and finishes, and the reason is on the trajectory and the problem."""
    task = mini.instances[0].instance_id
    with ScriptedServer(ScriptedModel(context_tokens=20)) as server:
        path = write_experiment(tmp_path, server.base_url, [task], k=1)
        done = agentlab_cli("run", str(path), "--run-id", "ctx-swe")
        refused = [r.status for r in server.requests]
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output
    assert refused and set(refused) == {400}

    runs = open_store(f"sqlite:///{tmp_path}/runs.db")
    try:
        run = runs.call(lambda s: s.exec(select(Run).where(Run.id == "ctx-swe")).one())
        [traj] = runs.call(lambda s: s.exec(select(Trajectory)).all())
    finally:
        runs.close()
    assert run.status == "finished"
    assert traj.status == "context_exhausted" and traj.attempts == 1
    assert traj.error is not None and "ContextOverflowError" in traj.error
    assert "maximum context length is 20 tokens" in traj.error


async def test_a_fatal_model_error_in_a_run_is_one_line_not_a_traceback(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refusal that no retry mends (here a wrong API key) ends the run: the CLI says so in
    one line even though it surfaced from the fan-out's task group."""
    monkeypatch.setenv("AGENTLAB_TEST_KEY", "sk-wrong")
    with ScriptedServer(ScriptedModel(), api_key="sk-right") as server:
        path = write_experiment(tmp_path, server.base_url, [mini.instances[0].instance_id], k=1)
        endpoints = yaml.safe_load((tmp_path / "endpoints.yaml").read_text())
        endpoints[0]["api_key_env"] = "AGENTLAB_TEST_KEY"
        (tmp_path / "endpoints.yaml").write_text(yaml.safe_dump(endpoints))
        done = agentlab_cli("run", str(path), "--run-id", "bad-key")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    [line] = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert "HTTP 401" in done.stderr and "AGENTLAB_TEST_KEY" in done.stderr, line

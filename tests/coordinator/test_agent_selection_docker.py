"""``agentlab run`` of the agent kinds ending with selection: the agent writes no test, so
selection first writes one per candidate with the ``testing`` model (the ``swe`` kind's testing
stage), then runs the vote matrix, the judge and the tournament. Scripted model over real HTTP,
real Docker engine, agentlab-mini."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

import agentlab.agent.examples.diff_agent as diff_agent
from agentlab.agent.external import diff_rules
from agentlab.agent.scripted_agent import bash_call, fix_calls
from agentlab.cli import app
from agentlab.config import load_experiment
from agentlab.coordinator.kinds.swe_gold import reproduction_rules, verifier_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import LoggedRequest, ScriptedServer
from agentlab.store import Store, open_store
from agentlab.store.run_tables import CandidateRow, Turn
from agentlab.store.scoring_tables import Selection, TestVote, VoteTest
from agentlab.store.tables import LLMCall
from agentlab.tasks.swebench import Dataset, SWEInstance
from tests.coordinator.conftest import write_experiment

pytestmark = pytest.mark.docker

AGENT = str(Path(diff_agent.__file__).resolve())


def _test_writes(requests: list[LoggedRequest]) -> int:
    """Requests to the testing stage's model (its system prompt)."""
    messages = [r.request.messages for r in requests if r.request is not None]
    return sum(
        any(m.role == "system" and "reproduction tests" in m.content for m in ms) for ms in messages
    )


def _forget_tests(session: Session) -> None:
    for row in session.exec(select(CandidateRow)).all():
        row.test = None
        session.add(row)


# A random note makes every sample's diff distinct, so the tournament has pairs to play.
NOTE = "od -An -N8 -tx1 /dev/urandom > NOTES.txt"


def _agent_rules(instances: list[SWEInstance]) -> list[Rule]:
    rules = []
    for i, instance in enumerate(instances):
        *work, last = fix_calls(instance, use_editor=i % 2 == 0)
        calls = (*work, (bash_call(NOTE),), last)
        about = re.escape(instance.problem_statement.strip()[:200])
        replies = ("",) * len(calls) + ("Done.",)
        rules.append(Rule(first_user=f"(?s){about}", replies=replies, tool_calls=calls))
    return rules


def test_agent_run_selects_with_generated_tests_judge_and_tournament(
    base_image: str, mini: Dataset, tmp_path: Path, run_id: str
) -> None:
    chosen = mini.instances[:2]  # one fixed with editor calls, one with git apply
    ids = [i.instance_id for i in chosen]
    rules = [*reproduction_rules(mini), *verifier_rules(mini), *_agent_rules(chosen)]
    url = f"sqlite:///{tmp_path}/agent.db"
    extra = {
        "trajectory": {"type": "agent", "max_steps": 15, "command_timeout_s": 60},
        "selection": {"enabled": True, "methods": ["vote", "judge", "tournament"]},
    }
    with ScriptedServer(ScriptedModel(rules)) as server:
        path = write_experiment(tmp_path, server.base_url, ids, k=2, store=url, extra=extra)
        result = CliRunner().invoke(app, ["run", str(path), "--run-id", run_id])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert re.search(r"coverage 100\.0% selected 100\.0%", text), text

    store = open_store(url)
    try:
        rows = store.call(lambda s: list(s.exec(select(CandidateRow)).all()))
        picks = store.call(lambda s: list(s.exec(select(Selection)).all()))
        tests = store.call(lambda s: list(s.exec(select(VoteTest)).all()))
        cells = store.call(lambda s: list(s.exec(select(TestVote)).all()))
        turns = store.call(lambda s: list(s.exec(select(Turn)).all()))
        roles = store.call(lambda s: {c.role for c in s.exec(select(LLMCall)).all()})
    finally:
        store.close()
    assert len(rows) == 4 and len({r.patch_sha for r in rows}) == 4  # distinct diffs
    assert all(r.resolved is True for r in rows)
    # Every candidate got a generated test, stored where the swe kind keeps its tests, and
    # its steps as `testing` turns of that sample.
    assert all(r.test and "TEST_PATCH" in r.test for r in rows)
    assert {(t.task_id, t.sample) for t in turns if t.stage == "testing"} == {
        (t, s) for t in ids for s in (0, 1)
    }
    # The matrix ran them: each problem's test reproduces the issue and passes every candidate.
    assert {t.task_id for t in tests if t.valid and t.fails_without_patch} == set(ids)
    assert all(c.passed for c in cells if c.candidate_id is not None)
    assert all(not c.passed for c in cells if c.candidate_id is None)
    by_id = {r.id: r for r in rows}
    assert {(p.task_id, p.method) for p in picks} >= {
        (t, m) for t in ids for m in ("vote", "judge", "tournament")
    }
    assert all(by_id[p.candidate_id].resolved for p in picks if p.candidate_id is not None)
    assert {"agent", "testing", "verifier"} <= roles


async def test_external_run_selects_with_generated_tests(
    base_image: str, mini: Dataset, store: Store, tmp_path: Path, run_id: str
) -> None:
    task = mini.instances[0].instance_id
    trajectory = {
        "type": "external",
        "command": "python3 $AGENTLAB_AGENT_DIR/diff_agent.py",
        "files": [AGENT],
        "timeout_s": 300,
    }
    selection = {"enabled": True, "methods": ["judge"]}
    extra = {"trajectory": trajectory, "selection": selection, "cache": "bypass"}
    rules = [*reproduction_rules(mini), *verifier_rules(mini), *diff_rules(mini.instances)]
    with ScriptedServer(ScriptedModel(rules)) as server:
        path = write_experiment(tmp_path, server.base_url, [task], k=1, extra=extra)
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store)
        assert outcome.status == "finished", outcome
        written = _test_writes(server.requests)
        # The run again, with the candidate's test forgotten: the stored testing turns are
        # replayed (the model is not asked to write it again) and the test is back.
        store.call(_forget_tests)
        outcome = await run_pipeline(request, store)
        assert outcome.status == "finished", outcome
        assert written > 0 and _test_writes(server.requests) == written
    rows = store.call(lambda s: list(s.exec(select(CandidateRow)).all()))
    assert len(rows) == 1 and rows[0].resolved is True and "TEST_PATCH" in (rows[0].test or "")
    tests = store.call(lambda s: list(s.exec(select(VoteTest)).all()))
    assert [(t.task_id, t.valid) for t in tests] == [(task, True)]
    picks = store.call(lambda s: {(p.method, p.candidate_id) for p in s.exec(select(Selection))})
    assert picks == {("vote", rows[0].id), ("judge", rows[0].id)}

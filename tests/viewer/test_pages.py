"""The viewer's page data on SQLite and a real PostgreSQL: numbers, paging, flips, read-only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentlab.errors import StoreError
from agentlab.store import open_store
from agentlab.store.run_tables import CandidateRow, PolicyDecision, Trajectory, Turn
from agentlab.store.scoring_tables import Selection
from agentlab.store.tables import Evaluation, LLMCall, Run, Task
from agentlab.viewer.api import Api
from agentlab.viewer.db import ReadOnlyStore
from agentlab.viewer.stats import mcnemar_exact
from tests.store.conftest import store_url  # noqa: F401 (the SQLite + Postgres fixture)

# solved[run][problem] = resolved flags of its samples
SOLVED = {
    "a": {"p0": [True, False], "p1": [False, False], "p2": [True, True], "p3": [False, True]},
    "b": {"p0": [False], "p1": [True], "p2": [True], "p3": [False], "p4": [True]},
}


def _fill(url: str) -> None:
    st = open_store(url)

    def write(s: Any) -> None:
        for run_id, problems in SOLVED.items():
            s.add(Run(id=run_id, kind="run", name=f"run {run_id}", status="finished",
                      spent_usd=1.5, budget_usd=10.0, realized_score=0.5))
            s.flush()
            for task, flags in problems.items():
                s.add(Task(run_id=run_id, task_id=task, status="done"))
                for sample, ok in enumerate(flags):
                    s.add(Trajectory(run_id=run_id, task_id=task, sample=sample, stage="done",
                                     status="done"))
                    rec = {"step": 0, "messages": [{"role": "assistant", "content": "x"}],
                           "action": "EDIT", "diff": "+a\n",
                           "patched": {"exit_code": 0 if ok else 1, "stdout": "out"}}
                    s.add(Turn(run_id=run_id, task_id=task, sample=sample, stage="editing",
                               step=0, action="EDIT", record_json=json.dumps(rec)))
                    s.add(LLMCall(run_id=run_id, role="editing", task_id=task, sample=sample,
                                  step=0, model="m", prompt_tokens=100, completion_tokens=10,
                                  usd=0.25))
                    s.add(CandidateRow(run_id=run_id, task_id=task, sample=sample,
                                       patch="+a", resolved=ok))
                    s.add(Evaluation(run_id=run_id, instance_id=task, sample=sample,
                                     outcome="resolved" if ok else "unresolved", resolved=ok))
        s.flush()
        first = s.exec(  # type: ignore[call-overload]
            CandidateRow.__table__.select().where(  # type: ignore[attr-defined]
                CandidateRow.run_id == "a", CandidateRow.task_id == "p0",
                CandidateRow.sample == 0)
        ).first()
        s.add(Selection(run_id="a", task_id="p0", method="vote", candidate_id=first.id))
        for rnd in range(25):
            s.add(PolicyDecision(run_id="a", round=rnd, policy="adaptive", state_json="{}",
                                 items_json=json.dumps([["p0", rnd]]),
                                 stops_json=json.dumps({"p1": "no gain"})))

    st.call(write)
    st.close()


@pytest.fixture
def api(store_url: str) -> Any:  # noqa: F811
    _fill(store_url)
    db = ReadOnlyStore(store_url)
    yield Api(db)
    db.close()


def test_runs_list_and_run_pages(api: Api) -> None:
    runs = {r["id"]: r for r in api.data("runs", {})["runs"]}
    assert runs["a"]["problems"] == 4 and runs["a"]["coverage"] == 0.75
    assert runs["b"]["problems"] == 5 and runs["b"]["coverage"] == 0.6
    assert [r["id"] for r in api.data("runs", {"sort": "name", "dir": "asc"})["runs"]] == ["a", "b"]
    assert [r["id"] for r in api.data("runs", {"q": "run b"})["runs"]] == ["b"]
    problems = api.data("problems", {"run": "a", "size": "3"})
    assert [p["task_id"] for p in problems["problems"]] == ["p0", "p1", "p2"] and problems["more"]
    p0 = problems["problems"][0]
    assert (p0["samples"], p0["graded"], p0["resolved"], p0["usd"]) == (2, 2, 1, 0.5)
    assert p0["selected"] == {"vote": True}
    decisions = api.data("decisions", {"run": "a", "page": "1"})
    assert [d["round"] for d in decisions["decisions"]] == list(range(20, 25))
    assert (decisions["decisions"][0]["scheduled"], decisions["decisions"][0]["stopped"]) == (1, 1)
    stops = api.data("stops", {"run": "a", "round": "3"})
    assert stops["stops"] == [{"task_id": "p1", "reason": "no gain"}]


def test_stats_match_the_rows(api: Api) -> None:
    stats = api.data("stats", {"run": "a"})
    assert stats["problems"] == 4 and stats["samples"] == 8
    assert stats["coverage"] == 0.75
    assert stats["random_pick"] == pytest.approx((0.5 + 0 + 1 + 0.5) / 4)
    assert stats["curve"]["ks"] == [1, 2]
    assert stats["curve"]["coverage"] == pytest.approx([0.5, 0.75])
    assert stats["selected"]["vote"]["score"] == 0.25
    (row,) = stats["cost_by_role"]
    assert (row["role"], row["calls"], row["usd"]) == ("editing", 8, pytest.approx(2.0))
    points = stats["cost_over_time"]
    assert points[-1]["calls"] == 8 and points[-1]["usd"] == pytest.approx(2.0)
    assert all(p["minutes"] >= 0 for p in points)
    for plot in ("coverage.svg", "cost.svg"):
        assert api.handle(plot, {"run": "a"}).body.startswith(b"<?xml")


def test_problem_and_trajectory_pages(api: Api) -> None:
    page = api.data("problem", {"run": "a", "task": "p3"})
    assert [g["sample"] for g in page["grid"]] == [0, 1]
    assert [g["cells"][0]["passed"] for g in page["grid"]] == [False, True]
    assert [e["resolved"] for e in page["evaluations"]] in ([0, 1], [False, True])
    traj = api.data("trajectory", {"run": "a", "task": "p3", "sample": "1"})
    (turn,) = traj["turns"]
    assert turn["cost"] == {"calls": 1, "prompt_tokens": 100, "completion_tokens": 10,
                            "usd": 0.25}
    assert turn["diff"]["text"] == "+a\n" and turn["execs"]["patched"]["exit_code"] == 0


def test_compare_pairs_common_problems(api: Api) -> None:
    out = api.data("compare", {"a": "a", "b": "b"})
    assert out["common"] == 4  # p4 is only in b
    assert (out["only_a"], out["only_b"]) == (2, 1)  # p0, p3 vs p1
    assert out["p_value"] == mcnemar_exact(2, 1) == 1.0
    assert [r["task_id"] for r in out["rows"]] == ["p0", "p1", "p3", "p2"]  # flipped first
    assert out["summary"]["a"]["coverage"] == 0.75 and out["summary"]["b"]["coverage"] == 0.5
    assert out["summary"]["a"]["selected"] == 0.25 and out["summary"]["b"]["selected"] is None


def test_errors_and_read_only(api: Api) -> None:
    assert api.handle("run", {"run": "zzz"}).status == 404
    assert api.handle("runs", {"sort": "bogus"}).status == 400
    assert api.handle("trajectory", {"run": "a", "task": "p0", "sample": "x"}).status == 400
    with pytest.raises(StoreError):
        api.db.rows("DELETE FROM run")
    assert len(api.data("runs", {})["runs"]) == 2

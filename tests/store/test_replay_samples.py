"""``agentlab budget replay`` over rows written through the store API (SQLite and Postgres):
the stored matrix, signals and costs read back exactly, the table matches a direct computation,
and the replay adds no ``llm_call`` row."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agentlab.budget.replay import agreement_signal
from agentlab.cli import app
from agentlab.config import load_experiment
from agentlab.coordinator.launch import new_request
from agentlab.coordinator.replay import load_matrix, replay_run
from agentlab.errors import ConfigError
from agentlab.store import Store, open_store
from agentlab.store import runs as run_rows
from agentlab.store.budget_queries import count_llm_calls, read_stored_samples
from agentlab.store.eval_store import EvalStore, EvaluationRecord
from agentlab.store.llm_log import StoreCallRecorder
from agentlab.store.run_store import RunStore
from agentlab.store.tables import SandboxExec
from agentlab.types import CallContext, Candidate, ChatResponse, Choice, Cost, Usage
from tests.coordinator.conftest import write_experiment

PROBLEMS = [f"HumanEval/{i}" for i in range(6)]
WIDTH = 4
# Hidden-test outcome, own-test signal and change (sha) per (problem, sample).
CORRECT = np.array(
    [
        [0, 0, 1, 1],
        [0, 0, 0, 0],
        [1, 1, 1, 1],
        [0, 1, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 1],
    ],
    dtype=bool,
)
OWN = np.array(
    [
        [0, 0, 1, 0],
        [1, 0, 0, 0],
        [1, 1, 1, 1],
        [0, 1, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 1],
    ],
    dtype=bool,
)
SHAS = [
    ["a", "b", "c", "c"],
    ["d", "d", "", "e"],
    ["f", "f", "f", "f"],
    ["g", "h", "i", "j"],
    ["", "", "", ""],
    ["k", "l", "m", "n"],
]


def _usd(i: int, s: int) -> float:
    return 0.01 * (1 + i) + 0.001 * s


async def _write_run(store: Store, tmp_path: Path, run_id: str, *, priced: bool = True) -> None:
    path = write_experiment(tmp_path, "http://127.0.0.1:9/v1", PROBLEMS, dataset="humaneval")
    request = new_request(load_experiment(path), path, run_id)
    await run_rows.start_run(store, run_id, kind="run", name="t", config=request.stored())
    runs, evals, calls = RunStore(store), EvalStore(store), StoreCallRecorder(store)
    for i, task in enumerate(PROBLEMS):
        for s in range(WIDTH):
            first = {"step": 0, "kind": "complete", "completion": f"c{s}"}
            await runs.save_turn(run_id, task, s, "completion", 0, "complete", json.dumps(first))
            if OWN[i, s]:
                done = {"step": 1, "kind": "passed", "completion": f"c{s}"}
                await runs.save_turn(run_id, task, s, "completion", 1, "passed", json.dumps(done))
            await runs.save_candidate(
                run_id, Candidate(task_id=task, sample=s, patch="x", patch_sha=SHAS[i][s])
            )
            await evals.record(
                run_id,
                EvaluationRecord(
                    task,
                    "m",
                    s,
                    "resolved" if CORRECT[i, s] else "unresolved",
                    bool(CORRECT[i, s]),
                    True,
                    patch_sha="raw",
                ),
            )
            response = ChatResponse(
                model="m",
                choices=(Choice(index=0, text="x"),),
                usage=Usage(prompt_tokens=100 + s, completion_tokens=10 * (i + 1)),
            )
            await calls.record_call(
                context=CallContext(run_id=run_id, task_id=task, sample=s, role="editing"),
                endpoint="e",
                model="m",
                request_hash=f"{i}-{s}",
                response=response,
                cost=Cost(usd=_usd(i, s) if priced else 0.0),
                attempts=1,
                cache_hit=False,
                error=None,
            )
    # One extra graded sample on problem 0: beyond the common width, ignored.
    await evals.record(run_id, EvaluationRecord(PROBLEMS[0], "m", WIDTH, "resolved", True, True))
    store.call(
        lambda s: s.add(
            SandboxExec(
                run_id=run_id,
                task_id=PROBLEMS[1],
                command="t",
                exit_code=0,
                duration_s=1.0,
                usd=0.05,
            )
        )
    )


@pytest.fixture
def store(store_url: str) -> object:
    st = open_store(store_url)
    try:
        yield st
    finally:
        st.close()


def test_stored_samples_read_back_exactly(store: Store, tmp_path: Path) -> None:
    asyncio.run(_write_run(store, tmp_path, "r1"))
    matrix, samples, note = load_matrix(store, "r1", "own-tests")
    assert samples.instance_ids == PROBLEMS and samples.samples == WIDTH and samples.dropped == 1
    assert np.array_equal(matrix.correct, CORRECT)
    assert np.array_equal(matrix.signal, OWN)
    assert samples.patch_sha == SHAS  # the candidates' normalised sha, not the eval's
    expected = np.array([[_usd(i, s) for s in range(WIDTH)] for i in range(len(PROBLEMS))])
    expected[1] += 0.05 / (WIDTH + 0)  # problem 1's sandbox dollars over its 4 graded samples
    assert np.allclose(matrix.cost, expected) and matrix.unit == "USD"
    assert "llm_call.usd" in note
    agree, _, _ = load_matrix(store, "r1", "agreement")
    assert np.array_equal(agree.signal, agreement_signal(SHAS))
    none, _, _ = load_matrix(store, "r1", "none")
    assert not none.signal.any()


def test_a_free_model_is_replayed_in_tokens(store: Store, tmp_path: Path) -> None:
    asyncio.run(_write_run(store, tmp_path, "free", priced=False))
    # The sandbox row carries dollars: drop them too, so every stored dollar is 0.
    from sqlmodel import delete

    store.call(lambda s: s.exec(delete(SandboxExec)))
    matrix, samples, note = load_matrix(store, "free", "own-tests")
    tokens = np.array([[100 + s + 10 * (i + 1) for s in range(WIDTH)] for i in range(6)])
    assert matrix.unit == "tokens" and np.allclose(matrix.cost, tokens)
    assert "tokens" in note and samples.tokens == tokens.tolist()


def test_replay_table_matches_the_stored_matrix_and_calls_no_model(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    asyncio.run(_write_run(store, tmp_path, "r2"))
    before = count_llm_calls(store)
    result = replay_run(store, "r2", policy="adaptive", k=2, signal="own-tests")
    uniform = result.report.uniform
    assert uniform.coverage == pytest.approx(CORRECT[:, :2].any(axis=1).mean())
    assert uniform.cost == pytest.approx(
        sum(_usd(i, s) for i in range(6) for s in range(2)) + 0.025
    )
    assert uniform.samples == 12
    assert "this run's own hidden-test outcomes" in (result.report.knowledge.source or "")

    out = CliRunner().invoke(
        app,
        [
            "budget",
            "replay",
            "r2",
            "--policy",
            "adaptive",
            "--k",
            "2",
            "--signal",
            "agreement",
            "--store",
            store_url,
        ],
    )
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "6 problems x 4 graded samples (1 beyond" in text
    assert "New LLM calls: 0" in text
    assert re.search(r"uniform .*k=2 .*12 .*0\.5", text), text
    assert "oracle" in text and "adaptive" in text
    assert count_llm_calls(store) == before


def test_replay_errors_are_one_line(store: Store, store_url: str, tmp_path: Path) -> None:
    asyncio.run(_write_run(store, tmp_path, "r3"))
    asyncio.run(run_rows.start_run(store, "ev", kind="eval", name="e", config={}))
    asyncio.run(
        EvalStore(store).record(
            "ev", EvaluationRecord("HumanEval/0", "m", 0, "resolved", True, True)
        )
    )
    with pytest.raises(ConfigError, match="no own-test signal; use --signal agreement"):
        replay_run(store, "ev", policy="adaptive", signal="own-tests")
    with pytest.raises(ConfigError, match="not in the store"):
        read_stored_samples(store, "missing")
    runner = CliRunner()
    out = runner.invoke(app, ["budget", "replay", "r3", "--k", "9", "--store", store_url])
    assert isinstance(out.exception, ConfigError) and "use 1..4" in str(out.exception)
    out = runner.invoke(app, ["budget", "replay", "r3", "--signal", "vibes", "--store", store_url])
    assert isinstance(out.exception, ConfigError) and "--signal 'vibes'" in str(out.exception)


def test_selection_outcomes_per_method(store: Store, tmp_path: Path) -> None:
    asyncio.run(_write_run(store, tmp_path, "sel"))
    from agentlab.store.budget_queries import read_selection_outcomes
    from agentlab.store.scoring_store import ScoringStore

    assert read_selection_outcomes(store, "sel") == []  # no picks stored: nothing measured
    rows = asyncio.run(ScoringStore(store).candidates("sel"))
    verdicts = {r.id: bool(CORRECT[PROBLEMS.index(r.task_id), r.sample]) for r in rows if r.id}
    asyncio.run(ScoringStore(store).set_resolved(verdicts))
    first = {r.task_id: r.id for r in sorted(rows, key=lambda r: -r.sample)}  # the sample 0 row

    async def picks() -> None:
        for task, cid in first.items():
            await ScoringStore(store).save_selection("sel", task, "vote", cid)

    asyncio.run(picks())
    asyncio.run(
        StoreCallRecorder(store).record_call(
            context=CallContext(run_id="sel", task_id=PROBLEMS[0], role="verifier_judge"),
            endpoint="e",
            model="m",
            request_hash="j",
            response=None,
            cost=Cost(usd=0.6),
            attempts=1,
            cache_hit=False,
            error=None,
        )
    )
    (vote,) = read_selection_outcomes(store, "sel")
    assert vote.method == "vote" and vote.problems == 6 and vote.k == WIDTH
    assert vote.coverage == pytest.approx(CORRECT.any(axis=1).mean())
    assert vote.selected == pytest.approx(CORRECT[:, 0].mean())
    assert vote.model_usd == pytest.approx(0.6)


def test_a_pilot_run_supplies_the_policy_prior(store: Store, tmp_path: Path) -> None:
    asyncio.run(_write_run(store, tmp_path, "pilot"))
    asyncio.run(_write_run(store, tmp_path, "main"))
    result = replay_run(store, "main", policy="oracle", k=3, signal="agreement", prior_run="pilot")
    knowledge = result.report.knowledge
    assert knowledge is not None and knowledge.source == "pilot run pilot (6 x 4)"
    pilot, _, _ = load_matrix(store, "pilot", "agreement")
    assert (knowledge.false_positive, knowledge.false_negative) == pilot.verifier_rates()
    assert [r.policy for r in result.report.rows] == ["uniform", "oracle", "oracle"]

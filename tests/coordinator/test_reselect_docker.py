"""``agentlab select --from run:ID --k K``: re-selection of a stored HumanEval run from its first
K samples, CodeT in real sandboxes, no model called; selected vs pass@1 vs coverage at K."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from agentlab.cli import app
from agentlab.config import load_experiment
from agentlab.coordinator.kinds.humaneval import canonical_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.errors import ConfigError
from agentlab.llm import ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import ScriptedServer
from agentlab.scoring.diffs import patch_sha
from agentlab.store import Store, open_store
from agentlab.store import runs as run_rows
from agentlab.store.budget_queries import count_llm_calls
from agentlab.store.run_store import RunStore
from agentlab.store.run_tables import CandidateRow
from agentlab.store.scoring_tables import Selection
from agentlab.types import Candidate
from tests.coordinator.conftest import write_experiment

pytestmark = pytest.mark.docker

HE = ["HumanEval/53", "HumanEval/23"]  # add(x, y), strlen(string)
RIGHT = {"HumanEval/53": "    return x + y\n", "HumanEval/23": "    return len(string)\n"}
WRONG = {"HumanEval/53": "    return x - y\n", "HumanEval/23": "    return 0\n"}
TESTS = {"HumanEval/53": "assert add(2, 3) == 5", "HumanEval/23": "assert strlen('ab') == 2"}
# Per problem, per sample: is the completion right? (stored order = sample index)
PLAN = {"HumanEval/53": [False, True, True], "HumanEval/23": [True, True, False]}


async def _write(
    store: Store, tmp_path: Path, run_id: str, base_url: str = "http://127.0.0.1:9/v1"
) -> None:
    path = write_experiment(tmp_path, base_url, HE, dataset="humaneval", k=3)
    request = new_request(load_experiment(path), path, run_id)
    await run_rows.start_run(store, run_id, kind="run", name="t", config=request.stored())
    runs = RunStore(store)
    for task, plan in PLAN.items():
        for s, ok in enumerate(plan):
            body = RIGHT[task] if ok else WRONG[task]
            await runs.save_turn(
                run_id,
                task,
                s,
                "selftest",
                0,
                "write",
                json.dumps({"step": 0, "tests": TESTS[task]}),
            )
            await runs.save_candidate(
                run_id,
                Candidate(
                    task_id=task, sample=s, patch=body, patch_sha=patch_sha(body), resolved=ok
                ),
            )


def _select(url: str, source: str, k: int, run_id: str, *more: str) -> str:
    result = CliRunner().invoke(
        app,
        [
            "select",
            "--from",
            f"run:{source}",
            "--k",
            str(k),
            "--run-id",
            run_id,
            "--store",
            url,
            *more,
        ],
        terminal_width=300,
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    ("k", "selected", "pass1", "coverage"),
    [
        # k=1: add's only sample is wrong, strlen's right
        (1, 0.5, 0.5, 0.5),
        # k=2: CodeT picks add's passing sample; pass@1 is (1/2 + 2/2) / 2
        (2, 1.0, 0.75, 1.0),
    ],
)
def test_codet_reselection_at_k_uses_only_the_first_k_samples(
    base_image: str, tmp_path: Path, k: int, selected: float, pass1: float, coverage: float
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    store = open_store(url)
    try:
        asyncio.run(_write(store, tmp_path, "src"))
        before = count_llm_calls(store)
        text = _select(url, "src", k, f"sel{k}")
        assert count_llm_calls(store) == before  # CodeT runs programs, never a model
        picks = store.call(
            lambda s: list(s.exec(select(Selection).where(Selection.run_id == f"sel{k}")).all())
        )
        cands = store.call(
            lambda s: list(
                s.exec(select(CandidateRow).where(CandidateRow.run_id == f"sel{k}")).all()
            )
        )
    finally:
        store.close()
    assert sorted(c.sample for c in cands) == sorted(list(range(k)) * 2)
    assert {(p.task_id, p.method) for p in picks} == {(t, "codet") for t in HE}
    assert (
        f"run src at k={k} ({2 * k} candidates, sample index < {k}): selected {selected:.3f}, "
        f"pass@1 (mean resolved) {pass1:.3f}, coverage {coverage:.3f}"
    ) in text
    assert "llm_call rows added: 0 (no configured method asks a model)" in text


def test_a_real_run_reselected_at_a_smaller_k_calls_no_model(
    base_image: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/run.db"
    store = open_store(url)
    try:
        model = ScriptedModel(canonical_rules())
        with ScriptedServer(model) as server:
            path = write_experiment(
                tmp_path, server.base_url, HE, k=2, n=1, dataset="humaneval", store=url
            )
            outcome = asyncio.run(
                run_pipeline(new_request(load_experiment(path), path, "real"), store)
            )
            assert outcome.status == "finished", outcome
            served = model.calls
            before = count_llm_calls(store)
            text = _select(url, "real", 1, "again")
            assert count_llm_calls(store) == before
            assert model.calls == served  # the server saw no request
    finally:
        store.close()
    assert re.search(r"selected 1\.000, pass@1 \(mean resolved\) 1\.000, coverage 1\.000", text)


def test_another_selector_over_a_stored_run_with_set(base_image: str, tmp_path: Path) -> None:
    """``--set`` swaps in a verifier the source run never used: the judge scores the CodeT
    survivors through the run's endpoints (scripted over real HTTP); its calls are counted."""
    judge = Rule(
        system=r"SCORE: <0-10>",
        user=r"return x \+ y|return len\(string\)",
        replies=("Correct.\nSCORE: 9",),
    )
    model = ScriptedModel([judge, Rule(system=r"SCORE: <0-10>", replies=("No.\nSCORE: 1",))])
    url = f"sqlite:///{tmp_path}/s.db"
    store = open_store(url)
    try:
        with ScriptedServer(model) as server:
            asyncio.run(_write(store, tmp_path, "src", server.base_url))
            before = count_llm_calls(store)
            text = _select(
                url,
                "src",
                3,
                "judged",
                "--set",
                "selection.methods=[judge]",
                "--set",
                "models.verifier.endpoint=scripted-http",
            )
            added = count_llm_calls(store) - before
        picks = store.call(
            lambda s: list(s.exec(select(Selection).where(Selection.run_id == "judged")).all())
        )
        chosen = store.call(
            lambda s: {
                p.task_id: s.get(CandidateRow, p.candidate_id) for p in picks if p.method == "judge"
            }
        )
    finally:
        store.close()
    assert {(p.task_id, p.method) for p in picks} == {
        (t, m) for t in HE for m in ("codet", "judge")
    }
    assert all(c is not None and c.resolved for c in chosen.values())
    assert added > 0 and f"llm_call rows added: {added}; judge ask the run's models" in text


def test_set_errors_are_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    store = open_store(url)
    try:
        asyncio.run(_write(store, tmp_path, "src"))
    finally:
        store.close()
    runner = CliRunner()
    base = ["select", "--from", "run:src", "--store", url]
    no_k = runner.invoke(app, [*base, "--set", "selection.top_m=2"])
    assert isinstance(no_k.exception, ConfigError) and "--set needs --k" in str(no_k.exception)
    bad = runner.invoke(app, [*base, "--k", "2", "--set", "selection.top_m=0"])
    assert isinstance(bad.exception, ConfigError)
    assert str(bad.exception).startswith("run src: override selection.top_m:")
    assert "\n" not in str(bad.exception)

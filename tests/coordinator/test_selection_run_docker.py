"""``agentlab run`` ending with selection: CodeT plus a judge on HumanEval, the vote matrix on
SWE-style problems; the scripted model answers over real HTTP, sandboxes are real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from agentlab.cli import app
from agentlab.config import load_experiment
from agentlab.coordinator.kinds.humaneval import canonical_rules
from agentlab.coordinator.kinds.swe_gold import gold_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.coordinator.selection_report import build_report
from agentlab.llm import ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.scoring_store import ScoringStore
from agentlab.store.scoring_tables import Selection
from agentlab.store.tables import LLMCall
from agentlab.tasks.swebench import Dataset
from tests.coordinator.conftest import write_experiment

pytestmark = pytest.mark.docker

HE = ["HumanEval/53", "HumanEval/23"]  # add(x, y), strlen(string)
TESTS = {
    "add": "assert add(2, 3) == 5\nassert add(0, 0) == 0",
    "strlen": "assert strlen('ab') == 2",
}


def _he_rules() -> list[Rule]:
    asks = [
        Rule(
            user=rf"Write three assert statements that check `{name}`",
            replies=(f"```python\n{t}\n```",),
        )
        for name, t in TESTS.items()
    ]
    judge = Rule(system=r"SCORE: <0-10>", replies=("Looks right.\nSCORE: 8",))
    return [*asks, judge, *canonical_rules()]


def _selections(store: Store, run_id: str) -> set[tuple[str, str]]:
    rows = store.call(lambda s: s.exec(select(Selection).where(Selection.run_id == run_id)).all())
    return {(r.task_id, r.method) for r in rows}


async def test_humaneval_run_ends_with_codet_and_the_judge(
    base_image: str, store: Store, tmp_path: Path, run_id: str
) -> None:
    with ScriptedServer(ScriptedModel(_he_rules())) as server:
        extra = {"selection": {"enabled": True, "methods": ["judge"], "top_m": 2}}
        path = write_experiment(
            tmp_path, server.base_url, HE, k=2, n=2, dataset="humaneval", extra=extra
        )
        outcome = await run_pipeline(new_request(load_experiment(path), path, run_id), store)
    assert outcome.status == "finished", outcome
    assert _selections(store, run_id) == {(t, m) for t in HE for m in ("codet", "judge")}
    report = await build_report(ScoringStore(store), run_id)
    assert report.total.coverage == 1.0 and report.total.selected == 1.0
    roles = store.call(
        lambda s: {c.role for c in s.exec(select(LLMCall).where(LLMCall.run_id == run_id)).all()}
    )
    assert "verifier" in roles  # the judge ran as models.verifier


def test_swe_run_ends_with_the_vote_matrix_and_the_cli_prints_selected(
    base_image: str, mini: Dataset, store: Store, tmp_path: Path, run_id: str
) -> None:
    one = ["agentlab-mini__confini-1"]
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        url = f"sqlite:///{tmp_path}/cli.db"
        extra = {"selection": {"enabled": True}}
        path = write_experiment(tmp_path, server.base_url, one, k=2, n=2, store=url, extra=extra)
        result = CliRunner().invoke(app, ["run", str(path), "--run-id", run_id])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert re.search(r"coverage 100\.0% selected 100\.0% random pick 100\.0%", text), text

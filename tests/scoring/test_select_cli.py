"""``agentlab select`` as a user runs it: an ensemble of a run and a predictions file, the
selection model and a log-prob judge over real HTTP (the scripted test server), then
``export`` and ``report`` -- every result read back with SQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from agentlab.cli import app
from agentlab.coordinator.kinds.swe_data import resolve_dataset
from agentlab.llm.testing import Rule, ScriptedModel, ScriptedServer
from agentlab.store import open_store
from agentlab.store.scoring_store import ScoringStore
from agentlab.types import Candidate
from tests.scoring import pool

pytestmark = pytest.mark.docker


def _seed(url: str, run_id: str) -> str:
    gold = resolve_dataset("agentlab-mini").by_id()[pool.INSTANCE].patch

    async def go() -> None:
        st = open_store(url)
        try:
            scoring = ScoringStore(st)
            await scoring.ensure_run(run_id, kind="run", name="pool", config={})
            items = [
                Candidate(task_id=pool.INSTANCE, sample=i, patch=patch, test=test)
                for i, (patch, test) in enumerate(pool.pool(gold).values())
            ]
            await scoring.import_candidates(run_id, "", items)
        finally:
            st.close()

    asyncio.run(go())
    return gold


def _sql(url: str, query: str, **params: Any) -> list[Any]:
    st = open_store(url)
    try:
        with st.engine.connect() as conn:
            return list(conn.execute(text(query), params))
    finally:
        st.close()


def test_ensemble_select_export_report(tmp_path: Path, base_image: str, run_id: str) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    gold = _seed(url, run_id)
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"instance_id": pool.INSTANCE, "model_name_or_path": m, "model_patch": p})
            + "\n"
            for m, p in (("other", gold), ("lazy", ""))
        )
    )
    model = ScriptedModel(
        [
            Rule(
                system="choosing the one correct patch",
                replies=(f"```python\n{pool.DISTINGUISH}```", "PICK: 1"),
            ),
            Rule(system="YES or NO", user=r"start=1\)", replies=("YES",)),
            Rule(system="YES or NO", replies=("NO",)),
        ]
    )
    sel = f"{run_id}-sel"
    with ScriptedServer(model) as server:
        endpoints = tmp_path / "endpoints.yaml"
        endpoints.write_text(
            f"- {{type: openai, name: chooser, model: scripted, base_url: '{server.base_url}'}}\n"
        )
        result = CliRunner().invoke(
            app,
            [
                "select", "--from", f"run:{run_id}", "--from", str(preds), "--store", url,
                "--run-id", sel, "--models", str(endpoints), "--selection-model", "chooser",
                "--judge-model", "chooser", "--logprobs", "--top-m", "3", "--max-sandboxes", "2",
            ],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "selection efficiency 100.0%" in result.output
    sources = {r[0] for r in _sql(url, "SELECT source FROM candidate WHERE run_id = :r", r=sel)}
    assert sources == {f"run:{run_id}", "preds.jsonl:other", "preds.jsonl:lazy"}
    roles = _sql(url, "SELECT role, count(*) FROM llm_call WHERE run_id = :r GROUP BY role", r=sel)
    assert dict(roles) == {"selection": 2, "verifier_judge": 3}
    scores = _sql(
        url,
        "SELECT c.patch, v.score FROM verifier_score v JOIN candidate c ON c.id = v.candidate_id "
        "WHERE v.run_id = :r AND v.method = 'logprob'",
        r=sel,
    )
    assert sorted(s for _p, s in scores) == [0.0, 1.0, 1.0]
    assert all((s == 1.0) == ("start=1)" in p) for p, s in scores)
    # The same change from the predictions file merged with the run's gold candidates.
    votes = _sql(
        url,
        "SELECT count(DISTINCT representative_id) FROM candidate_vote WHERE run_id = :r",
        r=sel,
    )
    assert votes[0][0] == 5

    out = tmp_path / "final.jsonl"
    exported = CliRunner().invoke(app, ["export", sel, "--store", url, "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["instance_id"] for r in rows] == [pool.INSTANCE]
    assert "start=1)" in rows[0]["model_patch"]

    report = CliRunner().invoke(app, ["report", sel, "--store", url])
    assert report.exit_code == 0, report.output
    assert "coverage 100.0%" in report.output and "cost selection: 2 calls" in report.output

    missing = CliRunner().invoke(app, ["report", "no-such-run", "--store", url])
    assert missing.exit_code != 0

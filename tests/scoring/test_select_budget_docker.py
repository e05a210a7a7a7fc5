"""``agentlab select --budget``: selection spend (model calls and sandbox time) is capped,
recorded in ``llm_call`` / ``sandbox_exec`` and on the run row. The scripted model over real
HTTP, the real Docker engine, real SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from agentlab.cli import app
from agentlab.llm.testing import Rule, ScriptedModel, ScriptedServer
from agentlab.store import open_store
from tests.scoring import pool
from tests.scoring.test_select_cli import _seed

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _one(url: str, query: str, **params: object) -> tuple[object, ...]:
    st = open_store(url)
    try:
        with st.engine.connect() as conn:
            return tuple(conn.execute(text(query), params).one())
    finally:
        st.close()


def _charged(url: str, run: str) -> float:
    llm = _one(url, "SELECT coalesce(sum(usd), 0) FROM llm_call WHERE run_id = :r", r=run)[0]
    box = _one(url, "SELECT coalesce(sum(usd), 0) FROM sandbox_exec WHERE run_id = :r", r=run)
    return float(llm) + float(box[0])  # type: ignore[arg-type]


def _select(url: str, source: str, sel: str, endpoints: Path, budget: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        [
            "select", "--from", source, "--store", url, "--run-id", sel,
            "--models", str(endpoints), "--selection-model", "chooser", "--top-m", "3",
            "--max-sandboxes", "2", "--no-grade", "--budget", budget,
        ],
    )  # fmt: skip
    return result.exit_code, result.output + repr(result.exception)


def test_selection_spend_is_recorded_and_capped(
    tmp_path: Path, base_image: str, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text(
        "version: test\nsandbox_cpu_hour_usd: 0.05\nmodels:\n  scripted:\n"
        "    kind: api\n    input_per_mtok: 1.0\n    output_per_mtok: 2.0\n"
    )
    monkeypatch.setenv("AGENTLAB_PRICING", str(pricing))
    url = f"sqlite:///{tmp_path / 'sel.db'}"
    _seed(url, run_id)
    model = ScriptedModel(
        [
            Rule(
                system="choosing the one correct patch",
                replies=(f"```python\n{pool.DISTINGUISH}```", "PICK: 1"),
            )
        ]
    )
    with ScriptedServer(model) as server:
        endpoints = tmp_path / "endpoints.yaml"
        endpoints.write_text(
            f"- {{type: openai, name: chooser, model: scripted, base_url: '{server.base_url}'}}\n"
        )
        code, out = _select(url, f"run:{run_id}", "sel-free", endpoints, "1.0")
        assert code == 0, out
        spent, status = _one(url, "SELECT spent_usd, status FROM run WHERE id = 'sel-free'")
        calls = _one(url, "SELECT count(*) FROM llm_call WHERE run_id = 'sel-free'")[0]
        execs = _one(url, "SELECT count(*) FROM sandbox_exec WHERE run_id = 'sel-free'")[0]
        assert status == "finished" and calls == 2 and execs > 0  # type: ignore[operator]
        assert spent == pytest.approx(_charged(url, "sel-free")) and 0 < spent <= 1.0  # type: ignore[operator]

        # A cap far below what selection costs: refused before it is passed, one-line error.
        code, out = _select(url, f"run:{run_id}", "sel-capped", endpoints, "0.0005")
    assert code != 0 and "budget cap" in out, out
    spent, status = _one(url, "SELECT spent_usd, status FROM run WHERE id = 'sel-capped'")
    assert status == "budget_exhausted"
    assert spent == pytest.approx(_charged(url, "sel-capped")) and spent <= 0.0005  # type: ignore[operator]

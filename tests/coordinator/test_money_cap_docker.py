"""The money acceptance test: a run under a cap of $X never records more than $X in total,
counting sandbox time, failed calls and selection, under injected faults (429s, 5xx,
timeouts, malformed replies) and a cancellation mid-run followed by ``--resume``.

The scripted model is served over real HTTP, sandboxes run on the real Docker engine, and the
store is real SQLite and real PostgreSQL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from typer.testing import CliRunner

from agentlab.cli import app
from agentlab.config import load_experiment
from agentlab.coordinator.engine import Outcome
from agentlab.coordinator.kinds.swe_gold import gold_rules
from agentlab.coordinator.launch import RunRequest, new_request, resumed_request, run_pipeline
from agentlab.errors import BudgetExceededError
from agentlab.llm import Fault, ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store, open_store
from agentlab.tasks.swebench import Dataset
from tests.coordinator.conftest import write_experiment
from tests.store.conftest import store_url  # noqa: F401 (the SQLite + Postgres fixture)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CAP = 0.1
INSTANCES = ["agentlab-mini__confini-1", "agentlab-mini__spans-1"]


def faults(model: ScriptedModel) -> None:
    """Every fault the scripted server has, queued for the next requests in this order."""
    model.inject(Fault(kind="rate_limit", times=3, retry_after=0.05))
    model.inject(Fault(kind="server_error", times=3))
    model.inject(Fault(kind="hang", times=2, hang_s=10))
    model.inject(Fault(kind="malformed", times=2))


def scalar(store: Store, query: str, **params: object) -> object:
    with store.engine.connect() as conn:
        return conn.execute(text(query), params).scalar_one()


def charged(store: Store, run_id: str) -> float:
    """Everything recorded against ``run_id``: LLM calls (failed ones too) and sandbox time."""
    llm = scalar(store, "SELECT coalesce(sum(usd), 0) FROM llm_call WHERE run_id = :r", r=run_id)
    box = scalar(
        store, "SELECT coalesce(sum(usd), 0) FROM sandbox_exec WHERE run_id = :r", r=run_id
    )
    return float(llm) + float(box)  # type: ignore[arg-type]


def short_timeouts(folder: Path) -> None:
    """A hung request times out in 2 s, with three attempts per call."""
    path = folder / "endpoints.yaml"
    [endpoint] = yaml.safe_load(path.read_text())
    endpoint["timeout_s"] = 2
    endpoint["retry"] = {"max_attempts": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    path.write_text(yaml.safe_dump([endpoint]))


async def three_invocations(
    path: Path,
    store: Store,
    backend: object,
    run_id: str,
    server: ScriptedServer,
    model: ScriptedModel,
    pricing: Path,
) -> str:
    """Run into the faults; resume and cancel mid-flight (Ctrl-C); resume to the end."""

    async def invoke(request: RunRequest) -> Outcome:
        return await run_pipeline(request, store, pricing=pricing)

    await invoke(new_request(load_experiment(path), path, run_id))
    assert charged(store, run_id) <= CAP
    model.inject(Fault(kind="hang", times=2, hang_s=10))  # something is in flight at the cancel
    before = len(server.requests)
    task = asyncio.create_task(invoke(resumed_request(store, run_id)))
    for _ in range(6000):
        if len(server.requests) >= before + 4 or task.done():
            break
        await asyncio.sleep(0.01)
    assert not task.done(), task.result()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert charged(store, run_id) <= CAP
    return (await invoke(resumed_request(store, run_id))).status


def test_a_capped_run_and_its_selection_never_record_more_than_the_cap(
    store_url: str,  # noqa: F811
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    tmp_path: Path,
    run_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text(
        "version: test\nsandbox_cpu_hour_usd: 0.05\nmodels:\n"
        "  scripted-gold: {kind: api, input_per_mtok: 1.0, output_per_mtok: 2.0}\n"
        "  scripted: {kind: api, input_per_mtok: 1.0, output_per_mtok: 2.0}\n"
    )
    monkeypatch.setenv("AGENTLAB_PRICING", str(pricing))
    extra = {
        "budget": {"cap_usd": CAP},
        "models": {"default": {"endpoint": "scripted-http", "max_tokens": 256}},
        "concurrency": {"llm_calls": 4, "sandboxes": 2},
    }
    model = ScriptedModel(gold_rules(mini))
    faults(model)
    store = open_store(store_url)
    try:
        with ScriptedServer(model) as server:
            path = write_experiment(
                tmp_path, server.base_url, INSTANCES, k=4, n=1, store=store_url, extra=extra
            )
            short_timeouts(tmp_path)
            status = asyncio.run(
                three_invocations(path, store, docker_backend, run_id, server, model, pricing)
            )
            statuses = {r.status for r in server.requests}
        assert status in ("finished", "budget_exhausted")
        assert {429, 500} <= statuses  # the faults reached the client
        spent_run = charged(store, run_id)
        failed_charged = scalar(
            store,
            "SELECT count(*) FROM llm_call WHERE run_id = :r AND error IS NOT NULL AND usd > 0",
            r=run_id,
        )
        assert failed_charged, "no failed call was charged"
        assert 0 < spent_run <= CAP
        recorded = scalar(store, "SELECT spent_usd FROM run WHERE id = :r", r=run_id)
        assert recorded == pytest.approx(spent_run)

        # Selection gets what is left of the cap, and faults of its own.
        chooser = ScriptedModel(
            [Rule(system="choosing the one correct patch", replies=("PICK: 1",))]
        )
        chooser.inject(Fault(kind="rate_limit", times=1, retry_after=0.05))
        chooser.inject(Fault(kind="server_error", times=1))
        with ScriptedServer(chooser) as server:
            endpoints = tmp_path / "select-endpoints.yaml"
            endpoints.write_text(
                f"- {{type: openai, name: chooser, model: scripted, base_url: "
                f"'{server.base_url}'}}\n"
            )
            left = CAP - spent_run
            result = CliRunner().invoke(
                app,
                [
                    "select", "--from", f"run:{run_id}", "--store", store_url,
                    "--run-id", f"{run_id}-sel", "--models", str(endpoints),
                    "--selection-model", "chooser", "--no-grade", "--max-sandboxes", "2",
                    "--budget", f"{left:.9f}",
                ],
            )  # fmt: skip
        capped = isinstance(result.exception, BudgetExceededError)
        assert result.exit_code == 0 or capped, result.output + repr(result.exception)
        spent_sel = charged(store, f"{run_id}-sel")
        assert spent_run + spent_sel <= CAP
    finally:
        store.close()

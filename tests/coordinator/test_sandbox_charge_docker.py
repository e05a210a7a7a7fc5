"""Sandbox time is charged to the run's ledger and hard cap: wall seconds x CPUs reserved.

Real Docker engine, real SQLite; the scripted model over real HTTP for the whole run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import select

from agentlab.config import load_experiment
from agentlab.coordinator.kinds.swe_gold import gold_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.coordinator.report import build_report
from agentlab.coordinator.sandboxes import SandboxPool
from agentlab.errors import BudgetExceededError
from agentlab.llm import BudgetLedger, ComputeMeter, ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.tables import LLMCall, Run, SandboxExec
from agentlab.tasks.swebench import Dataset
from agentlab.types import SandboxSpec
from tests.coordinator.conftest import write_experiment

pytestmark = pytest.mark.docker

RATE = 36.0  # $/CPU-hour: a round 1 cent per CPU-second, so the numbers read easily


def per_cpu_second(cpu_s: float) -> float:
    return cpu_s * RATE / 3600


def exec_rows(store: Store, run_id: str) -> list[SandboxExec]:
    return store.call(
        lambda s: list(s.exec(select(SandboxExec).where(SandboxExec.run_id == run_id)).all())
    )


async def test_an_exec_is_charged_wall_seconds_times_cpus(
    docker_backend: object, spec: SandboxSpec, store: Store, run_id: str
) -> None:
    store.call(lambda s: s.add(Run(id=run_id, kind="run")))
    ledger = BudgetLedger(10.0)
    pool = SandboxPool(
        docker_backend,  # type: ignore[arg-type]
        2,
        store,
        run_id,
        meter=ComputeMeter(ledger, per_cpu_second, grace_s=5),
    )
    spec = spec.model_copy(update={"cpus": 0.5})
    async with pool.open(spec, "t1") as sandbox:
        done = await sandbox.exec("sleep 1", timeout=30)
    assert done.ok
    [row] = exec_rows(store, run_id)
    assert row.cpu_seconds >= 0.5 * 1.0  # at least the sleep, on half a CPU
    assert row.usd == pytest.approx(per_cpu_second(row.cpu_seconds))
    assert ledger.spent_usd == pytest.approx(row.usd) and ledger.reserved_usd == 0
    assert ledger.scope_spent_usd("t1") == pytest.approx(row.usd)


async def test_an_exec_that_could_cross_the_cap_never_starts(
    docker_backend: object, spec: SandboxSpec, store: Store, run_id: str
) -> None:
    # 60 s timeout + 5 s grace on one CPU could cost $0.65; only $0.50 is left.
    ledger = BudgetLedger(0.5)
    meter = ComputeMeter(ledger, per_cpu_second, grace_s=5)
    pool = SandboxPool(docker_backend, 1, meter=meter)  # type: ignore[arg-type]
    async with pool.open(spec.model_copy(update={"cpus": 1.0}), "t1") as sandbox:
        with pytest.raises(BudgetExceededError, match="sandbox exec"):
            await sandbox.exec("touch /tmp/ran", timeout=60)
        ledger.cap_usd = None  # lift the cap to look inside
        seen = await sandbox.exec("test -e /tmp/ran", timeout=30)
    assert seen.exit_code == 1  # the refused command never ran
    assert ledger.spent_usd > 0  # only the look inside was charged


async def test_a_cancelled_exec_is_still_charged(
    docker_backend: object, spec: SandboxSpec, store: Store, run_id: str
) -> None:
    store.call(lambda s: s.add(Run(id=run_id, kind="run")))
    ledger = BudgetLedger(10.0)
    meter = ComputeMeter(ledger, per_cpu_second, grace_s=5)
    pool = SandboxPool(docker_backend, 1, store, run_id, meter=meter)  # type: ignore[arg-type]
    async with pool.open(spec, "t1") as sandbox:
        task = asyncio.create_task(sandbox.exec("sleep 30", timeout=60))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [row] = exec_rows(store, run_id)
    assert row.exit_code == -1 and row.cpu_seconds > 0
    assert row.usd > 0 and ledger.spent_usd == pytest.approx(row.usd)
    assert ledger.reserved_usd == 0


@pytest.mark.slow
async def test_a_run_charges_its_sandbox_time_to_the_ledger(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text(
        "version: test\nsandbox_cpu_hour_usd: 0.05\nmodels:\n  scripted-gold:\n"
        "    kind: api\n    input_per_mtok: 1.0\n    output_per_mtok: 2.0\n"
    )
    solved = "agentlab-mini__confini-1"
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        path = write_experiment(tmp_path, server.base_url, [solved], k=1, n=1)
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store, pricing=pricing)
    assert outcome.status == "finished", outcome
    execs = exec_rows(store, run_id)
    assert execs and all(r.usd > 0 and r.cpu_seconds > 0 for r in execs)
    llm = store.call(
        lambda s: sum(r.usd for r in s.exec(select(LLMCall).where(LLMCall.run_id == run_id)))
    )
    run = store.call(lambda s: s.get(Run, run_id))
    assert run is not None
    # The run's recorded spend is its ledger's: calls and sandbox time together.
    assert run.spent_usd == pytest.approx(llm + sum(r.usd for r in execs))
    report = await build_report(store, run_id, 1, cap_usd=None)
    assert report.stage_costs["sandbox"][0] == pytest.approx(sum(r.usd for r in execs))
    assert report.spent_usd == pytest.approx(run.spent_usd)

"""A run's environment rebuilt on another process or node from plain data (no Ray here).

A remote worker gets a store URL, a run id and the run's ledger (a proxy to the driver's);
everything else — the validated config, the endpoints, the dataset, the sandbox provider —
it reads from the stored run row, exactly as ``agentlab run --resume`` does. It never
starts or finishes the run row and never reaps the run's containers (the driver owns both):
it only runs attempts of single items, whose every write is idempotent on its natural key.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from agentlab.coordinator.engine import _attempts
from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.kinds import kind_for
from agentlab.coordinator.kinds.base import Pipeline
from agentlab.coordinator.launch import resumed_request, scripted_rules
from agentlab.coordinator.models import load_endpoint_configs, open_models
from agentlab.coordinator.prices import stored_prices
from agentlab.coordinator.sandboxes import SandboxPool
from agentlab.errors import BudgetExceededError, ScopeBudgetExceededError
from agentlab.llm import load_pricing
from agentlab.llm.budget import BudgetLedger
from agentlab.llm.pricing import default_pricing_path
from agentlab.sandbox import make_backend
from agentlab.store import open_store
from agentlab.store.llm_log import StoreCallRecorder, StoreResponseCache
from agentlab.store.run_store import RunStore
from agentlab.types import WorkItem, WorkResult


@dataclass
class WorkerRun:
    """One run's environment and pipeline, open in a worker process.

    The pipeline (and any warm sandbox it keeps) lives as long as the run session in this
    process; the executor removes the session's containers on every node when it ends.
    """

    env: RunEnv
    pipeline: Pipeline

    async def attempt(self, item: WorkItem) -> WorkResult:
        """One item's attempt (with the engine's in-run retries), from its stored steps.

        The item's problem is read fresh from the store first (its rows only): another
        worker (on a node that has since died) may have stored steps of it. Budget refusals
        come back as results, not exceptions, so they cross the wire as small records.
        """
        env = self.env
        await env.store.refresh_task(env.state, env.run_id, item.task_id)
        base = {"run_id": item.run_id, "task_id": item.task_id, "sample": item.sample}
        refused: WorkResult | None = None
        try:
            error = await _attempts(env, self.pipeline, item.task_id, item.sample)
        except* BudgetExceededError as group:
            refused = WorkResult(**base, status="budget_exhausted", error=_message(group))
        except* ScopeBudgetExceededError as group:
            refused = WorkResult(**base, status="capped", error=_message(group))
        if refused is not None:
            return refused
        if error is not None:
            return WorkResult(**base, status="error", error=error)
        cand = env.state.candidates.get((item.task_id, item.sample))
        return WorkResult(**base, status="done", resolved=cand.resolved if cand else None)


def _message(group: BaseExceptionGroup[Exception]) -> str:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return str(error)


@contextlib.asynccontextmanager
async def worker_run(
    store_url: str, run_id: str, ledger: BudgetLedger, *, pricing: Path | None = None
) -> AsyncIterator[WorkerRun]:
    """Open ``run_id``'s environment from the store, with ``ledger`` as the run's ledger."""
    store = open_store(store_url)
    try:
        request = resumed_request(store, run_id)
        config = request.config
        endpoints = load_endpoint_configs(config, request.config_dir)
        runs = RunStore(store)
        state = await runs.load(run_id)
        kind = kind_for(config.dataset)
        path = pricing or default_pricing_path()
        table = load_pricing(path) if path is not None else None
        used = sorted({m.endpoint for m in config.roles().values()})
        prices = stored_prices(store, run_id, endpoints, used, table)
        async with open_models(
            config,
            endpoints,
            pricing=pricing,
            spent_usd=0.0,
            cache=StoreResponseCache(store),
            recorder=StoreCallRecorder(store),
            scripted_rules=scripted_rules(config),
            ledger=ledger,
            prices=prices,
        ) as models:
            backend = make_backend(config.sandbox)
            pool = SandboxPool(
                backend, config.concurrency.sandboxes, store, run_id, meter=models.compute_meter()
            )
            env = RunEnv(run_id, config, runs, models, pool, state)
            pipeline = kind.open(env)
            try:
                yield WorkerRun(env, pipeline)
            finally:
                await pipeline.aclose()
    finally:
        store.close()

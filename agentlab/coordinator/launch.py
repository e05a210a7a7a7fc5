"""Starting or resuming one run: config, store rows, models, sandboxes, the pipeline.

The stored run row holds the validated config and the directory its endpoint files are
relative to, so ``--resume RUN`` needs nothing but the run id (and the store URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentlab.config import ExperimentConfig, config_hash
from agentlab.coordinator.engine import Outcome, execute
from agentlab.coordinator.env import NoProgress, Progress, RunEnv, describe, first_leaf
from agentlab.coordinator.executors import make_executor
from agentlab.coordinator.kinds import kind_for
from agentlab.coordinator.kinds.base import SelectsCandidates
from agentlab.coordinator.models import load_endpoint_configs, open_models
from agentlab.coordinator.prices import ResolvedPrice, record_prices, resolve_prices, store_profiles
from agentlab.coordinator.sandboxes import SandboxPool
from agentlab.coordinator.selection import selectors_for
from agentlab.errors import BudgetExceededError, ConfigError, SandboxError
from agentlab.llm import EndpointConfig, ScriptedEndpoint, load_pricing
from agentlab.llm.pricing import default_pricing_path
from agentlab.llm.scripted import Rule
from agentlab.protocols import SandboxProvider
from agentlab.sandbox import make_provider
from agentlab.scoring.llm import ModelRole
from agentlab.scoring.selectors import Selector
from agentlab.store.db import Store
from agentlab.store.llm_log import StoreCallRecorder, StoreResponseCache
from agentlab.store.run_store import RunStore


@dataclass(frozen=True)
class RunRequest:
    """A validated config and where its endpoint files are relative to."""

    config: ExperimentConfig
    config_dir: Path
    run_id: str

    def stored(self) -> dict[str, Any]:
        return {
            "experiment": self.config.model_dump(mode="json"),
            "config_dir": str(self.config_dir),
        }


def new_request(config: ExperimentConfig, config_path: Path, run_id: str | None) -> RunRequest:
    """A request for a fresh run (the id is generated unless given)."""
    rid = run_id or f"run-{uuid.uuid4().hex[:10]}"
    return RunRequest(config, config_path.resolve().parent, rid)


def resumed_request(store: Store, run_id: str) -> RunRequest:
    """The request a stored run was started with."""
    data = RunStore(store).run_config(run_id)
    try:
        config = ExperimentConfig.model_validate(data["experiment"])
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"--resume {run_id}: the stored config cannot be read ({exc})") from exc
    return RunRequest(config, Path(data["config_dir"]), run_id)


def with_executor(request: RunRequest, executor: str) -> RunRequest:
    """``request`` run by another executor (``--executor`` on a resume)."""
    data = request.config.model_dump(mode="json")
    if data["executor"]["type"] != executor:
        data["executor"] = {"type": executor}
    try:
        config = ExperimentConfig.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"--executor {executor}: {exc}") from exc
    return RunRequest(config, request.config_dir, request.run_id)


def scripted_rules(config: ExperimentConfig) -> Callable[[ScriptedEndpoint], Sequence[Rule]]:
    """What the in-process scripted model answers on this dataset (its kind's references)."""
    kind = kind_for(config.dataset)
    return lambda _endpoint: kind.reference_rules(config.dataset)


def run_selectors(env: RunEnv) -> list[Selector]:
    """``selection.methods`` wired to the run's ``models.selection`` / ``models.verifier``."""
    roles: dict[str, ModelRole] = {}
    for role in ("selection", "verifier"):
        with contextlib.suppress(ConfigError):  # a method needing a missing role says so
            roles[role] = env.models.scoring_role(role, env.run_id)
    return selectors_for(env.config.selection.methods, roles)


async def reap_leftovers(provider: SandboxProvider, run_id: str) -> None:
    """Remove sandboxes an earlier, killed invocation of this run left behind."""
    with contextlib.suppress(SandboxError):
        await provider.reap(run_id)


def run_prices(
    config: ExperimentConfig,
    endpoints: dict[str, EndpointConfig],
    store: Store,
    run_id: str,
    pricing: Path | None,
) -> dict[str, ResolvedPrice]:
    """Each used endpoint's price (profile-fed where the store has one), stored with the run."""
    path = pricing or default_pricing_path()
    table = load_pricing(path) if path is not None else None
    used = sorted({m.endpoint for m in config.roles().values()})
    prices = resolve_prices(
        endpoints,
        used,
        table,
        llm_calls=config.concurrency.llm_calls,
        profiles=store_profiles(store),
    )
    record_prices(store, run_id, prices)
    return prices


@contextlib.asynccontextmanager
async def run_env(
    request: RunRequest,
    store: Store,
    provider: SandboxProvider,
    *,
    progress: Progress | None = None,
    rules: Callable[[ScriptedEndpoint], Sequence[Rule]] | None = None,
    pricing: Path | None = None,
) -> AsyncIterator[RunEnv]:
    """The shared pieces of a run, opened (models started) and closed around the block."""
    config, run_id = request.config, request.run_id
    endpoints = load_endpoint_configs(config, request.config_dir)
    runs = RunStore(store)
    await runs.start_run(
        run_id,
        name=config.run_name,
        config=request.stored(),
        config_hash=config_hash(config),
        seed=config.seed,
    )
    await reap_leftovers(provider, run_id)
    state = await runs.load(run_id)
    by_task = await runs.spend_by_task(run_id)
    prices = await asyncio.to_thread(run_prices, config, endpoints, store, run_id, pricing)
    async with open_models(
        config,
        endpoints,
        pricing=pricing,
        spent_usd=sum(by_task.values()),
        task_spent_usd=by_task,
        cache=StoreResponseCache(store),
        recorder=StoreCallRecorder(store),
        scripted_rules=rules,
        prices={name: p.price for name, p in prices.items()},
    ) as models:
        pool = SandboxPool(
            provider.backend(),
            config.concurrency.sandboxes,
            store,
            run_id,
            meter=models.compute_meter(),
        )
        yield RunEnv(run_id, config, runs, models, pool, state, progress or NoProgress(), provider)


async def run_pipeline(
    request: RunRequest,
    store: Store,
    provider: SandboxProvider | None = None,
    *,
    progress: Progress | None = None,
    on_env: Callable[[RunEnv], None] | None = None,
    pricing: Path | None = None,
) -> Outcome:
    """Run (or resume) ``request`` to the end; the run row says how it ended.

    ``provider`` defaults to the one the config's ``sandbox:`` section names.
    """
    provider = provider or make_provider(request.config.sandbox)
    kind = kind_for(request.config.dataset)
    kind.problem_ids(request.config.dataset)  # a bad dataset is refused before the run row
    section = request.config.selection
    if section.enabled and not isinstance(kind, SelectsCandidates):
        raise ConfigError(f"selection.enabled: task kind {kind.name!r} has no selection yet")
    rules = scripted_rules(request.config)
    runs = RunStore(store)
    status = "interrupted"
    spent = 0.0
    try:
        async with run_env(
            request, store, provider, progress=progress, rules=rules, pricing=pricing
        ) as env:
            if on_env is not None:
                on_env(env)
            pipeline = kind.open(env)
            try:
                executor = make_executor(request.config.executor)
                outcome = await execute(env, pipeline, kind=kind, executor=executor)
                if section.enabled and outcome.status == "finished":
                    assert isinstance(kind, SelectsCandidates)
                    try:
                        await kind.select(env, section, run_selectors(env))
                    except* BudgetExceededError as group:  # picks made so far stay stored
                        outcome.status = "budget_exhausted"
                        outcome.reason = "selection: " + describe(first_leaf(group))
            finally:
                await pipeline.aclose()
            spent, status = env.models.ledger.spent_usd, outcome.status
            return outcome
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        await asyncio.shield(runs.finish_run(request.run_id, status, spent))

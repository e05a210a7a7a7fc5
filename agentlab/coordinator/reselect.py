"""``agentlab select --from run:ID --k K``: re-select a stored run from its first K samples.

The source run's candidates with sample index < K (what a run with ``sampling.k: K`` would
have made, in stored order) are copied into a new run of kind ``select``, and the source
run's task kind selects among them exactly as ``agentlab run`` with ``selection.enabled``
does: its matrix stage (SWE: the vote matrix; HumanEval: CodeT over the samples' own
asserts, read from the source run's stored steps), then the source config's
``selection.methods``. The candidates keep their hidden-test grades, so coverage, the random
pick (pass@1) and the selected score at K need no new grading.

Model calls: the matrix stages run programs in sandboxes only, except stdin/stdout's
generated inputs (one call per problem, identical to the source run's, so answered from the
store's cache when the source ran selection). Methods that ask a model
(judge, tournament, the selection state machine) call the source run's endpoints, through
the store's response cache: a request identical to a stored one is answered from it (an
``llm_call`` row with ``cache_hit``, $0), any other is a new, billed call. Models are only
opened when such a method is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel

from agentlab.config import ExperimentConfig, parse_experiment
from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.kinds import kind_for
from agentlab.coordinator.kinds.base import SelectionAsksModels, SelectsCandidates
from agentlab.coordinator.launch import run_selectors, scripted_rules
from agentlab.coordinator.models import Models, load_endpoint_configs, open_models
from agentlab.coordinator.sandboxes import SandboxPool
from agentlab.coordinator.selection_report import RunReport, build_report
from agentlab.errors import ConfigError
from agentlab.llm.budget import BudgetLedger
from agentlab.llm.pricing import default_pricing_path, load_pricing
from agentlab.protocols import SandboxProvider
from agentlab.store.budget_queries import count_llm_calls
from agentlab.store.db import Store
from agentlab.store.llm_log import StoreCallRecorder, StoreResponseCache
from agentlab.store.run_store import RunStore
from agentlab.store.scoring_store import ScoringStore, copy_run_candidates
from agentlab.store.tables import Run


@dataclass(frozen=True)
class Reselection:
    """What a re-selection at K produced."""

    run_id: str
    source_run: str
    k: int
    candidates: int
    report: RunReport
    llm_calls: int  # llm_call rows the re-selection added (cache hits included)
    model_methods: tuple[str, ...]  # configured methods that ask a model


def source_request(
    store: Store, source_run: str, overrides: Sequence[str] = ()
) -> tuple[ExperimentConfig, Path] | None:
    """The config of ``source_run`` if it is an ``agentlab run`` (None for other run kinds),
    with ``key.path=value`` ``overrides`` applied (e.g. ``selection.methods=[judge]``)."""
    run = store.call(lambda s: s.get(Run, source_run))
    if run is None:
        raise ConfigError(f"--from run:{source_run}: no run {source_run!r} in the store")
    data = json.loads(run.config_json or "{}")
    if run.kind != "run" or "experiment" not in data:
        return None  # not made by `agentlab run` (an eval, a select, or rows imported by hand)
    if overrides:  # validated like `agentlab run`'s overrides, with the same one-line errors
        text = yaml.safe_dump(data["experiment"])
        config = parse_experiment(text, source=f"run {source_run}", overrides=overrides)
        return config, Path(data["config_dir"])
    try:
        return ExperimentConfig.model_validate(data["experiment"]), Path(data["config_dir"])
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"run {source_run!r}: its stored config cannot be read ({exc})") from exc


def _model_methods(config: ExperimentConfig) -> tuple[str, ...]:
    methods: tuple[BaseModel, ...] = config.selection.methods
    return tuple(str(getattr(m, "type", "")) for m in methods if getattr(m, "type", "") != "vote")


@contextlib.asynccontextmanager
async def _models(
    store: Store, config: ExperimentConfig, config_dir: Path, needed: bool
) -> AsyncIterator[Models]:
    """The source run's models when a method asks one; otherwise none (nothing is started)."""
    if needed:
        async with open_models(
            config,
            load_endpoint_configs(config, config_dir),
            pricing=None,
            spent_usd=0.0,
            cache=StoreResponseCache(store),
            recorder=StoreCallRecorder(store),
            scripted_rules=scripted_rules(config),
        ) as models:
            yield models
        return
    path = default_pricing_path()
    price = load_pricing(path).sandbox_cpu_hour_usd if path is not None else None
    yield Models(config, {}, BudgetLedger(None), asyncio.Semaphore(1), sandbox_cpu_hour_usd=price)


async def reselect(
    store: Store,
    source_run: str,
    k: int,
    *,
    run_id: str,
    provider: SandboxProvider,
    overrides: Sequence[str] = (),
) -> Reselection:
    """Select among ``source_run``'s first ``k`` samples per problem, as a new ``select`` run.

    ``overrides`` change the source config for this selection only (another selector, a
    verifier model: ``selection.methods=[judge]``, ``models.verifier.endpoint=NAME``).
    """
    if k < 1:
        raise ConfigError(f"--k must be >= 1, got {k}")
    found = source_request(store, source_run, overrides)
    if found is None:
        raise ConfigError(f"--k with run:{source_run}: re-selection needs an `agentlab run` run")
    config, config_dir = found
    kind = kind_for(config.dataset)
    if not isinstance(kind, SelectsCandidates):
        raise ConfigError(f"run {source_run!r}: task kind {kind.name!r} has no selection")
    scoring = ScoringStore(store)
    await scoring.ensure_run(
        run_id,
        kind="select",
        name=run_id,
        config={"from": [f"run:{source_run}"], "k": k, "set": list(overrides)},
    )
    added = await copy_run_candidates(scoring, run_id, source_run, max_sample=k)
    if added == 0 and not await scoring.candidates(run_id):
        raise ConfigError(f"run {source_run!r} has no candidates with sample index < {k}")
    before = await asyncio.to_thread(count_llm_calls, store)
    methods = _model_methods(config)
    runs = RunStore(store)
    state = await runs.load(source_run)  # the samples' own tests live in the source's steps
    section = config.selection
    status = "interrupted"
    try:
        asks = isinstance(kind, SelectionAsksModels) and kind.selection_asks_models(section)
        async with _models(store, config, config_dir, bool(methods) or asks) as models:
            pool = SandboxPool(
                provider.backend(),
                section.max_sandboxes,
                store,
                run_id,
                meter=models.compute_meter(),
            )
            env = RunEnv(run_id, config, runs, models, pool, state, provider=provider)
            await kind.select(env, section, run_selectors(env) if methods else [])
            spent = models.ledger.spent_usd
        report = await build_report(scoring, run_id)
        status = "finished"
    finally:
        if status != "finished":
            await asyncio.shield(scoring.finish_run(run_id, status))
    await scoring.finish_run(run_id, "finished", report.total.selected, spent_usd=spent)
    after = await asyncio.to_thread(count_llm_calls, store)
    total = len(await scoring.candidates(run_id))
    return Reselection(run_id, source_run, k, total, report, after - before, methods)

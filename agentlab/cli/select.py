"""``agentlab select``, ``agentlab export`` and ``agentlab report``: choosing among candidates.

``select`` pools candidates (``--from run:ID`` and ``--from preds.jsonl``, repeatable) into a
new run of kind ``select``, runs the vote matrix, the verifiers and the selection state machine
(each stage with its own model, when given), grades what was never graded, and prints the
metrics. ``export`` writes a run's final picks as SWE-bench predictions; ``report`` prints the
metrics again from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentlab.budget.cost import SandboxPrices
from agentlab.cli.select_report import print_report
from agentlab.coordinator.env import first_leaf
from agentlab.coordinator.reselect import reselect, source_request
from agentlab.coordinator.sandboxes import SandboxPool
from agentlab.coordinator.selection import Models, ProblemResult, SelectionConfig, score_run
from agentlab.coordinator.selection_report import build_report, write_predictions
from agentlab.coordinator.selection_sources import import_sources
from agentlab.errors import BudgetExceededError, ConfigError
from agentlab.llm.budget import BudgetLedger, ComputeMeter
from agentlab.llm.pricing import default_pricing_path, load_pricing
from agentlab.protocols import SandboxProvider
from agentlab.scoring.llm import ModelRole
from agentlab.store import Store, open_store
from agentlab.store.run_store import RunStore
from agentlab.store.scoring_store import ScoringStore
from agentlab.tasks.harness import EvalConfig, InstanceImages

console = Console(stderr=True)
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", envvar="AGENTLAB_STORE", help="Store URL (default sqlite:///agentlab.db)."
    ),
]


def sandbox_meter(ledger: BudgetLedger) -> ComputeMeter | None:
    """Sandbox time on ``ledger`` at the pricing table's CPU-hour price (None: unpriced)."""
    path = default_pricing_path()
    rate = load_pricing(path).sandbox_cpu_hour_usd if path is not None else None
    if rate is None:
        return None
    prices = SandboxPrices(rate)
    return ComputeMeter(ledger, lambda cpu_s: prices.price(cpu_s).usd)


@contextlib.asynccontextmanager
async def _models(
    store: Store,
    run_id: str,
    path: str | None,
    names: dict[str, str | None],
    logprobs: bool,
    ledger: BudgetLedger,
) -> AsyncIterator[Models]:
    """Open one LLM client per named endpoint, all on the selection run's ``ledger`` (its hard
    cap); calls are recorded in ``llm_call`` by role."""
    wanted = {role: name for role, name in names.items() if name}
    if not wanted:
        yield Models()
        return
    if path is None:
        raise ConfigError("--selection-model/--judge-model/--pairwise-model need --models FILE")
    from agentlab.coordinator.models import open_clients
    from agentlab.llm import load_endpoints
    from agentlab.store.llm_log import StoreCallRecorder

    endpoints = {e.name: e for e in load_endpoints(path)}
    for role, name in wanted.items():
        if name not in endpoints:
            known = ", ".join(sorted(endpoints))
            raise ConfigError(f"--{role}-model {name!r}: not in {path} (endpoints: {known})")
    recorder = StoreCallRecorder(store)
    async with open_clients(
        endpoints, set(wanted.values()), ledger=ledger, recorder=recorder
    ) as clients:
        roles: dict[str, ModelRole] = {}
        for role, name in wanted.items():
            client = clients[name]
            label = "selection" if role == "selection" else f"verifier_{role}"
            roles[role] = ModelRole(client.generate, client.model, label, run_id=run_id)
        yield Models(
            selection=roles.get("selection"),
            judge=roles.get("judge"),
            judge_logprobs=logprobs,
            pairwise=roles.get("pairwise"),
        )


def select_command(
    sources: Annotated[
        list[str], typer.Option("--from", help="run:ID or a predictions file (repeatable).")
    ],
    dataset: Annotated[
        str, typer.Option(help="agentlab-mini or a dataset path.")
    ] = "agentlab-mini",
    run_id: Annotated[str | None, typer.Option(help="Id of the selection run.")] = None,
    store: StoreOpt = None,
    models: Annotated[str | None, typer.Option("--models", help="Endpoints YAML.")] = None,
    selection_model: Annotated[str | None, typer.Option(help="Endpoint for selection.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="Endpoint for the judge.")] = None,
    pairwise_model: Annotated[str | None, typer.Option(help="Endpoint for pairwise.")] = None,
    logprobs: Annotated[bool, typer.Option(help="Judge from YES/NO log-probs.")] = False,
    top_m: Annotated[int, typer.Option(min=1, help="Candidates kept after voting.")] = 3,
    max_sandboxes: Annotated[int, typer.Option(min=1, help="Containers at once.")] = 4,
    test_timeout: Annotated[float, typer.Option(min=1, help="Seconds per test run.")] = 60.0,
    grade: Annotated[bool, typer.Option(help="Grade ungraded candidates (hidden tests).")] = True,
    budget: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Hard cap in USD for this selection run: model calls and sandbox time.",
        ),
    ] = None,
    sandbox: Annotated[
        str | None, typer.Option(help="Sandbox provider: docker (default) or process.")
    ] = None,
    k: Annotated[
        int | None,
        typer.Option(
            "--k",
            min=1,
            help="Use only each source's first K samples per problem (sample index < K).",
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="With --k: key.path=value over the run's config for this selection only,"
            " e.g. selection.methods=[judge] models.verifier.endpoint=NAME (repeatable).",
        ),
    ] = None,
) -> None:
    """Pool candidates, vote with their generated tests, verify, select, and report.

    With ``--k`` and one ``run:ID`` of an ``agentlab run``, the run's own task kind selects
    among its first K samples (HumanEval: CodeT over the own asserts; stdin/stdout: CodeT over
    examples and generated inputs; SWE: the vote matrix), then the run's configured methods
    (or others given with ``--set``).
    """
    from agentlab.cli.options import sandbox_provider
    from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset

    provider = sandbox_provider(sandbox)
    run_id = run_id or f"select-{uuid.uuid4().hex[:8]}"
    if k is not None and len(sources) == 1 and sources[0].startswith("run:"):
        st = open_store(store)
        try:
            if source_request(st, sources[0].removeprefix("run:")) is not None:
                _reselect(st, sources[0].removeprefix("run:"), k, run_id, provider, overrides)
                return
        finally:
            st.close()
    if overrides:
        raise ConfigError("--set needs --k and one --from run:ID of an `agentlab run`")
    data = resolve_dataset(dataset)
    config = SelectionConfig(
        top_m=top_m, max_sandboxes=max_sandboxes, test_timeout_s=test_timeout, grade=grade
    )
    eval_config = EvalConfig(run_id=run_id, timeout=max(test_timeout * 5, 300))
    names = {"selection": selection_model, "judge": judge_model, "pairwise": pairwise_model}
    st = open_store(store)

    async def main() -> None:
        scoring = ScoringStore(st)
        await scoring.ensure_run(
            run_id, kind="select", name=run_id, config={"from": sources, **names}
        )
        # Resumed selection runs start their ledger from what they already spent.
        ledger = BudgetLedger(budget, spent_usd=await RunStore(st).spent_usd(run_id))
        added = await import_sources(scoring, run_id, sources, max_sample=k)
        console.print(f"[dim]{run_id}: {added} candidates added from {len(sources)} sources[/]")

        def done(result: ProblemResult) -> None:
            picks = ", ".join(f"{m}={c}" for m, c in result.picks.items())
            console.print(
                f"{result.task_id}: {result.distinct} distinct changes, {result.valid_tests}/"
                f"{result.tests} valid tests; picks {picks}"
            )

        sandboxes = SandboxPool(
            provider.backend(), max_sandboxes, st, run_id, meter=sandbox_meter(ledger)
        )
        try:
            async with _models(st, run_id, models, names, logprobs, ledger) as roles:
                await score_run(
                    scoring,
                    run_id,
                    data,
                    sandboxes,
                    InstanceImages(ProviderImages(provider), eval_config),
                    eval_config=eval_config,
                    config=config,
                    models=roles,
                    on_problem=done,
                )
        except BaseException as exc:
            leaf = first_leaf(exc)
            capped = isinstance(leaf, BudgetExceededError)
            status = "budget_exhausted" if capped else "interrupted"
            await scoring.finish_run(run_id, status, spent_usd=ledger.spent_usd)
            if capped and leaf is not exc:
                raise leaf from exc  # one line for the user, not a task group's traceback
            raise
        report = await build_report(scoring, run_id)
        await scoring.finish_run(
            run_id, "finished", report.total.selected, spent_usd=ledger.spent_usd
        )
        print_report(report, run_id, Console())

    try:
        asyncio.run(main())
    finally:
        st.close()


def _reselect(
    st: Store,
    source: str,
    k: int,
    run_id: str,
    provider: SandboxProvider,
    overrides: list[str] | None,
) -> None:
    """Re-select an ``agentlab run`` at K and print selected vs pass@1 vs coverage."""
    result = asyncio.run(
        reselect(st, source, k, run_id=run_id, provider=provider, overrides=overrides or ())
    )
    print_report(result.report, run_id, Console())
    t = result.report.total
    console.print(
        f"run {source} at k={k} ({result.candidates} candidates, sample index < {k}): selected "
        f"{t.selected:.3f}, pass@1 (mean resolved) {t.random:.3f}, coverage {t.coverage:.3f}"
    )
    methods = ", ".join(result.model_methods)
    note = (
        f"; {methods} ask the run's models: a stored identical request is answered from the "
        "response cache, anything else is a new, billed call"
        if methods
        else "; the task kind's matrix stage asked the run's model (stdin/stdout: the generated"
        " inputs, from the response cache when stored)"
        if result.llm_calls
        else " (no configured method asks a model)"
    )
    console.print(f"llm_call rows added: {result.llm_calls}{note}")


def export_command(
    run: Annotated[str, typer.Argument(help="The run whose final picks to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Predictions file.")] = Path(
        "predictions.jsonl"
    ),
    store: StoreOpt = None,
) -> None:
    """Write a run's final choices as a SWE-bench predictions file."""
    st = open_store(store)
    try:
        report = asyncio.run(build_report(ScoringStore(st), run))
    finally:
        st.close()
    if not report.final:
        raise ConfigError(f"run {run!r} has no selections; run `agentlab select` first")
    n = write_predictions(report, run, output)
    console.print(f"wrote {n} predictions to {output}")


def report_command(
    run: Annotated[str, typer.Argument(help="The run to report on.")],
    store: StoreOpt = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the viewer's pages here instead.")
    ] = None,
) -> None:
    """Coverage, selected score, random-pick score, selection efficiency, cost per stage."""
    if html is not None:
        from agentlab.cli.view import write_html_report

        write_html_report(run, html, store)
        return
    st = open_store(store)
    try:
        scoring = ScoringStore(st)
        if not asyncio.run(scoring.run_exists(run)):
            raise ConfigError(
                f"no run {run!r} in {st.safe_url}; see `agentlab sql 'select id from run'`"
            )
        report = asyncio.run(build_report(scoring, run))
    finally:
        st.close()
    print_report(report, run, Console())


def register(app: typer.Typer) -> None:
    """Add ``select``, ``export`` and ``report`` to the ``agentlab`` command."""
    app.command("select")(select_command)
    app.command("export")(export_command)
    app.command("report")(report_command)

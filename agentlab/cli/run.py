"""``agentlab run CONFIG [key.path=value ...]`` and ``agentlab run --resume RUN``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentlab.config import load_experiment
from agentlab.errors import ConfigError
from agentlab.store import normalise_url, open_store
from agentlab.store.db import Store

console = Console(stderr=True)


def run_command(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="CONFIG.yaml, then key.path=value overrides (e.g. sampling.k=8)."),
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue this run id where it stopped.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option(help="Id for a new run (default: generated).")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(envvar="AGENTLAB_STORE", help="Store URL (default: the config's `store`)."),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            help="Where items run: local (default) or ray (same as executor.type=...; the"
            " cluster address from the config's executor.address or RAY_ADDRESS).",
        ),
    ] = None,
    sandbox: Annotated[
        str | None,
        typer.Option(help="Sandbox provider, overriding the config's `sandbox:` (e.g. process)."),
    ] = None,
    bypass_cache: Annotated[
        bool,
        typer.Option(
            "--bypass-cache",
            help="Ask the model even when the store holds an answer (same as cache=bypass).",
        ),
    ] = False,
) -> None:
    """Sample k trajectories per problem, iterate with execution feedback, grade, report."""
    from agentlab.coordinator.launch import new_request, resumed_request, with_executor

    args = list(args or [])
    if resume is not None:
        if args or bypass_cache:
            raise ConfigError("--resume RUN takes no config or overrides; the run keeps its own")
        st = open_store(store)
        request = resumed_request(st, resume)
        if executor is not None:  # a resumed run may move between executors
            request = with_executor(request, executor)
    else:
        if not args:
            raise ConfigError("give an experiment config: agentlab run configs/experiments/X.yaml")
        path, overrides = Path(args[0]), args[1:] + (["cache=bypass"] if bypass_cache else [])
        overrides += [f"executor.type={executor}"] if executor is not None else []
        config = load_experiment(path, overrides)
        st = open_store(store or config.store)
        request = new_request(config, path, run_id)
    try:
        asyncio.run(execute_run(request, st, console, sandbox=sandbox))
    finally:
        st.close()


async def execute_run(
    request: object, st: Store, out: Console, *, sandbox: str | None = None
) -> str:
    """Run with progress bars, then print the summary table; returns the run's status."""
    from agentlab.cli.options import sandbox_provider
    from agentlab.coordinator.display import NEXT_SQL, RichProgress, summary_table
    from agentlab.coordinator.env import RunEnv
    from agentlab.coordinator.launch import RunRequest, run_pipeline
    from agentlab.coordinator.report import build_report
    from agentlab.sandbox import make_provider

    assert isinstance(request, RunRequest)
    config = request.config
    out.print(
        f"run [bold]{request.run_id}[/] ({config.run_name}) -> {st.safe_url}", highlight=False
    )
    holder: dict[str, object] = {}
    progress = RichProgress(out)
    model_line = ""

    def on_env(env: RunEnv) -> None:
        nonlocal model_line
        holder["env"] = env
        model_line = env.models.model_names()
        out.print(f"models: {model_line}", highlight=False)

    provider = sandbox_provider(sandbox) if sandbox else make_provider(config.sandbox)
    async with progress.live(holder):
        outcome = await run_pipeline(request, st, provider, progress=progress, on_env=on_env)
    report = await build_report(
        st, request.run_id, config.sampling.k, cap_usd=config.budget.cap_usd
    )
    out.print(summary_table(report, model_line, outcome.status))
    if config.selection.enabled and outcome.status == "finished":
        from agentlab.cli.select_report import print_report
        from agentlab.coordinator.selection_report import build_report as selection_report
        from agentlab.store.scoring_store import ScoringStore

        chosen = await selection_report(ScoringStore(st), request.run_id)
        print_report(chosen, request.run_id, out)
    if outcome.reason:
        out.print(f"[yellow]stopped:[/] {outcome.reason}", highlight=False)
    out.print("next, for example:", highlight=False)
    where = "" if st.url == normalise_url(None) else f" --store {st.safe_url}"
    for sql in NEXT_SQL:
        out.print(f'  agentlab sql{where} "{sql.format(run=request.run_id)}"', highlight=False)
    if outcome.status != "finished":
        out.print(f"resume with: agentlab run --resume {request.run_id}", highlight=False)
    return outcome.status


def register(app: typer.Typer) -> None:
    app.command(name="run")(run_command)

"""``agentlab eval``: grade a predictions file on a task kind's data, with the harness's flags."""

from __future__ import annotations

import asyncio
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from agentlab.cli.options import sandbox_provider
from agentlab.config import DatasetConfig
from agentlab.coordinator.evaluation import EvalRequest, evaluator
from agentlab.coordinator.kinds import get_kind, kind_for
from agentlab.store import open_store
from agentlab.store.eval_store import EvalStore
from agentlab.tasks.harness import EvalConfig

console = Console(stderr=True)


class Grading(StrEnum):
    strict = "strict"
    swebench = "swebench"


class CacheLevel(StrEnum):
    none = "none"
    base = "base"
    env = "env"
    instance = "instance"


class BarProgress:
    """Grading progress as a rich bar: resolved and errors so far."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task("starting", total=None)
        self.resolved = self.errors = 0

    def begin(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, resolved: bool, error: bool) -> None:
        self.resolved += resolved
        self.errors += error
        self.progress.update(
            self.task,
            advance=1,
            description=f"resolved {self.resolved} errors {self.errors}",
        )


def eval_command(
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            "--dataset-name",
            "--dataset_name",
            "-d",
            help="agentlab-mini, humaneval, a path, or a Hugging Face dataset name.",
        ),
    ] = "agentlab-mini",
    predictions: Annotated[
        str,
        typer.Option(
            "--predictions",
            "--predictions-path",
            "--predictions_path",
            "-p",
            help="Predictions file, 'gold' or (HumanEval) 'canonical'.",
        ),
    ] = "gold",
    split: Annotated[
        str, typer.Option("--split", "-s", help="Dataset split (local datasets have one).")
    ] = "test",
    instance_ids: Annotated[
        list[str] | None,
        typer.Option(
            "--instance-ids",
            "--instance_ids",
            "-i",
            help="Only these instances (repeatable, or space/comma separated).",
        ),
    ] = None,
    max_workers: Annotated[
        int,
        typer.Option("--max-workers", "--max_workers", min=1, help="Instances evaluated at once."),
    ] = 4,
    timeout: Annotated[
        float, typer.Option("--timeout", "-t", min=1, help="Seconds for one instance's tests.")
    ] = 1800.0,
    run_id: Annotated[
        str | None, typer.Option("--run-id", "--run_id", help="Run id; re-use it to resume.")
    ] = None,
    cache_level: Annotated[
        CacheLevel,
        typer.Option("--cache-level", "--cache_level", help="Images kept after the run."),
    ] = CacheLevel.env,
    clean: Annotated[
        bool, typer.Option(help="Remove images above --cache-level after the run.")
    ] = False,
    namespace: Annotated[
        str | None,
        typer.Option(
            help="Image namespace: prebuilt <ns>/sweb.eval.x86_64.* images, or the registry "
            "namespace replacing the one a current-format instance's image names."
        ),
    ] = None,
    rewrite_reports: Annotated[
        bool,
        typer.Option(
            "--rewrite-reports", "--rewrite_reports", help="Regrade from saved logs; run nothing."
        ),
    ] = False,
    report_dir: Annotated[
        Path, typer.Option("--report-dir", "--report_dir", help="Where logs and reports go.")
    ] = Path("."),
    grading_mode: Annotated[
        Grading,
        typer.Option("--grading", help="strict (default) or swebench (the harness, exactly)."),
    ] = Grading.strict,
    store: Annotated[
        str | None,
        typer.Option(
            "--store", envvar="AGENTLAB_STORE", help="Store URL (default sqlite:///agentlab.db)."
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option(help="Never clone: repos without a bundle are errors.")
    ] = False,
    kind: Annotated[
        str | None,
        typer.Option(help="Task kind (swe, humaneval, ...); default: inferred from --dataset."),
    ] = None,
    sandbox: Annotated[
        str | None,
        typer.Option(help="Sandbox provider: docker (default) or process, e.g. --sandbox process."),
    ] = None,
    warm: Annotated[
        bool,
        typer.Option(
            help="Grade an instance's further candidates in its warm container after a "
            "verified reset (--no-warm: a fresh container for every candidate)."
        ),
    ] = True,
) -> None:
    """Evaluate predictions on a task kind's problems (SWE-style, HumanEval) in sandboxes."""
    ids = tuple(i for raw in (instance_ids or []) for i in raw.replace(",", " ").split())
    rid = run_id or f"eval-{uuid.uuid4().hex[:8]}"
    config = EvalConfig(
        run_id=rid,
        strict=grading_mode is Grading.strict,
        timeout=timeout,
        namespace=namespace,
        warm=warm,
    )
    task_kind = get_kind(kind) if kind is not None else kind_for(DatasetConfig(name=dataset))
    request = EvalRequest(
        dataset=dataset,
        predictions=predictions,
        config=config,
        split=split,
        max_workers=max_workers,
        instance_ids=ids,
        report_dir=report_dir,
        rewrite_reports=rewrite_reports,
        offline=offline,
        cache_level=cache_level.value,
        clean=clean,
    )
    evaluate = evaluator(task_kind.name)
    provider = sandbox_provider(sandbox)
    st = open_store(store)
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            outcome = asyncio.run(evaluate(request, provider, EvalStore(st), BarProgress(bar)))
    finally:
        st.close()
    for note in outcome.notes:
        console.print(note, highlight=False)
    for line in outcome.lines:
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command(name="eval")(eval_command)

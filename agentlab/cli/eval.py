"""``agentlab eval``: SWE-bench-style batch evaluation and HumanEval, with the harness's flags."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import Callable, Mapping, Sequence
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

from agentlab.errors import ConfigError, SandboxUnavailableError
from agentlab.store import Store, open_store
from agentlab.store.eval_store import EvalStore
from agentlab.tasks import grading
from agentlab.tasks.harness import EvalConfig, EvalResult, InstanceImages
from agentlab.tasks.instances import hub_name, load_hub_records
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, dataset_from_records, load_dataset

console = Console(stderr=True)


class Grading(StrEnum):
    strict = "strict"
    swebench = "swebench"


class CacheLevel(StrEnum):
    none = "none"
    base = "base"
    env = "env"
    instance = "instance"


def resolve_dataset(name: str, *, offline: bool = False, split: str = "test") -> Dataset:
    """``agentlab-mini`` (bundled), a path to a dataset folder or instances file, or a
    Hugging Face dataset name the harness accepts (``SWE-bench/SWE-bench_Verified``, ``lite``)."""
    if name == "agentlab-mini":
        # Looked up at run time: the packaged data is its own area, built separately.
        datasets = importlib.import_module("agentlab.datasets")
        folder = Path(datasets.dataset_path("agentlab-mini"))
        return load_dataset(folder, name=name, offline=offline)
    path = Path(name)
    if not path.exists() and hub_name(name):
        return dataset_from_records(load_hub_records(name, split), name=name, offline=offline)
    if not path.exists():
        raise ConfigError(
            f"--dataset {name!r}: no such dataset; use agentlab-mini, humaneval, or a path to a "
            "dataset folder or .jsonl/.json instances file"
        )
    return load_dataset(path, offline=offline)


class DockerImages:
    """Adapts the sandbox layer's content-hashed ``ensure_image`` to the harness's builder."""

    def __init__(self) -> None:
        self.built: list[tuple[str, str]] = []  # (name, tag)

    async def __call__(
        self,
        *,
        parent: str,
        commands: Sequence[str],
        files: Mapping[str, str],
        network: bool,
        name: str,
    ) -> str:
        from agentlab.sandbox.images import ImageSpec, ensure_image

        spec = ImageSpec(
            parent=parent, name=name, setup=tuple(commands), files=dict(files), network=network
        )
        tag = await ensure_image(spec)
        self.built.append((name, tag))
        return tag

    async def present(self, image: str) -> str:
        """A current-format instance's image: here already, or pulled if a registry has it."""
        from agentlab.sandbox.docker import image_exists, try_pull

        if await asyncio.to_thread(image_exists, image):
            return image
        if await asyncio.to_thread(try_pull, image):
            return image
        raise SandboxUnavailableError(
            f"image {image} is not present and could not be pulled; build or load it under "
            "that name, or point --namespace at a registry that has it"
        )

    async def clean(self, level: CacheLevel) -> None:
        """Remove images above the cache level (``--cache-level`` / ``--clean``)."""
        from agentlab.sandbox.docker import remove_image

        drop = {"none": ("env", "instance"), "base": ("env", "instance"), "env": ("instance",)}
        for name, tag in self.built:
            if name in drop.get(level.value, ()):
                await asyncio.to_thread(remove_image, tag)


def _progress_callback(
    progress: Progress, task: TaskID
) -> Callable[[Prediction, EvalResult], None]:
    counts = {"resolved": 0, "errors": 0}

    def on(pred: Prediction, result: EvalResult) -> None:
        counts["resolved"] += result.grade.resolved
        counts["errors"] += result.grade.outcome == grading.ERROR
        progress.update(
            task,
            advance=1,
            description=f"resolved {counts['resolved']} errors {counts['errors']}",
        )

    return on


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
) -> None:
    """Evaluate predictions on SWE-style instances (or HumanEval samples) in sandboxes."""
    ids = tuple(i for raw in (instance_ids or []) for i in raw.replace(",", " ").split())
    rid = run_id or f"eval-{uuid.uuid4().hex[:8]}"
    config = EvalConfig(
        run_id=rid, strict=grading_mode is Grading.strict, timeout=timeout, namespace=namespace
    )
    st = open_store(store)
    try:
        if dataset == "humaneval":
            from agentlab.cli.eval_humaneval import run_humaneval_cli

            run_humaneval_cli(predictions, config, EvalStore(st), max_workers, ids)
        else:
            asyncio.run(
                _swe(
                    dataset,
                    predictions,
                    config,
                    st,
                    max_workers,
                    ids,
                    cache_level,
                    clean,
                    rewrite_reports,
                    report_dir,
                    offline,
                    split=split,
                )
            )
    finally:
        st.close()


async def _swe(
    dataset: str,
    predictions: str,
    config: EvalConfig,
    st: Store,
    max_workers: int,
    ids: tuple[str, ...],
    cache_level: CacheLevel,
    clean: bool,
    rewrite: bool,
    report_dir: Path,
    offline: bool,
    split: str = "test",
) -> None:
    from agentlab.cli.eval_run import SWERun, run_swe
    from agentlab.sandbox.docker import DockerBackend

    data = resolve_dataset(dataset, offline=offline, split=split)
    run = SWERun(data, predictions, config, report_dir, max_workers, ids, rewrite)
    builder = DockerImages()
    images = InstanceImages(builder, config, builder.present)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("starting", total=None)
        on = _progress_callback(progress, task)
        from agentlab.cli.eval_run import select_predictions

        pending, _ = select_predictions(run)
        progress.update(task, total=len(pending))
        summary = await run_swe(run, DockerBackend(), images, EvalStore(st), on)
    for problem in summary.problems:
        console.print(f"[yellow]skipped[/] {problem}", highlight=False)
    for model, report in summary.reports.items():
        console.print(
            f"{model}: resolved {report['resolved_instances']}/{report['submitted_instances']}"
            f" (unresolved {report['unresolved_instances']},"
            f" empty {report['empty_patch_instances']},"
            f" errors {report['error_instances']}); skipped as finished: {summary.skipped}",
            highlight=False,
        )
    for path in summary.report_paths:
        typer.echo(str(path))
    if clean:  # without --clean, built images stay cached for the next run
        await builder.clean(cache_level)


def register(app: typer.Typer) -> None:
    app.command(name="eval")(eval_command)

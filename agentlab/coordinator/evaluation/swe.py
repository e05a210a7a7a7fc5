"""Running an SWE-style evaluation (``agentlab eval`` on the ``swe`` kind).

Loads the dataset and predictions, skips what the store says is finished (resume), fans the
rest out through the coordinator, persists each graded prediction the moment it is done
(store row + logs + ``report.json``), and writes the harness's run report per model at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlab.coordinator.evaluation.base import EvalOutcome, EvalProgress, EvalRequest
from agentlab.coordinator.evaluation.records import evaluation_record
from agentlab.coordinator.fanout import fan_out
from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.errors import DatasetError
from agentlab.protocols import SandboxBackend, SandboxProvider
from agentlab.store.eval_store import EvalStore
from agentlab.tasks import grading, reports
from agentlab.tasks.harness import EvalConfig, EvalResult, InstanceImages, evaluate, regrade
from agentlab.tasks.predictions import GOLD, Prediction, gold_predictions, load_predictions
from agentlab.tasks.swebench import Dataset, LoadProblem
from agentlab.tasks.warm import WarmContainers

Progress = Callable[[Prediction, EvalResult], None]


@dataclass
class SWERun:
    """Everything one SWE evaluation needs, already resolved from the command line."""

    dataset: Dataset
    predictions_arg: str
    config: EvalConfig
    report_dir: Path
    max_workers: int = 4
    instance_ids: tuple[str, ...] = ()
    rewrite_reports: bool = False


@dataclass
class SWESummary:
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> run report
    report_paths: list[Path] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    ran: int = 0
    skipped: int = 0


def select_predictions(run: SWERun) -> tuple[list[Prediction], list[LoadProblem]]:
    """The predictions to grade: gold or a file, limited to known (and requested) instances."""
    known = run.dataset.by_id()
    if run.predictions_arg == GOLD:
        preds = gold_predictions(run.dataset.instances)
    else:
        path = Path(run.predictions_arg)
        if not path.exists():
            raise DatasetError(
                f"predictions file {path} not found; pass a .jsonl/.json file or 'gold'"
            )
        preds = load_predictions(path)
    wanted = set(run.instance_ids)
    problems = [
        LoadProblem(i, f"--instance-ids names an instance not in {run.dataset.name}")
        for i in sorted(wanted - set(known))
        if i not in {p.instance_id for p in run.dataset.problems}
    ]
    chosen, unknown = [], set()
    for p in preds:
        if wanted and p.instance_id not in wanted:
            continue
        if p.instance_id in known:
            chosen.append(p)
        elif p.instance_id not in {q.instance_id for q in run.dataset.problems}:
            unknown.add(p.instance_id)
    problems += [
        LoadProblem(i, "prediction for an instance not in the dataset") for i in sorted(unknown)
    ]
    return chosen, problems


async def run_swe(
    run: SWERun,
    backend: SandboxBackend,
    images: InstanceImages,
    store: EvalStore,
    progress: Progress | None = None,
) -> SWESummary:
    """Evaluate (or, with ``rewrite_reports``, regrade) every pending prediction."""
    preds, problems = select_predictions(run)
    summary = SWESummary(problems=[*run.dataset.problems, *problems])
    cfg = run.config
    await store.start_run(cfg.run_id, run.dataset.name, _config_dict(run))
    done = await store.finished(cfg.run_id)
    todo = [p for p in preds if p.key not in done] if not run.rewrite_reports else preds
    summary.skipped = len(preds) - len(todo)
    by_id = run.dataset.by_id()

    async def work(pred: Prediction) -> EvalResult:
        inst = by_id[pred.instance_id]
        if run.rewrite_reports:
            return _regrade(run, pred)
        return await evaluate(backend, images, run.dataset, inst, pred, cfg, warm)

    async def persist(pred: Prediction, result: EvalResult) -> None:
        g = result.grade
        report = None
        # As the harness: no report.json when nothing was graded (error, empty, not applied).
        if g.outcome not in grading.UNGRADED:
            report = grading.instance_report(pred.instance_id, g, patch_is_none=pred.patch is None)
        log_dir = reports.instance_log_dir(
            run.report_dir, cfg.run_id, pred.model_name, pred.instance_id
        )
        if pred.sample:
            log_dir = log_dir / f"sample_{pred.sample}"
        if not run.rewrite_reports:
            reports.write_instance_logs(log_dir, result.logs, report)
        elif report is not None:
            reports.write_atomic(log_dir / "report.json", _json(report))
        await store.record(
            cfg.run_id,
            evaluation_record(
                pred,
                result.grade,
                report=report,
                attempts=result.attempts,
                duration_s=result.duration_s,
            ),
        )
        summary.ran += 1
        if progress:
            progress(pred, result)

    # One container per instance stays warm between its candidates (samples).
    warm = WarmContainers(backend, max_idle=2 * run.max_workers) if cfg.warm else None
    try:
        await fan_out(todo, work, max_workers=run.max_workers, on_result=persist)
    except BaseException:
        await store.finish_run(cfg.run_id, "interrupted")
        raise
    finally:
        if warm is not None:
            await warm.aclose()
    await _write_run_reports(run, preds, store, summary)
    return summary


def _regrade(run: SWERun, pred: Prediction) -> EvalResult:
    inst = run.dataset.by_id()[pred.instance_id]
    log_dir = reports.instance_log_dir(
        run.report_dir, run.config.run_id, pred.model_name, pred.instance_id
    )
    if pred.sample:
        log_dir = log_dir / f"sample_{pred.sample}"
    logs = reports.read_instance_logs(log_dir)
    if pred.is_empty:
        return EvalResult(grading.Grade(grading.EMPTY_PATCH, patch_exists=False), logs)
    if not logs.run_log:
        return EvalResult(grading.Grade(grading.ERROR, detail="no saved logs to regrade"), logs)
    spec = run.dataset.specs.get((inst.repo, inst.version))
    return EvalResult(regrade(inst, spec, logs, strict=run.config.strict), logs)


async def _write_run_reports(
    run: SWERun, preds: list[Prediction], store: EvalStore, summary: SWESummary
) -> None:
    rows = await store.outcomes(run.config.run_id)
    models = sorted({p.model_name for p in preds})
    resolved_all = 0
    for model in models:
        # The harness's run report counts one prediction per instance: sample 0.
        outcomes = {
            r.instance_id: r.outcome for r in rows if r.model_name == model and r.sample == 0
        }
        submitted = [p.instance_id for p in preds if p.model_name == model and p.sample == 0]
        failing = [i for i, o in outcomes.items() if o != grading.RESOLVED]
        reasons = reports.failure_reasons(run.report_dir, run.config.run_id, model, failing)
        report = grading.run_report(
            [i.instance_id for i in run.dataset.instances], submitted, outcomes, reasons
        )
        summary.reports[model] = report
        summary.report_paths.append(
            reports.write_run_report(run.report_dir, model, run.config.run_id, report)
        )
        resolved_all += report["resolved_instances"]
    total = sum(r["submitted_instances"] for r in summary.reports.values()) or 1
    await store.finish_run(run.config.run_id, "finished", resolved_all / total)


def _config_dict(run: SWERun) -> dict[str, Any]:
    cfg = run.config
    return {
        "dataset": run.dataset.name,
        "predictions": run.predictions_arg,
        "grading": "strict" if cfg.strict else "swebench",
        "timeout": cfg.timeout,
        "max_workers": run.max_workers,
        "namespace": cfg.namespace,
    }


def _json(report: dict[str, Any]) -> str:
    import json

    return json.dumps(report, indent=4)


# Images kept after a run at each --cache-level (the rest are removed with --clean).
DROP_ABOVE = {"none": ("env", "instance"), "base": ("env", "instance"), "env": ("instance",)}


async def evaluate_swe(
    request: EvalRequest, provider: SandboxProvider, store: EvalStore, progress: EvalProgress
) -> EvalOutcome:
    """``agentlab eval`` on SWE-style data: grade, write reports, clean images if asked."""
    data = resolve_dataset(request.dataset, offline=request.offline, split=request.split)
    run = SWERun(
        data,
        request.predictions,
        request.config,
        request.report_dir,
        request.max_workers,
        request.instance_ids,
        request.rewrite_reports,
    )
    builder = ProviderImages(provider)
    images = InstanceImages(builder, request.config, builder.present)
    pending, _ = select_predictions(run)
    progress.begin(len(pending))

    def on(_pred: Prediction, result: EvalResult) -> None:
        progress.advance(result.grade.resolved, result.grade.outcome == grading.ERROR)

    summary = await run_swe(run, provider.backend(), images, store, on)
    outcome = EvalOutcome()
    outcome.notes += [f"[yellow]skipped[/] {problem}" for problem in summary.problems]
    for model, report in summary.reports.items():
        outcome.notes.append(
            f"{model}: resolved {report['resolved_instances']}/{report['submitted_instances']}"
            f" (unresolved {report['unresolved_instances']},"
            f" empty {report['empty_patch_instances']},"
            f" errors {report['error_instances']}); skipped as finished: {summary.skipped}"
        )
    outcome.lines += [str(path) for path in summary.report_paths]
    if request.clean:  # without --clean, built images stay cached for the next run
        await builder.clean(DROP_ABOVE.get(request.cache_level, ()))
    return outcome

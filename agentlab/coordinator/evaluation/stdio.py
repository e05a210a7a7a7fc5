"""``agentlab eval`` on the ``stdio`` kind: programs graded on the hidden cases, pass@k.

Predictions are ``gold`` (each problem's reference program, under the model name ``gold``)
or a ``.jsonl`` / ``.json`` file of ``{"task_id": ..., "program": ...}`` records; a repeated
task id is the next sample. A program is graded exactly as written (``agentlab run``'s
:func:`agentlab.tasks.stdio.with_entry_call` is a reading of model replies, not of files).

Grading is the run's (:func:`agentlab.coordinator.kinds.stdio.hidden_grade`): every hidden
case under the problem's limits, resolved when each is accepted. One sandbox per problem, all
its pending samples in one runner exec; rows are stored per problem as they finish, so a re-run
with the same run id grades only what is missing (and what errored).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from agentlab.config import DatasetConfig
from agentlab.coordinator.evaluation.base import EvalOutcome, EvalProgress, EvalRequest
from agentlab.coordinator.evaluation.records import evaluation_record
from agentlab.coordinator.evaluation.samples import SampleSummary, summarise
from agentlab.coordinator.fanout import fan_out
from agentlab.coordinator.kinds.stdio import (
    BASE_IMAGE,
    NAME,
    chosen_problems,
    hidden_grade,
    problems_file,
)
from agentlab.errors import DatasetError, SandboxError
from agentlab.protocols import SandboxBackend, SandboxProvider
from agentlab.store.eval_store import EvalStore
from agentlab.tasks import grading
from agentlab.tasks import stdio as sio
from agentlab.tasks.harness import EvalConfig
from agentlab.tasks.predictions import GOLD, Prediction, load_samples
from agentlab.types import SandboxSpec

Grades = dict[tuple[str, str, int], grading.Grade]


def stdio_predictions(arg: str, problems: dict[str, sio.Problem]) -> list[Prediction]:
    """``gold`` (the reference programs; a problem without one is left out) or a file of
    ``task_id`` / ``program`` records (DatasetError for an id not among ``problems``)."""
    if arg == GOLD:
        return [
            Prediction(instance_id=t, model_name=GOLD, patch=p.reference)
            for t, p in problems.items()
            if p.reference
        ]
    preds = load_samples(Path(arg), model_name="programs", text_field="program")
    unknown = sorted({p.instance_id for p in preds} - set(problems))
    if unknown:
        raise DatasetError(f"{arg}: task ids not in the dataset: {', '.join(unknown[:5])}")
    return preds


async def _grade_problem(
    backend: SandboxBackend, problem: sio.Problem, preds: list[Prediction], config: EvalConfig
) -> Grades:
    programs = {str(i): p.patch or "" for i, p in enumerate(preds)}
    spec = SandboxSpec(
        image=BASE_IMAGE,
        run_id=config.run_id,
        cpus=2.0,
        memory_mb=1024,
        pids_limit=512,
        labels={"agentlab.instance_id": problem.task_id},
    )
    reason = ""
    for _ in range(max(1, config.retries)):
        try:
            async with backend.open(spec) as sb:
                found = await sio.run_cases(sb, programs, problem.hidden, sio.Limits.of(problem))
            if found.keys() == programs.keys():
                return {p.key: hidden_grade(problem, found[str(i)]) for i, p in enumerate(preds)}
            reason = f"runner returned {len(found)}/{len(programs)} programs"
        except SandboxError as exc:
            reason = f"{exc.__class__.__name__}: {exc}"
    return {p.key: grading.Grade(grading.ERROR, detail=reason) for p in preds}


async def run_stdio(
    request: EvalRequest, backend: SandboxBackend, store: EvalStore, progress: EvalProgress
) -> SampleSummary:
    """Grade the pending predictions of ``request``, then summarise every one asked for."""
    config = request.config
    dataset = DatasetConfig(name=request.dataset, instances=request.instance_ids)
    problems = chosen_problems(dataset)
    every = sio.load_problems(problems_file(dataset))
    preds = [p for p in stdio_predictions(request.predictions, every) if p.instance_id in problems]
    await store.start_run(
        config.run_id, NAME, {"dataset": request.dataset, "predictions": request.predictions}
    )
    done = await store.finished(config.run_id)
    todo: dict[str, list[Prediction]] = defaultdict(list)
    for pred in preds:
        if pred.key not in done:
            todo[pred.instance_id].append(pred)
    progress.begin(sum(len(v) for v in todo.values()))

    async def work(task_id: str) -> Grades:
        return await _grade_problem(backend, problems[task_id], todo[task_id], config)

    async def persist(task_id: str, grades: Grades) -> None:
        for pred in todo[task_id]:
            grade = grades[pred.key]
            await store.record(config.run_id, evaluation_record(pred, grade))
            progress.advance(grade.resolved, grade.outcome == grading.ERROR)

    await fan_out(list(todo), work, max_workers=request.max_workers, on_result=persist)
    return await summarise(config.run_id, store, {p.key for p in preds}, NAME)


async def evaluate_stdio(
    request: EvalRequest, provider: SandboxProvider, store: EvalStore, progress: EvalProgress
) -> EvalOutcome:
    """``agentlab eval`` on stdin/stdout problems: grade, then one summary line."""
    summary = await run_stdio(request, provider.backend(), store, progress)
    return EvalOutcome(lines=[summary.line()])

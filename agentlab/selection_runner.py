"""Scoring and selection over a run in the store: the orchestration that spans packages.

For each problem with candidates: merge same-change candidates, run the vote matrix in warm
sandboxes opened from the instance image, store it, pick by votes; then (with models) the
verifiers and the selection state machine over the top m, in the same warm sandboxes. After
all problems, candidates never graded are graded with the evaluation harness (distinct
changes once), so coverage and the selected score are known. Problems fan out through
:func:`agentlab.coordinator.fan_out`, within the sandbox limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from agentlab.coordinator.fanout import fan_out
from agentlab.protocols import SandboxBackend
from agentlab.scoring import verifiers
from agentlab.scoring.diffs import normalise_diff, text_sha
from agentlab.scoring.llm import ModelRole
from agentlab.scoring.matrix import (
    Cell,
    CellJob,
    MatrixCandidate,
    MatrixTest,
    WarmRepo,
    plan,
    run_cells,
)
from agentlab.scoring.selector import Option, TestRun, select
from agentlab.scoring.votes import (
    Ranked,
    TestVerdict,
    count_votes,
    not_applied,
    rank,
    top,
    verdicts,
)
from agentlab.store.run_tables import CandidateRow
from agentlab.store.scoring_store import CellRow, ScoringStore, TestRow, VoteRow
from agentlab.tasks import grading
from agentlab.tasks.harness import EvalConfig, InstanceImages, evaluate, sandbox_spec
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, SWEInstance

FINAL_ORDER = ("trajectory", "tournament", "judge", "logprob", "vote")


@dataclass(frozen=True)
class SelectionConfig:
    """How selection runs. ``max_sandboxes`` bounds containers across all problems."""

    top_m: int = 3
    max_sandboxes: int = 4
    sandboxes_per_problem: int = 2
    baseline_repeats: int = 2
    repeats: int = 1
    test_timeout_s: float = 60.0
    selection_tests: int = 2
    grade: bool = True


@dataclass(frozen=True)
class Models:
    """Models per stage; a missing one skips its stage (voting alone always runs)."""

    selection: ModelRole | None = None
    judge: ModelRole | None = None
    judge_logprobs: bool = False
    pairwise: ModelRole | None = None


@dataclass
class ProblemResult:
    task_id: str
    distinct: int
    tests: int
    valid_tests: int
    picks: dict[str, int] = field(default_factory=dict)  # method -> candidate id


@dataclass
class _Problem:
    instance: SWEInstance
    rows: list[CandidateRow]
    reps: dict[int, int]  # candidate id -> representative id
    patches: dict[int, str]  # representative id -> its patch, as written (what runs)
    norms: dict[int, str]  # representative id -> normalised patch (what is compared)
    tests: list[MatrixTest]


def _prepare(instance: SWEInstance, rows: list[CandidateRow]) -> _Problem:
    by_sha: dict[str, int] = {}
    reps: dict[int, int] = {}
    patches: dict[int, str] = {}
    norms: dict[int, str] = {}
    tests: dict[str, MatrixTest] = {}
    for row in sorted(rows, key=lambda r: r.id or 0):
        assert row.id is not None
        norm = normalise_diff(row.patch)
        rep = by_sha.setdefault(norm, row.id)
        reps[row.id] = rep
        patches.setdefault(rep, row.patch)
        norms.setdefault(rep, norm)
        if row.test and row.test.strip():
            tests.setdefault(text_sha(row.test), MatrixTest(row.id, row.test))
    return _Problem(instance, rows, reps, patches, norms, list(tests.values()))


@contextlib.asynccontextmanager
async def _warm(
    backend: SandboxBackend,
    images: InstanceImages,
    dataset: Dataset,
    p: _Problem,
    n: int,
    eval_config: EvalConfig,
    timeout_s: float,
) -> AsyncIterator[list[WarmRepo]]:
    image = await images.image_for(dataset, p.instance)
    spec = sandbox_spec(eval_config, image, p.instance.instance_id)
    async with contextlib.AsyncExitStack() as stack:
        repos = []
        for _ in range(n):
            sandbox = await stack.enter_async_context(backend.open(spec))
            repos.append(WarmRepo(sandbox, test_timeout_s=timeout_s))
        yield repos


async def score_problem(
    store: ScoringStore,
    run_id: str,
    p: _Problem,
    repos: Sequence[WarmRepo],
    config: SelectionConfig,
    models: Models,
) -> ProblemResult:
    """Vote, store, then run the configured verifiers and selection machine over the top m."""
    task = p.instance.instance_id
    runnable = [MatrixCandidate(k, p.patches[k]) for k, v in p.norms.items() if v]
    for repo in repos:
        await repo.stage(runnable, p.tests)
    jobs = plan(runnable, p.tests, baseline_repeats=config.baseline_repeats, repeats=config.repeats)
    cells = await run_cells(repos, jobs) if p.tests else []
    tests = verdicts(cells)
    ranked = rank(p.norms, count_votes(cells, tests), not_applied(cells))
    kept = top(ranked, config.top_m)
    await _save_votes(store, run_id, task, p, cells, tests, ranked, kept)
    result = ProblemResult(task, len(p.patches), len(p.tests), sum(t.valid for t in tests.values()))
    result.picks["vote"] = kept[0].candidate
    await store.save_selection(run_id, task, "vote", kept[0].candidate, reason="most votes")
    problem = p.instance.problem_statement
    entrants = [(r.candidate, p.patches[r.candidate]) for r in kept]
    order = [r.candidate for r in kept]
    if models.judge is not None:
        method = "logprob" if models.judge_logprobs else "judge"
        fn = verifiers.judge_logprob if models.judge_logprobs else verifiers.judge
        rows = [
            await fn(models.judge, task_id=task, problem=problem, candidate_id=c, patch=d)
            for c, d in entrants
        ]
        await store.save_verdicts(run_id, task, [method], models.judge.model, rows)
        result.picks[method] = verifiers.best(rows, order)
        await store.save_selection(run_id, task, method, result.picks[method], reason="top score")
    if models.pairwise is not None and len(entrants) > 1:
        rows = await verifiers.tournament(
            models.pairwise, task_id=task, problem=problem, entrants=entrants
        )
        await store.save_verdicts(run_id, task, ["pairwise"], models.pairwise.model, rows)
        result.picks["tournament"] = verifiers.best(rows, order)
        await store.save_selection(
            run_id, task, "tournament", result.picks["tournament"], reason="most wins"
        )
    if models.selection is not None:
        result.picks["trajectory"] = await _select(
            store, run_id, p, repos, kept, models.selection, config.selection_tests
        )
    return result


async def _save_votes(
    store: ScoringStore,
    run_id: str,
    task: str,
    p: _Problem,
    cells: Sequence[Cell],
    tests: dict[int, TestVerdict],
    ranked: Sequence[Ranked],
    kept: Sequence[Ranked],
) -> None:
    by_rep = {r.candidate: r for r in ranked}
    kept_ids = {r.candidate for r in kept}
    votes = [
        VoteRow(cid, rep, by_rep[rep].votes, by_rep[rep].rank, cid in kept_ids, by_rep[rep].applied)
        for cid, rep in sorted(p.reps.items())
    ]
    cell_rows = [
        CellRow(c.candidate, c.test, c.passed, c.exit_code, c.timed_out, c.duration_s)
        for c in cells
    ]
    test_rows = [
        TestRow(t.test, t.flaky, t.fails_without_patch, t.valid, t.passes) for t in tests.values()
    ]
    await store.save_matrix(run_id, task, cell_rows, votes, test_rows)


async def _select(
    store: ScoringStore,
    run_id: str,
    p: _Problem,
    repos: Sequence[WarmRepo],
    kept: Sequence[Ranked],
    role: ModelRole,
    max_tests: int = 2,
) -> int:
    """The selection state machine, its tests run on the kept candidates in the warm repos."""
    task = p.instance.instance_id
    options = [Option(r.candidate, p.patches[r.candidate], r.votes) for r in kept]
    written = 0

    async def run_test(script: str) -> dict[int, TestRun]:
        nonlocal written
        written += 1
        test = MatrixTest(-written, script)  # negative keys: never a candidate's own test
        for repo in repos:
            await repo.add_test(test)
        cells = await run_cells(repos, [CellJob(o.candidate_id, test.key) for o in options])
        return {
            c.candidate: TestRun(c.exit_code, c.output, c.timed_out)
            for c in cells
            if c.candidate is not None
        }

    outcome = await select(
        role,
        task_id=task,
        problem=p.instance.problem_statement,
        options=options,
        run_test=run_test,
        max_tests=max_tests,
    )
    turns = [(s.step, s.action, s.reply, s.feedback) for s in outcome.steps]
    await store.save_selection(
        run_id,
        task,
        "trajectory",
        outcome.candidate_id,
        fallback=outcome.fallback,
        reason=outcome.reason,
        turns=turns,
    )
    return outcome.candidate_id


async def score_run(
    store: ScoringStore,
    run_id: str,
    dataset: Dataset,
    backend: SandboxBackend,
    images: InstanceImages,
    *,
    eval_config: EvalConfig,
    config: SelectionConfig = SelectionConfig(),
    models: Models = Models(),
    on_problem: Callable[[ProblemResult], None] | None = None,
) -> list[ProblemResult]:
    """Score and select every problem of ``run_id`` that has candidates, then grade."""
    rows = await store.candidates(run_id)
    known = dataset.by_id()
    groups: dict[str, list[CandidateRow]] = {}
    for row in rows:
        if row.task_id in known:
            groups.setdefault(row.task_id, []).append(row)
    problems = [_prepare(known[t], rs) for t, rs in sorted(groups.items())]
    per = max(1, min(config.sandboxes_per_problem, config.max_sandboxes))

    async def work(p: _Problem) -> ProblemResult:
        async with _warm(
            backend, images, dataset, p, per, eval_config, config.test_timeout_s
        ) as repos:
            return await score_problem(store, run_id, p, repos, config, models)

    async def done(_p: _Problem, result: ProblemResult) -> None:
        if on_problem is not None:
            on_problem(result)

    results = await fan_out(
        problems, work, max_workers=max(1, config.max_sandboxes // per), on_result=done
    )
    if config.grade:
        await grade_candidates(
            store, run_id, dataset, backend, images, eval_config, config.max_sandboxes
        )
    return results


async def grade_candidates(
    store: ScoringStore,
    run_id: str,
    dataset: Dataset,
    backend: SandboxBackend,
    images: InstanceImages,
    eval_config: EvalConfig,
    max_workers: int,
) -> int:
    """Grade every candidate whose ``resolved`` is unknown (each distinct change once)."""
    known = dataset.by_id()
    pending = [
        r for r in await store.candidates(run_id) if r.resolved is None and r.task_id in known
    ]
    distinct: dict[tuple[str, str], list[CandidateRow]] = {}
    for row in pending:
        distinct.setdefault((row.task_id, normalise_diff(row.patch)), []).append(row)

    async def work(key: tuple[str, str]) -> bool | None:
        first = distinct[key][0]
        pred = Prediction(instance_id=first.task_id, model_name="candidate", patch=first.patch)
        result = await evaluate(backend, images, dataset, known[first.task_id], pred, eval_config)
        # An infrastructure error is no grade: the candidate stays ungraded, to retry later.
        return None if result.grade.outcome == grading.ERROR else result.grade.resolved

    async def save(key: tuple[str, str], resolved: bool | None) -> None:
        if resolved is not None:
            await store.set_resolved({r.id: resolved for r in distinct[key] if r.id is not None})

    await fan_out(list(distinct), work, max_workers=max(1, max_workers), on_result=save)
    return len(distinct)

"""Scoring and selection over a run in the store: the orchestration that spans packages.

For each problem with candidates: merge same-change candidates, run the vote matrix in warm
sandboxes opened from the instance image, store it, pick by votes; then each configured
selector (:mod:`agentlab.scoring.selectors`: judge, tournament, the selection state machine,
...) over the top m, its tests run in the same warm sandboxes. After
all problems, candidates never graded are graded with the evaluation harness (distinct
changes once), so coverage and the selected score are known. Problems fan out through
:func:`agentlab.coordinator.fan_out`, within the sandbox limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from agentlab.coordinator.fanout import fan_out
from agentlab.protocols import SandboxBackend
from agentlab.scoring.diffs import normalise_diff, text_sha
from agentlab.scoring.llm import ModelRole
from agentlab.scoring.matrix import Cell, CellJob, MatrixTest, WarmRepo, plan, run_cells
from agentlab.scoring.selector import Option, RunTest, TestRun
from agentlab.scoring.selectors import (
    JudgeConfig,
    SelectionInput,
    Selector,
    TournamentConfig,
    TrajectoryConfig,
    make_selector,
)
from agentlab.scoring.votes import (
    Ranked,
    TestVerdict,
    count_votes,
    not_applied,
    rank,
    top,
    verdicts,
)
from agentlab.store.scoring_store import CellRow, ScoringStore, TestRow, VoteRow
from agentlab.tasks import grading
from agentlab.tasks.harness import EvalConfig, InstanceImages, evaluate, sandbox_spec
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, SWEInstance
from agentlab.types import Candidate

FINAL_ORDER = ("trajectory", "tournament", "judge", "logprob", "vote", "codet")


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
    """Models per stage; a missing one skips its stage (voting alone always runs).

    A shorthand for the usual selectors (judge, tournament, state machine, in that order);
    :func:`selectors_for` builds any list from ``selection.methods`` instead.
    """

    selection: ModelRole | None = None
    judge: ModelRole | None = None
    judge_logprobs: bool = False
    pairwise: ModelRole | None = None

    def selectors(self, selection_tests: int = 2) -> list[Selector]:
        """The selectors these models enable, in the order they run."""
        out: list[Selector] = []
        if self.judge is not None:
            judge = JudgeConfig(logprobs=self.judge_logprobs)
            out.append(make_selector(judge, {"verifier": self.judge}))
        if self.pairwise is not None:
            out.append(make_selector(TournamentConfig(), {"verifier": self.pairwise}))
        if self.selection is not None:
            machine = TrajectoryConfig(max_tests=selection_tests)
            out.append(make_selector(machine, {"selection": self.selection}))
        return out


def selectors_for(methods: Sequence[BaseModel], roles: Mapping[str, ModelRole]) -> list[Selector]:
    """The selectors of ``selection.methods`` (``vote`` always runs first, so it is skipped)."""
    return [make_selector(m, roles) for m in methods if getattr(m, "type", "") != "vote"]


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
    candidates: list[Candidate]  # stored: each has its id
    reps: dict[int, int]  # candidate id -> representative id
    distinct: dict[int, Candidate]  # representative id -> the representative (what runs)
    norms: dict[int, str]  # representative id -> normalised patch (what is compared)
    tests: list[MatrixTest]


def _prepare(instance: SWEInstance, candidates: list[Candidate]) -> _Problem:
    by_sha: dict[str, int] = {}
    reps: dict[int, int] = {}
    distinct: dict[int, Candidate] = {}
    norms: dict[int, str] = {}
    tests: dict[str, MatrixTest] = {}
    for cand in sorted(candidates, key=lambda c: c.stored_id):
        norm = normalise_diff(cand.patch)
        rep = by_sha.setdefault(norm, cand.stored_id)
        reps[cand.stored_id] = rep
        distinct.setdefault(rep, cand)
        norms.setdefault(rep, norm)
        if cand.test and cand.test.strip():
            tests.setdefault(text_sha(cand.test), MatrixTest(cand.stored_id, cand.test))
    return _Problem(instance, candidates, reps, distinct, norms, list(tests.values()))


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
    selectors: Sequence[Selector],
) -> ProblemResult:
    """Vote, store, then run each selector over the top m."""
    task = p.instance.instance_id
    runnable = [p.distinct[k] for k, v in p.norms.items() if v]
    for repo in repos:
        await repo.stage(runnable, p.tests)
    jobs = plan(runnable, p.tests, baseline_repeats=config.baseline_repeats, repeats=config.repeats)
    cells = await run_cells(repos, jobs) if p.tests else []
    tests = verdicts(cells)
    ranked = rank(p.norms, count_votes(cells, tests), not_applied(cells))
    kept = top(ranked, config.top_m)
    await _save_votes(store, run_id, task, p, cells, tests, ranked, kept)
    valid = sum(t.valid for t in tests.values())
    result = ProblemResult(task, len(p.distinct), len(p.tests), valid)
    result.picks["vote"] = kept[0].candidate
    await store.save_selection(run_id, task, "vote", kept[0].candidate, reason="most votes")
    options = [Option(p.distinct[r.candidate], r.votes) for r in kept]
    problem = SelectionInput(
        task, p.instance.problem_statement, options, _test_runner(repos, options)
    )
    result.picks.update(await run_selectors(store, run_id, problem, selectors))
    return result


async def run_selectors(
    store: ScoringStore, run_id: str, problem: SelectionInput, selectors: Sequence[Selector]
) -> dict[str, int]:
    """Each selector's pick over ``problem``, stored (verdicts, turns); method -> candidate."""
    picks: dict[str, int] = {}
    task = problem.task_id
    for selector in selectors:
        pick = await selector.pick(problem)
        if pick is None:
            continue
        if pick.verdicts:
            methods = sorted({v.method for v in pick.verdicts})
            await store.save_verdicts(run_id, task, methods, pick.model, pick.verdicts)
        turns = [(st.step, st.action, st.reply, st.feedback) for st in pick.steps]
        await store.save_selection(
            run_id,
            task,
            pick.method,
            pick.candidate_id,
            fallback=pick.fallback,
            reason=pick.reason,
            turns=turns,
        )
        picks[pick.method] = pick.candidate_id
    return picks


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


def _test_runner(repos: Sequence[WarmRepo], options: Sequence[Option]) -> RunTest:
    """Runs a selection model's test on every option in the warm repos."""
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

    return run_test


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
    selectors: Sequence[Selector] | None = None,
    on_problem: Callable[[ProblemResult], None] | None = None,
) -> list[ProblemResult]:
    """Score and select every problem of ``run_id`` that has candidates, then grade.

    ``selectors`` (default: the ones ``models`` enable) run after the vote matrix.
    """
    chosen = models.selectors(config.selection_tests) if selectors is None else list(selectors)
    known = dataset.by_id()
    groups: dict[str, list[Candidate]] = {}
    for cand in await store.candidates(run_id):
        if cand.task_id in known:
            groups.setdefault(cand.task_id, []).append(cand)
    problems = [_prepare(known[t], cs) for t, cs in sorted(groups.items())]
    per = max(1, min(config.sandboxes_per_problem, config.max_sandboxes))

    async def work(p: _Problem) -> ProblemResult:
        async with _warm(
            backend, images, dataset, p, per, eval_config, config.test_timeout_s
        ) as repos:
            return await score_problem(store, run_id, p, repos, config, chosen)

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
        c for c in await store.candidates(run_id) if c.resolved is None and c.task_id in known
    ]
    distinct: dict[tuple[str, str], list[Candidate]] = {}
    for cand in pending:
        distinct.setdefault((cand.task_id, normalise_diff(cand.patch)), []).append(cand)

    async def work(key: tuple[str, str]) -> bool | None:
        first = distinct[key][0]
        pred = Prediction(instance_id=first.task_id, model_name="candidate", patch=first.patch)
        result = await evaluate(backend, images, dataset, known[first.task_id], pred, eval_config)
        # An infrastructure error is no grade: the candidate stays ungraded, to retry later.
        return None if result.grade.outcome == grading.ERROR else result.grade.resolved

    async def save(key: tuple[str, str], resolved: bool | None) -> None:
        if resolved is not None:
            await store.set_resolved({c.stored_id: resolved for c in distinct[key]})

    await fan_out(list(distinct), work, max_workers=max(1, max_workers), on_result=save)
    return len(distinct)

"""Selection for function tasks (HumanEval): CodeT's dual agreement, then the selectors.

Every candidate completion of a problem runs against every distinct test the run's models
wrote for it (the ``selftest`` asserts of its samples), in one warm sandbox per problem, with
the same runner and limits as grading. The clustering and scoring are
:mod:`agentlab.scoring.codet` (shared with the stdin/stdout kind): candidates passing the same
tests form a set scoring ``size x tests passed``, and the best set's first candidate is the
``codet`` pick. With no tests (``sampling.n: 1`` writes
none), every cluster passes zero tests and the score falls back to the cluster of identical
completions (``patch_sha``) that is largest: a majority vote.

The top ``selection.top_m`` cluster representatives then go to the configured selectors
(judge, tournament, ...) as options, with the cluster score as their votes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence

from agentlab.config import SelectionSection
from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.fanout import fan_out
from agentlab.coordinator.selection import run_selectors
from agentlab.errors import SandboxError
from agentlab.scoring.codet import ConsensusSet, consensus_sets
from agentlab.scoring.diffs import text_sha
from agentlab.scoring.selector import Option
from agentlab.scoring.selectors import SelectionInput, Selector
from agentlab.store.scoring_store import ScoringStore
from agentlab.tasks import humaneval as he
from agentlab.types import Candidate, SandboxSpec

BATCH = "/opt/agentlab/codet_batch.json"
PARALLEL = 4
PROGRAM_TIMEOUT_S = 10.0


def codet_exec_worst_s(candidates: int, tests: int) -> float:
    """The longest one problem's CodeT exec may run, as a hard cap reserves it: the runner's
    timeout for ``candidates x tests`` programs plus the meter's 60 s kill grace."""
    return PROGRAM_TIMEOUT_S * (candidates * tests / PARALLEL + 2) + 60.0 + 60.0


def rank_clusters(
    passes: dict[int, frozenset[int]], shas: dict[int, str], tests: int
) -> list[ConsensusSet]:
    """CodeT's consensus sets, best first (:func:`agentlab.scoring.codet.consensus_sets`).

    With no tests, identical completions (``patch_sha``) form the sets, so the largest group
    of identical completions wins: a majority vote.
    """
    outputs = {cid: (shas[cid],) for cid in passes} if tests == 0 else None
    return consensus_sets(passes, outputs)


def distinct_tests(scripts: Sequence[str]) -> list[str]:
    """Non-empty scripts, each once (line-end whitespace ignored), in order."""
    seen: dict[str, str] = {}
    for script in scripts:
        if script.strip():
            seen.setdefault(text_sha(script), script)
    return list(seen.values())


async def pass_matrix(
    env: RunEnv,
    problem: he.Problem,
    candidates: Sequence[Candidate],
    tests: Sequence[str],
    image: str,
) -> dict[int, frozenset[int]]:
    """Candidate id -> the indices of the tests it passes (one runner exec per problem)."""
    ids = [c.stored_id for c in candidates]
    if not tests:
        return {cid: frozenset() for cid in ids}
    items = [
        (f"{c.stored_id}:{t}", f"{problem.prompt}{c.patch}\n\n{test}\n")
        for c in candidates
        for t, test in enumerate(tests)
    ]
    labels = {"agentlab.instance_id": problem.task_id, "agentlab.sample": "codet"}
    spec = SandboxSpec(
        image=image, run_id=env.run_id, cpus=2.0, memory_mb=2048, pids_limit=512, labels=labels
    )
    async with env.pool.open(spec, problem.task_id) as sb:
        verdicts, _ = await he.run_programs(
            sb, items, timeout=PROGRAM_TIMEOUT_S, parallel=PARALLEL, batch_path=BATCH
        )
    if len(verdicts) != len(items):
        raise SandboxError(f"CodeT runner returned {len(verdicts)}/{len(items)} results")
    passed: dict[int, set[int]] = {cid: set() for cid in ids}
    for key, verdict in verdicts.items():
        cid, _, test = key.partition(":")
        if verdict == "passed":
            passed[int(cid)].add(int(test))
    return {cid: frozenset(tests_passed) for cid, tests_passed in passed.items()}


async def select_function_tasks(
    env: RunEnv,
    problems: dict[str, he.Problem],
    section: SelectionSection,
    selectors: Sequence[Selector],
    *,
    image: str,
    tests_of: Callable[[str, int], Sequence[str]],
) -> None:
    """CodeT per problem, stored as ``codet`` picks, then ``selectors`` over the top m.

    ``tests_of(task_id, sample)`` gives the test scripts a sample wrote (the kind knows where
    it stored them).
    """
    store = ScoringStore(env.store.store)
    by_task = await candidates_by_task(store, env.run_id, problems)

    async def one(task_id: str) -> None:
        candidates = by_task[task_id]
        samples = sorted({c.sample for c in candidates})
        tests = distinct_tests([t for s in samples for t in tests_of(task_id, s)])
        passes = await pass_matrix(env, problems[task_id], candidates, tests, image)
        shas = {c.stored_id: c.patch_sha for c in candidates}
        clusters = rank_clusters(passes, shas, len(tests))
        best = clusters[0]
        reason = (
            f"cluster of {len(best.members)} passing {len(best.passed)}/{len(tests)} tests"
            if tests
            else f"{len(best.members)} identical completions (no tests written)"
        )
        problem = problems[task_id]
        await save_codet_then_select(
            store, env.run_id, problem.prompt, candidates, clusters, reason, section, selectors
        )

    await fan_out(sorted(by_task), one, max_workers=section.max_sandboxes)


async def candidates_by_task(
    store: ScoringStore, run_id: str, problems: Collection[str]
) -> dict[str, list[Candidate]]:
    """The run's stored candidates of ``problems``, per problem, in stored order."""
    by_task: dict[str, list[Candidate]] = defaultdict(list)
    for cand in await store.candidates(run_id):
        if cand.task_id in problems:
            by_task[cand.task_id].append(cand)
    return by_task


async def save_codet_then_select(
    store: ScoringStore,
    run_id: str,
    prompt: str,
    candidates: Sequence[Candidate],
    clusters: Sequence[ConsensusSet],
    reason: str,
    section: SelectionSection,
    selectors: Sequence[Selector],
) -> None:
    """Store the best cluster's first candidate as the ``codet`` pick, then run ``selectors``
    over the top ``section.top_m`` cluster representatives (cluster score as their votes)."""
    task_id = candidates[0].task_id
    await store.save_selection(run_id, task_id, "codet", clusters[0].members[0], reason=reason)
    by_id = {c.stored_id: c for c in candidates}
    options = [Option(by_id[c.members[0]], c.score) for c in clusters[: section.top_m]]
    await run_selectors(store, run_id, SelectionInput(task_id, prompt, options), selectors)

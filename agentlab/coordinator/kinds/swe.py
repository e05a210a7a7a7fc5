"""The ``swe`` task kind: repositories with an issue, graded by the evaluation harness.

Per problem the context stage runs once; per sample testing -> editing -> candidate (a diff),
graded with the hidden tests.

Every sandbox starts from the harness's per-instance image (the repository at /testbed) and
first squashes the repository's git history into one commit: in agentlab-mini (as in real
SWE-bench data) the history above ``base_commit`` can reveal the fix, and the model must see
only the code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from agentlab.agent.context import estimate_tokens, source_files
from agentlab.agent.context_stage import FileScore, Ranking, build_context, rank_files, score_file
from agentlab.agent.records import EditingStep, TestingOutcome, TestingStep
from agentlab.agent.trajectory import run_editing, run_testing
from agentlab.agent.workspace import Workspace
from agentlab.config import DatasetConfig, SelectionSection
from agentlab.coordinator.env import RunEnv, first_leaf
from agentlab.coordinator.evaluation.records import evaluation_record
from agentlab.coordinator.fanout import fan_out
from agentlab.coordinator.kinds.base import Stage
from agentlab.coordinator.kinds.swe_data import (
    ProviderImages,
    instance_images,
    is_swe_dataset,
    load_swe,
)
from agentlab.coordinator.kinds.swe_gold import gold_rules
from agentlab.coordinator.selection import SelectionConfig, score_run
from agentlab.errors import SandboxError
from agentlab.llm.scripted import Rule
from agentlab.protocols import Sandbox
from agentlab.scoring.diffs import patch_sha
from agentlab.scoring.selectors import Selector
from agentlab.store.eval_store import EvalStore
from agentlab.store.run_store import CONTEXT_SAMPLE, RunState
from agentlab.store.scoring_store import ScoringStore
from agentlab.tasks import current, grading
from agentlab.tasks.harness import EvalConfig, InstanceImages, evaluate
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, SWEInstance
from agentlab.tasks.warm import WarmContainers
from agentlab.types import CallContext, Candidate, SandboxSpec

TESTBED = "/testbed"
SQUASH = (
    "rm -rf .git && git init -q && git add -A && "
    "git -c user.name=agentlab -c user.email=agentlab@localhost commit -q -m 'original code'"
)


@dataclass(frozen=True)
class ProblemContext:
    """What every sample of a problem shares: its image and packed file context."""

    image: str
    text: str


class SWEKind:
    """SWE-bench-style datasets: the bundled ones, or a SWE-bench .jsonl/.json path."""

    name = "swe"

    def claims(self, dataset: DatasetConfig) -> bool:
        """A bundled SWE-style dataset, a path that exists, or a Hugging Face dataset name."""
        return is_swe_dataset(dataset.name)

    def problem_ids(self, dataset: DatasetConfig) -> list[str]:
        return [i.instance_id for i in load_swe(dataset).instances]

    def reference_rules(self, dataset: DatasetConfig) -> Sequence[Rule]:
        """The gold patch, as a competent model would send it at each stage."""
        return gold_rules(load_swe(dataset))

    def open(self, env: RunEnv) -> SWEPipeline:
        images = instance_images(env.sandbox_provider(), env.run_id)
        return SWEPipeline(env, load_swe(env.config.dataset), images)

    async def select(
        self, env: RunEnv, section: SelectionSection, selectors: Sequence[Selector]
    ) -> None:
        """The vote matrix over the candidates' own tests, then ``selectors`` over the top m."""
        dataset = load_swe(env.config.dataset)
        provider = env.sandbox_provider()
        eval_config = EvalConfig(run_id=env.run_id, timeout=max(section.test_timeout_s * 5, 300))
        await score_run(
            ScoringStore(env.store.store),
            env.run_id,
            dataset,
            env.pool,
            InstanceImages(ProviderImages(provider), eval_config),
            eval_config=eval_config,
            config=SelectionConfig(
                top_m=section.top_m,
                max_sandboxes=section.max_sandboxes,
                sandboxes_per_problem=section.sandboxes_per_problem,
                baseline_repeats=section.baseline_repeats,
                repeats=section.repeats,
                test_timeout_s=section.test_timeout_s,
            ),
            selectors=selectors,
        )

    def own_test_signal(self, state: RunState, task_id: str, sample: int) -> bool:
        """The sample's own test failed on the original code and passed on its patch."""
        for raw in reversed(state.steps(task_id, sample, "editing")):
            step = EditingStep.model_validate_json(raw)
            if step.original is not None and step.patched is not None:
                return step.original.exit_code != 0 and step.patched.exit_code == 0
        return False


class SWEPipeline:
    """Context, trajectories and grading for SWE-style problems of one run."""

    def __init__(self, env: RunEnv, dataset: Dataset, images: InstanceImages) -> None:
        self.env = env
        self.dataset = dataset
        self.images = images
        self.by_id = dataset.by_id()
        self.eval = EvalConfig(run_id=env.run_id, timeout=600.0, retries=2)
        self.evals = EvalStore(env.store.store)
        # Candidates of one problem are graded in its warm container, reset and verified between.
        self.warm = WarmContainers(env.pool, max_idle=max(2, env.config.concurrency.sandboxes))
        self._locks: dict[object, asyncio.Lock] = {}
        # Results (or the failure) of per-problem and per-diff work, shared by all samples.
        self._contexts: dict[str, ProblemContext | BaseException] = {}
        self._grades: dict[tuple[str, str], grading.Grade] = {}

    @property
    def dataset_name(self) -> str:
        return self.dataset.name

    def task_ids(self) -> list[str]:
        return [i.instance_id for i in self.dataset.instances]

    def stages(self) -> tuple[Stage, ...]:
        return (Stage("context", per_problem=True), Stage("testing"), Stage("editing"))

    async def aclose(self) -> None:
        """Remove the grading containers kept warm."""
        await self.warm.aclose()

    # ------------------------------------------------------------------------- sandboxes

    def repo_dir(self, task_id: str) -> str:
        """Where the repository is: /testbed, or where a current-format instance's eval script
        runs its tests."""
        instance = self.by_id[task_id]
        return current.workdir(instance) if instance.is_current_format else TESTBED

    def spec(self, image: str, task_id: str, sample: int) -> SandboxSpec:
        return SandboxSpec(
            image=image,
            run_id=self.env.run_id,
            cpus=1.0,
            memory_mb=2048,
            workdir=self.repo_dir(task_id),
            ttl_s=6 * 3600,
            labels={"agentlab.instance_id": task_id[:200], "agentlab.sample": str(sample)},
        )

    async def squash(self, sandbox: Sandbox, repo: str = TESTBED) -> None:
        """Replace the repository's history with one commit of its current tree."""
        done = await sandbox.exec(["bash", "-c", SQUASH], cwd=repo, timeout=300)
        if not done.ok:
            raise SandboxError(f"cannot squash the repository history: {done.stderr.strip()}")

    # --------------------------------------------------------------------------- context

    async def context(self, task_id: str) -> ProblemContext:
        """The problem's context stage, run once and shared by all samples (even on failure)."""
        async with self._locks.setdefault(("context", task_id), asyncio.Lock()):
            if task_id not in self._contexts:
                try:
                    self._contexts[task_id] = await self._context(task_id)
                except Exception as exc:  # every sample fails the same way; resume retries
                    self._contexts[task_id] = exc
            found = self._contexts[task_id]
        if isinstance(found, BaseException):
            raise found
        return found

    async def _context(self, task_id: str) -> ProblemContext:
        instance = self.by_id[task_id]
        image = await self.images.image_for(self.dataset, instance)
        files = await self._read_sources(image, task_id)
        scores = await self._relevance(instance, files)
        ranking = await self._ranking(instance, scores)
        packed = build_context(ranking, files, self.env.config.context.token_budget)
        self.env.progress.advance("context")
        return ProblemContext(image, packed.text)

    async def _read_sources(self, image: str, task_id: str) -> dict[str, str]:
        limit = self.env.config.context.max_file_tokens
        repo = self.repo_dir(task_id)
        async with self.env.pool.open(self.spec(image, task_id, CONTEXT_SAMPLE), task_id) as sb:
            await self.squash(sb, repo)
            listed = await sb.exec(["git", "ls-files"], cwd=repo, timeout=60)
            files: dict[str, str] = {}
            for path in source_files(listed.stdout.splitlines()):
                text = (await sb.read_file(f"{repo}/{path}")).decode("utf-8", "replace")
                if estimate_tokens(text) <= limit:
                    files[path] = text
        return files

    async def _relevance(self, instance: SWEInstance, files: dict[str, str]) -> list[FileScore]:
        env, task_id = self.env, instance.instance_id
        done = {s.path: s for s in env.steps(task_id, CONTEXT_SAMPLE, "relevance", FileScore)}
        paths = sorted(files)
        chat = env.models.chat("relevance", CallContext(run_id=env.run_id, task_id=task_id))
        problem = instance.problem_statement

        async def score(index: int) -> FileScore:
            path = paths[index]
            if path in done:
                return done[path]
            result = await score_file(chat, problem=problem, path=path, content=files[path])
            await env.save_turn(
                task_id,
                CONTEXT_SAMPLE,
                "relevance",
                index,
                f"{result.score:.2f}",
                result.model_dump_json(),
            )
            return result

        limit = env.config.concurrency.llm_calls
        try:
            return await fan_out(range(len(paths)), score, max_workers=limit)
        except BaseExceptionGroup as group:
            # One error, as the caller classifies it (infrastructure, budget), not a group.
            raise first_leaf(group) from group

    async def _ranking(self, instance: SWEInstance, scores: list[FileScore]) -> Ranking:
        env, task_id = self.env, instance.instance_id
        stored = env.steps(task_id, CONTEXT_SAMPLE, "ranking", Ranking)
        if stored:
            return stored[0]
        ctx = env.config.context
        ranking = await rank_files(
            env.models.chat("ranking", CallContext(run_id=env.run_id, task_id=task_id)),
            problem=instance.problem_statement,
            scores=scores,
            threshold=ctx.relevance_threshold,
            max_files=ctx.max_files,
        )
        await env.save_turn(
            task_id, CONTEXT_SAMPLE, "ranking", 0, "rank", ranking.model_dump_json()
        )
        return ranking

    # ----------------------------------------------------------------------- trajectory

    async def trajectory(self, task_id: str, sample: int) -> Candidate:
        """Testing then editing for one sample; every step is stored as it finishes."""
        env, instance = self.env, self.by_id[task_id]
        problem = await self.context(task_id)
        sampling = env.config.sampling
        ctx = CallContext(run_id=env.run_id, task_id=task_id, sample=sample)
        async with env.pool.open(self.spec(problem.image, task_id, sample), task_id) as sb:
            repo = self.repo_dir(task_id)
            await self.squash(sb, repo)
            # A current-format instance's tests run in its eval script's environment.
            prelude = current.environment_lines(instance) if instance.is_current_format else []
            ws = Workspace(sb, repo_dir=repo, prelude=tuple(prelude))
            await env.store.set_trajectory(
                env.run_id, task_id, sample, stage="testing", status="running"
            )
            tested = await self.write_test(ws, task_id, sample, problem.text)
            env.progress.advance("testing")
            await env.store.set_trajectory(
                env.run_id, task_id, sample, stage="editing", status="running"
            )
            edited = await run_editing(
                env.models.chat("editing", ctx),
                ws,
                problem=instance.problem_statement,
                context=problem.text,
                test=tested.script,
                iterations=sampling.n,
                max_fixes=sampling.format_fixes,
                prior=env.steps(task_id, sample, "editing", EditingStep),
                on_step=env.saver(task_id, sample, "editing", lambda s: s.action),
            )
            env.progress.advance("editing")
        status = "final" if edited.status == "approved" else edited.status
        return Candidate(
            task_id=task_id,
            sample=sample,
            patch=edited.diff,
            patch_sha=patch_sha(edited.diff),
            test=edited.test,
            status=status,
        )

    async def write_test(
        self, ws: Workspace, task_id: str, sample: int, context: str
    ) -> TestingOutcome:
        """The testing stage of one sample in ``ws`` (resumed from its stored steps)."""
        env, sampling = self.env, self.env.config.sampling
        ctx = CallContext(run_id=env.run_id, task_id=task_id, sample=sample)
        return await run_testing(
            env.models.chat("testing", ctx),
            ws,
            problem=self.by_id[task_id].problem_statement,
            context=context,
            attempts=sampling.test_attempts,
            max_fixes=sampling.format_fixes,
            prior=env.steps(task_id, sample, "testing", TestingStep),
            on_step=env.saver(task_id, sample, "testing", lambda s: s.decision),
        )

    # -------------------------------------------------------------------------- grading

    async def grade(self, candidate: Candidate) -> bool:
        """Resolved under the hidden tests? Same diff of the same problem is graded once."""
        key = (candidate.task_id, candidate.patch_sha)
        async with self._locks.setdefault(key, asyncio.Lock()):
            graded = self._grades.get(key) or await self._grade(candidate)
            if graded.outcome == grading.ERROR:  # infrastructure: the next attempt grades again
                raise SandboxError(f"grading {candidate.task_id} failed: {graded.detail}")
            self._grades[key] = graded
        prediction = self._prediction(candidate)
        await self.evals.record(self.env.run_id, evaluation_record(prediction, graded))
        return graded.resolved

    def _prediction(self, candidate: Candidate) -> Prediction:
        return Prediction(
            instance_id=candidate.task_id,
            model_name=self.env.config.run_name,
            patch=candidate.patch,
            sample=candidate.sample,
        )

    async def _grade(self, candidate: Candidate) -> grading.Grade:
        instance = self.by_id[candidate.task_id]
        result = await evaluate(
            self.env.pool,
            self.images,
            self.dataset,
            instance,
            self._prediction(candidate),
            self.eval,
            self.warm,
        )
        return result.grade

"""The ``humaneval`` task kind: a completion per sample, optionally refined against the model's own
tests, graded with the hidden tests by the HumanEval runner in one warm sandbox.

A trajectory is short: step 0 asks the editing model for the function; with ``sampling.n``
> 1 the testing model writes a few asserts once (stage ``selftest``), the completion runs
against them in a sandbox, and a failure goes back to the model for a corrected function, at
most ``n - 1`` times. Every step is a stored turn, so a resumed trajectory replays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Sequence
from typing import Literal

from agentlab.agent.chat import Chat
from agentlab.agent.replies import python_block
from agentlab.config import DatasetConfig, SelectionSection
from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.evaluation.records import evaluation_record
from agentlab.coordinator.kinds.base import Stage
from agentlab.coordinator.kinds.humaneval_select import select_function_tasks
from agentlab.errors import ConfigError
from agentlab.llm.scripted import Rule
from agentlab.protocols import Sandbox
from agentlab.scoring.diffs import patch_sha
from agentlab.scoring.selectors import Selector
from agentlab.store.eval_store import EvalStore
from agentlab.store.run_store import RunState
from agentlab.tasks import grading
from agentlab.tasks import humaneval as he
from agentlab.tasks.predictions import Prediction
from agentlab.types import CallContext, Candidate, ExecResult, Message, Record, SandboxSpec

NAME = "humaneval"

BASE_IMAGE = "agentlab/base:bookworm"
SELFTEST_PATH = "/var/tmp/agentlab/selftest.py"
# The longest sandbox exec a sample reserves against a hard cap: the grading runner's timeout
# (10 s x 3 + 60 s, tasks.humaneval.run_programs) plus the meter's 60 s kill grace
# (agentlab.llm.budget.ComputeMeter); the self-test exec (20 s) reserves less.
EXEC_WORST_S = 150.0
SYSTEM = "You complete Python functions. Reply with code only."
ASK = (
    "Complete this Python function. Reply with the whole function in one ```python block."
    "\n\n```python\n{prompt}```"
)
ASK_TESTS = (
    "Write three assert statements that check `{entry}` against its docstring. Reply with"
    " one ```python block of asserts only.\n\n```python\n{prompt}```"
)
FIX = (
    "Your function failed its tests:\n```\n{output}\n```\n"
    "Reply with the corrected whole function in one ```python block."
)


class CompletionStep(Record):
    """One completion, or (``passed``) the note that the last one passed the model's tests.

    ``run`` is the self-test run that led to this step: the failure a new completion answers,
    or the success that ends refinement.
    """

    step: int
    kind: Literal["complete", "passed"] = "complete"
    messages: tuple[Message, ...] = ()
    completion: str
    run: ExecResult | None = None


class TurnGrades(Record):
    """Hidden-test verdicts of each completion a trajectory wrote, in turn order (n > 1).

    A trajectory limited to t turns ends with completion ``min(t, len(resolved))``, so these
    give its outcome at every turn limit: what ``agentlab budget plan`` needs to choose n.
    """

    resolved: tuple[bool, ...]


class SelfTest(Record):
    """The asserts the testing model wrote for a problem sample."""

    step: int = 0
    tests: str


def completion_from(reply: str, problem: he.Problem) -> str:
    """The text to append to the prompt: a whole function (redefining it) or a body."""
    code = python_block(reply) or reply
    if re.search(rf"^\s*def {re.escape(problem.entry_point)}\b", code, re.M):
        return "\n" + code
    lines = code.splitlines()
    if lines and not any(line.startswith((" ", "\t")) for line in lines if line.strip()):
        lines = ["    " + line for line in lines]  # a bare body: put it inside the function
    return "\n".join(lines)


def canonical_rules() -> list[Rule]:
    """The scripted model's answers on HumanEval: each problem's reference solution."""
    rules = []
    for problem in he.load_problems().values():
        answer = f"```python\n{problem.prompt}{problem.canonical_solution}```"
        rules.append(Rule(user=re.escape(problem.prompt[-300:]), replies=(answer,)))
    return rules


def chosen_problems(dataset: DatasetConfig) -> dict[str, he.Problem]:
    """The bundled HumanEval problems the config's filters keep."""
    everything = he.load_problems()
    chosen = {t: everything[t] for t in dataset.select(everything)}
    if not chosen:
        raise ConfigError("dataset: the filter keeps no HumanEval problem")
    return chosen


class HumanEvalKind:
    """The bundled HumanEval problems: complete a function, graded by hidden asserts."""

    name = NAME

    def claims(self, dataset: DatasetConfig) -> bool:
        return dataset.name == NAME

    def problem_ids(self, dataset: DatasetConfig) -> list[str]:
        return list(chosen_problems(dataset))

    def reference_rules(self, dataset: DatasetConfig) -> Sequence[Rule]:
        return canonical_rules()

    def open(self, env: RunEnv) -> HumanEvalPipeline:
        return HumanEvalPipeline(env)

    async def select(
        self, env: RunEnv, section: SelectionSection, selectors: Sequence[Selector]
    ) -> None:
        """CodeT dual agreement over the samples' own asserts, then ``selectors``."""

        def tests_of(task_id: str, sample: int) -> list[str]:
            return [t.tests for t in env.steps(task_id, sample, "selftest", SelfTest)]

        problems = chosen_problems(env.config.dataset)
        await select_function_tasks(
            env, problems, section, selectors, image=BASE_IMAGE, tests_of=tests_of
        )

    def own_test_signal(self, state: RunState, task_id: str, sample: int) -> bool:
        """The last step is ``passed`` once the completion passed the model's own asserts."""
        steps = state.steps(task_id, sample, "completion")
        return bool(steps) and json.loads(steps[-1]).get("kind") == "passed"


class HumanEvalPipeline:
    """Completions, self-test refinement and grading for HumanEval problems."""

    def __init__(self, env: RunEnv) -> None:
        self.env = env
        self.problems = chosen_problems(env.config.dataset)
        self._grader: Sandbox | None = None
        self._grader_lock = asyncio.Lock()
        self._stack = contextlib.AsyncExitStack()

    @property
    def dataset_name(self) -> str:
        return NAME

    def task_ids(self) -> list[str]:
        return list(self.problems)

    def stages(self) -> tuple[Stage, ...]:
        return (Stage("completion"),)

    def _spec(self, task_id: str, sample: int) -> SandboxSpec:
        labels = {"agentlab.instance_id": task_id, "agentlab.sample": str(sample)}
        return SandboxSpec(
            image=BASE_IMAGE, run_id=self.env.run_id, memory_mb=1024, ttl_s=6 * 3600, labels=labels
        )

    async def trajectory(self, task_id: str, sample: int) -> Candidate:
        """Sample a completion; refine it against the model's own tests if ``n`` > 1."""
        env, problem = self.env, self.problems[task_id]
        ctx = CallContext(run_id=env.run_id, task_id=task_id, sample=sample)
        steps = env.steps(task_id, sample, "completion", CompletionStep)
        history = [
            Message(role="system", content=SYSTEM),
            Message(role="user", content=ASK.format(prompt=problem.prompt)),
        ]
        for done in steps:
            history.extend(done.messages)
        save = env.saver(task_id, sample, "completion", _kind)
        if not steps:
            chat = env.models.chat("editing", ctx)
            reply = await chat(history, stage="editing", step=0)
            first = CompletionStep(
                step=0,
                messages=(Message(role="assistant", content=reply),),
                completion=completion_from(reply, problem),
            )
            await save(first)
            history.extend(first.messages)
            steps.append(first)
        if _needs_more(steps, env.config.sampling.n):
            await self._refine(task_id, sample, ctx, history, steps)
        env.progress.advance("completion")
        final = steps[-1].completion
        return Candidate(
            task_id=task_id, sample=sample, patch=final, patch_sha=patch_sha(final), status="final"
        )

    async def _refine(
        self,
        task_id: str,
        sample: int,
        ctx: CallContext,
        history: list[Message],
        steps: list[CompletionStep],
    ) -> None:
        env, problem = self.env, self.problems[task_id]
        tests = await self._selftests(task_id, sample, ctx)
        save = env.saver(task_id, sample, "completion", _kind)
        chat: Chat = env.models.chat("editing", ctx)
        async with env.pool.open(self._spec(task_id, sample), task_id) as sb:
            while _needs_more(steps, env.config.sampling.n):
                last = steps[-1]
                run = await _run_selftest(sb, problem, last.completion, tests)
                if run.ok:
                    step = CompletionStep(
                        step=len(steps), kind="passed", completion=last.completion, run=run
                    )
                else:
                    feedback = Message(role="user", content=FIX.format(output=_tail(run)))
                    reply = await chat([*history, feedback], stage="editing", step=len(steps))
                    step = CompletionStep(
                        step=len(steps),
                        messages=(feedback, Message(role="assistant", content=reply)),
                        completion=completion_from(reply, problem),
                        run=run,
                    )
                await save(step)
                steps.append(step)
                history.extend(step.messages)

    async def _selftests(self, task_id: str, sample: int, ctx: CallContext) -> str:
        env, problem = self.env, self.problems[task_id]
        stored = env.steps(task_id, sample, "selftest", SelfTest)
        if stored:
            return stored[0].tests
        ask = ASK_TESTS.format(entry=problem.entry_point, prompt=problem.prompt)
        reply = await env.models.chat("testing", ctx)(
            [Message(role="system", content=SYSTEM), Message(role="user", content=ask)],
            stage="testing",
            step=0,
        )
        record = SelfTest(tests=python_block(reply) or reply)
        await env.save_turn(task_id, sample, "selftest", 0, "write", record.model_dump_json())
        return record.tests

    async def grade(self, candidate: Candidate) -> bool:
        """Run the hidden tests on the completion (HumanEval's runner, one warm sandbox)."""
        problem = self.problems[candidate.task_id]
        grader = await self._warm_grader()
        name = f"{candidate.task_id.replace('/', '_')}.{candidate.sample}"
        verdict = await he.grade_one(grader, problem, candidate.patch, name)
        # Also an evaluation row, so `agentlab budget fit RUN` reads this run like any other.
        prediction = Prediction(
            instance_id=candidate.task_id,
            model_name=self.env.config.run_name,
            patch=candidate.patch,
            sample=candidate.sample,
        )
        graded = verdict_grade(verdict)
        await EvalStore(self.env.store.store).record(
            self.env.run_id, evaluation_record(prediction, graded)
        )
        await self._grade_turns(candidate, graded.resolved, grader)
        return graded.resolved

    async def _grade_turns(self, candidate: Candidate, final: bool, grader: Sandbox) -> None:
        """With ``n`` > 1, grade every completion the trajectory wrote (stage ``turn_grade``)."""
        env, task_id, sample = self.env, candidate.task_id, candidate.sample
        if env.config.sampling.n < 2 or env.steps(task_id, sample, "turn_grade", TurnGrades):
            return
        steps = env.steps(task_id, sample, "completion", CompletionStep)
        written = [s.completion for s in steps if s.kind == "complete"]
        verdicts: list[bool] = []
        for turn, completion in enumerate(written):
            if completion == candidate.patch:
                verdicts.append(final)
                continue
            name = f"{task_id.replace('/', '_')}.{sample}.turn{turn}"
            got = await he.grade_one(grader, self.problems[task_id], completion, name)
            verdicts.append(got == "passed")
        record = TurnGrades(resolved=tuple(verdicts)).model_dump_json()
        await env.save_turn(task_id, sample, "turn_grade", 0, "grade", record)

    async def _warm_grader(self) -> Sandbox:
        async with self._grader_lock:
            if self._grader is None:
                spec = self._spec("grader", 0).model_copy(update={"cpus": 2.0, "pids_limit": 512})
                sb = await self._stack.enter_async_context(self.env.pool.open(spec, "grader"))
                await sb.write_file(he.RUNNER_PATH, he.RUNNER)
                self._grader = sb
            return self._grader

    async def aclose(self) -> None:
        """Remove the warm grading sandbox."""
        self._grader = None
        await self._stack.aclose()


def _kind(step: CompletionStep) -> str:
    return step.kind


def _needs_more(steps: list[CompletionStep], n: int) -> bool:
    """Refine while the last completion has not passed and fewer than ``n`` were written."""
    written = sum(1 for s in steps if s.kind == "complete")
    return steps[-1].kind != "passed" and written < n


async def _run_selftest(
    sb: Sandbox, problem: he.Problem, completion: str, tests: str
) -> ExecResult:
    program = f"{problem.prompt}{completion}\n\n{tests}\n"
    await sb.write_file(SELFTEST_PATH, program)
    return await sb.exec(["python3", SELFTEST_PATH], timeout=20)


def _tail(run: ExecResult, chars: int = 1500) -> str:
    text = (run.stdout + run.stderr).strip() or f"exit code {run.exit_code}"
    return text[-chars:]


def verdict_grade(verdict: str) -> grading.Grade:
    """The grade of a HumanEval runner verdict (``passed``, ``failed: ...``, ``error: ...``)."""
    if verdict == "passed":
        return grading.Grade(grading.RESOLVED, patch_applied=True)
    outcome = grading.ERROR if verdict.startswith("error") else grading.UNRESOLVED
    return grading.Grade(outcome, patch_applied=True, detail=verdict)

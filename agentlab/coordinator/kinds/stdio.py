"""The ``stdio`` task kind: write a program that reads stdin and prints the answer.

Problems come from a CodeContests-shaped JSONL file (the bundled ``agentlab-stdio`` or a path;
:mod:`agentlab.tasks.stdio` reads it and runs programs). A trajectory:

1. the editing model gets the statement, the public examples and a program skeleton (read
   all of stdin, print the answer, call ``main()``) and replies with a whole program; a
   program that defines ``main()``/``solve()`` but never calls it gets the call appended
   (:func:`agentlab.tasks.stdio.with_entry_call`, the one normalisation; the stored program
   is the normalised one);
2. the program runs on the public examples (in one warm sandbox per run, each run confined
   to its own user and limits); a failure goes back to the model with the first failing
   example's input, expected and actual output, for a corrected program, at most ``n - 1``
   times. The last step records the final check: ``passed`` (every example accepted, the
   sample's own-test signal for the adaptive policy) or ``failed``;
3. grading runs the final program on the hidden cases (``private_tests`` + ``generated_tests``)
   under the problem's time and memory limits; resolved = every hidden case accepted.

Every step is a stored turn, so a resumed sample replays them instead of paying again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from agentlab.agent.replies import python_block
from agentlab.config import DatasetConfig, SelectionSection
from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.evaluation.records import evaluation_record
from agentlab.coordinator.kinds.base import Stage
from agentlab.coordinator.kinds.stdio_select import select_stdio
from agentlab.errors import ConfigError
from agentlab.llm.scripted import Rule
from agentlab.protocols import Sandbox
from agentlab.scoring.diffs import patch_sha
from agentlab.scoring.selectors import Selector
from agentlab.store.eval_store import EvalStore
from agentlab.store.run_store import RunState
from agentlab.tasks import grading
from agentlab.tasks import stdio as sio
from agentlab.tasks.predictions import Prediction
from agentlab.types import CallContext, Candidate, Message, Record, SandboxSpec

NAME = "stdio"
STAGE = "program"
BASE_IMAGE = "agentlab/base:bookworm"
SYSTEM = (
    "You write complete Python 3 programs that read standard input and write standard output."
    " Reply with code only."
)
# Small models answer "write a program" with a function nobody calls; the skeleton shows the
# whole shape (read all of stdin, compute, print) and where the answer goes.
SKELETON = """import sys


def main():
    data = sys.stdin.read().split()
    # parse the input from data, compute the answer, then print it
    print(answer)


main()
"""
ASK = (
    "Solve this programming problem with a complete Python 3 program. The program reads the"
    " input from standard input and prints the answer to standard output; do not hard-code"
    " the examples.\n\n"
    "# {title}\n\n{statement}\n{examples}\n"
    "Fill in this skeleton (keep reading stdin and printing; keep the call of main() at the"
    " end):\n```python\n{skeleton}```\n"
    "Reply with the complete program in one ```python block."
)
FIX = (
    "Your program failed example {number} ({verdict}).\nInput:\n```\n{input}```\n"
    "Expected output:\n```\n{expected}```\nYour output:\n```\n{got}```\n{stderr}"
    "Reply with the corrected whole program in one ```python block."
)


class ProgramStep(Record):
    """A program the model wrote (``program``), or the final check of the last one.

    ``verdicts`` are the example verdicts that led to this step: the failure a new program
    answers, or the check that ends the trajectory (``passed`` / ``failed``).
    """

    step: int
    kind: Literal["program", "passed", "failed"] = "program"
    messages: tuple[Message, ...] = ()
    program: str
    verdicts: tuple[str, ...] = ()


def problems_file(dataset: DatasetConfig) -> Path:
    """The JSONL file ``dataset.name`` names: a bundled stdin/stdout dataset or a path."""
    return sio.bundled_path(dataset.name) or Path(dataset.name)


def chosen_problems(dataset: DatasetConfig) -> dict[str, sio.Problem]:
    """The problems the config's filters keep (ConfigError if none or an unknown id)."""
    everything = sio.load_problems(problems_file(dataset))
    unknown = sorted(set(dataset.instances) - set(everything))
    if unknown:
        raise ConfigError(f"dataset.instances: not in {dataset.name}: {', '.join(unknown)}")
    chosen = {t: everything[t] for t in dataset.select(everything)}
    if not chosen:
        raise ConfigError(f"dataset: the filter keeps no problem of {dataset.name}")
    return chosen


def prompt(problem: sio.Problem) -> str:
    """The first user message: statement and public examples."""
    return ASK.format(
        title=problem.title,
        statement=problem.statement,
        examples=sio.examples_text(problem),
        skeleton=SKELETON,
    )


def _looks_like_stdio(path: Path) -> bool:
    try:
        with path.open() as fh:
            first = next((line for line in fh if line.strip()), "")
        row = json.loads(first)
    except (OSError, ValueError):
        return False
    return isinstance(row, dict) and ("public_tests" in row or "private_tests" in row)


class StdioKind:
    """Stdin/stdout programming problems, graded on hidden cases with time and memory limits."""

    name = NAME

    def claims(self, dataset: DatasetConfig) -> bool:
        """The bundled ``agentlab-stdio``, or a JSONL file whose rows have CodeContests tests."""
        path = Path(dataset.name)
        return sio.bundled_path(dataset.name) is not None or (
            path.is_file() and _looks_like_stdio(path)
        )

    def problem_ids(self, dataset: DatasetConfig) -> list[str]:
        return list(chosen_problems(dataset))

    def reference_rules(self, dataset: DatasetConfig) -> Sequence[Rule]:
        """Each problem's reference program, answered when its statement is asked."""
        problems = sio.load_problems(problems_file(dataset)).values()
        return [
            Rule(user=re.escape(p.statement.strip()[:200]), replies=(_fenced(p.reference),))
            for p in problems
            if p.reference
        ]

    def open(self, env: RunEnv) -> StdioPipeline:
        return StdioPipeline(env)

    async def select(
        self, env: RunEnv, section: SelectionSection, selectors: Sequence[Selector]
    ) -> None:
        """CodeT over the public examples and generated inputs (:mod:`.stdio_select`)."""
        await select_stdio(env, chosen_problems(env.config.dataset), section, selectors)

    def selection_asks_models(self, section: SelectionSection) -> bool:
        """The generated inputs are a model call (answered from the cache when stored)."""
        return section.generated_inputs > 0

    def own_test_signal(self, state: RunState, task_id: str, sample: int) -> bool:
        """The last step is ``passed`` once the final program passed every public example."""
        steps = state.steps(task_id, sample, STAGE)
        return bool(steps) and json.loads(steps[-1]).get("kind") == "passed"


class StdioPipeline:
    """Programs, example-driven refinement and hidden-case grading in one warm sandbox."""

    def __init__(self, env: RunEnv) -> None:
        self.env = env
        self.problems = chosen_problems(env.config.dataset)
        self._runner: Sandbox | None = None
        self._lock = asyncio.Lock()
        self._stack = contextlib.AsyncExitStack()

    @property
    def dataset_name(self) -> str:
        return self.env.config.dataset.name

    def task_ids(self) -> list[str]:
        return list(self.problems)

    def stages(self) -> tuple[Stage, ...]:
        return (Stage(STAGE),)

    async def trajectory(self, task_id: str, sample: int) -> Candidate:
        """Write a program; check it on the examples, refining on failure up to ``n`` programs."""
        env, problem = self.env, self.problems[task_id]
        ctx = CallContext(run_id=env.run_id, task_id=task_id, sample=sample)
        chat = env.models.chat("editing", ctx)
        steps = env.steps(task_id, sample, STAGE, ProgramStep)
        history = [Message(role="system", content=SYSTEM)]
        history.append(Message(role="user", content=prompt(problem)))
        for done in steps:
            history.extend(done.messages)
        save = env.saver(task_id, sample, STAGE, _kind)
        if not steps:
            reply = await chat(history, stage="editing", step=0)
            first = ProgramStep(
                step=0, messages=(Message(role="assistant", content=reply),), program=_code(reply)
            )
            await save(first)
            history.extend(first.messages)
            steps.append(first)
        while steps[-1].kind == "program":
            last = steps[-1]
            results = await self.run(last.program, problem.examples, problem)
            verdicts = tuple(r.verdict for r in results)
            written = sum(1 for s in steps if s.kind == "program")
            if sio.accepted(results, problem.examples):
                step = ProgramStep(step=len(steps), kind="passed", program=last.program)
            elif written >= env.config.sampling.n:
                step = ProgramStep(
                    step=len(steps), kind="failed", program=last.program, verdicts=verdicts
                )
            else:
                feedback = Message(role="user", content=_feedback(problem, results))
                reply = await chat([*history, feedback], stage="editing", step=len(steps))
                step = ProgramStep(
                    step=len(steps),
                    messages=(feedback, Message(role="assistant", content=reply)),
                    program=_code(reply),
                    verdicts=verdicts,
                )
            await save(step)
            steps.append(step)
            history.extend(step.messages)
        env.progress.advance(STAGE)
        final = steps[-1].program
        return Candidate(
            task_id=task_id, sample=sample, patch=final, patch_sha=patch_sha(final), status="final"
        )

    async def run(
        self, program: str, cases: Sequence[sio.Case], problem: sio.Problem
    ) -> list[sio.CaseResult]:
        """One program on ``cases`` under the problem's limits, stopping at the first failure."""
        runner = await self._warm_runner()
        results = await sio.run_cases(runner, {"p": program}, cases, sio.Limits.of(problem))
        return results["p"]

    async def grade(self, candidate: Candidate) -> bool:
        """Every hidden case accepted? Stores the evaluation row either way."""
        problem = self.problems[candidate.task_id]
        graded = hidden_grade(problem, await self.run(candidate.patch, problem.hidden, problem))
        prediction = Prediction(
            instance_id=candidate.task_id,
            model_name=self.env.config.run_name,
            patch=candidate.patch,
            sample=candidate.sample,
        )
        await EvalStore(self.env.store.store).record(
            self.env.run_id, evaluation_record(prediction, graded)
        )
        return graded.resolved

    async def _warm_runner(self) -> Sandbox:
        async with self._lock:
            if self._runner is None:
                spec = SandboxSpec(
                    image=BASE_IMAGE,
                    run_id=self.env.run_id,
                    cpus=2.0,
                    memory_mb=1024,
                    pids_limit=512,
                    ttl_s=6 * 3600,
                    labels={"agentlab.instance_id": "stdio-runner"},
                )
                self._runner = await self._stack.enter_async_context(
                    self.env.pool.open(spec, "runner")
                )
            return self._runner

    async def aclose(self) -> None:
        """Remove the warm sandbox."""
        self._runner = None
        await self._stack.aclose()


def hidden_grade(problem: sio.Problem, results: Sequence[sio.CaseResult]) -> grading.Grade:
    """Resolved when every hidden case is accepted; else the first failure's verdict."""
    if sio.accepted(results, problem.hidden):
        return grading.Grade(grading.RESOLVED, patch_applied=True)
    last = results[-1].verdict if results else "no result"
    detail = f"{last} on hidden case {len(results)} of {len(problem.hidden)}"
    return grading.Grade(grading.UNRESOLVED, patch_applied=True, detail=detail)


def _kind(step: ProgramStep) -> str:
    return step.kind


def _code(reply: str) -> str:
    """The program of a reply: its python block (else the whole reply), with the entry call
    appended when it defines ``main()``/``solve()`` but never calls it
    (:func:`agentlab.tasks.stdio.with_entry_call`). The stored program is this one."""
    return sio.with_entry_call(python_block(reply) or reply)


def _fenced(program: str | None) -> str:
    return f"```python\n{program}```"


def _feedback(problem: sio.Problem, results: Sequence[sio.CaseResult]) -> str:
    """The first failing example, shown as the model would debug it."""
    index = next((i for i, r in enumerate(results) if not r.passed), len(results) - 1)
    failed, case = results[index], problem.examples[index]
    stderr = f"Error output:\n```\n{failed.stderr_tail}```\n" if failed.stderr_tail else ""
    return FIX.format(
        number=index + 1,
        verdict=failed.verdict,
        input=case.input,
        expected=case.output or "",
        got=failed.stdout_head,
        stderr=stderr,
    )

"""The selection state machine: over the top m candidates, test to tell them apart, then pick.

States: ``ask`` -> (a test: ``run`` it on every candidate, show the results, back to ``ask``)
or (a pick: done). A reply that is neither gets bounded "fix your format" turns. The machine
always ends with a candidate: when the model never gives a valid pick (format failures,
an out-of-range number, tests exhausted) the best-voted candidate stands in, with
``fallback`` set and the reason kept, so selection degrades to voting, never to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from agentlab.errors import ReplyFormatError
from agentlab.scoring import prompts
from agentlab.scoring.llm import ModelRole, Parsed, ask
from agentlab.text import python_block
from agentlab.types import Candidate, Message

_PICK = re.compile(r"^[\W_]*PICK[\W_]*(\d+)\b", re.M)


@dataclass(frozen=True)
class Option:
    """A stored candidate with its votes, as a selector sees it (numbered from 1 in vote
    order); the candidate itself is the one record the store gave back."""

    candidate: Candidate
    votes: int

    def __post_init__(self) -> None:
        self.candidate.stored_id  # noqa: B018 - an option must name a stored candidate

    @property
    def candidate_id(self) -> int:
        return self.candidate.stored_id

    @property
    def patch(self) -> str:
        return self.candidate.patch


@dataclass(frozen=True)
class TestRun:
    """One candidate's result for a test the selection model wrote."""

    __test__ = False  # not a pytest test class, despite the name

    exit_code: int
    output: str = ""
    timed_out: bool = False


RunTest = Callable[[str], Awaitable[Mapping[int, TestRun]]]  # script -> candidate id -> result


@dataclass(frozen=True)
class SelectionStep:
    step: int
    action: str  # test | pick | format_failure | exhausted
    reply: str
    feedback: str = ""


@dataclass
class SelectionOutcome:
    candidate_id: int
    fallback: bool
    reason: str
    steps: list[SelectionStep] = field(default_factory=list)


@dataclass(frozen=True)
class _Reply:
    pick: int | None = None
    script: str | None = None


def parse_reply(text: str, options: int, may_test: bool) -> _Reply:
    """A pick (``PICK: n`` with 1 <= n <= options) or, while tests remain, a test script."""
    picks = {int(m) for m in _PICK.findall(text)}
    if len(picks) > 1:
        raise ReplyFormatError("the reply picks several candidates; pick exactly one")
    if picks:
        number = picks.pop()
        if not 1 <= number <= options:
            raise ReplyFormatError(f"PICK {number} is not a candidate; pick 1 to {options}")
        return _Reply(pick=number)
    script = python_block(text)
    if script is not None and may_test:
        return _Reply(script=script)
    if script is not None:
        raise ReplyFormatError("no tests are left; reply `PICK: <number>`")
    raise ReplyFormatError(
        "no pick and no test found; reply `PICK: <number>` or a test in a ```python block"
    )


def _render(options: Sequence[Option]) -> str:
    return "\n\n".join(
        f"## Candidate {i} ({o.votes} generated tests pass)\n```diff\n{o.patch.strip()}\n```"
        for i, o in enumerate(options, 1)
    )


def _results(options: Sequence[Option], runs: Mapping[int, TestRun], chars: int) -> str:
    lines = []
    for i, o in enumerate(options, 1):
        run = runs.get(o.candidate_id)
        if run is None:
            lines.append(f"## Candidate {i}: not run")
            continue
        note = " (timed out)" if run.timed_out else ""
        out = run.output.strip()[-chars:] or "(no output)"
        lines.append(f"## Candidate {i}: exit code {run.exit_code}{note}\n{out}")
    return "\n\n".join(lines)


async def select(
    role: ModelRole,
    *,
    task_id: str,
    problem: str,
    options: Sequence[Option],
    run_test: RunTest,
    max_tests: int = 2,
    max_fixes: int = 2,
    output_chars: int = 1500,
) -> SelectionOutcome:
    """Run the machine; ``options`` are in vote order, so ``options[0]`` is the fallback."""
    if not options:
        raise ValueError("select needs at least one candidate")
    history = [
        Message(role="system", content=prompts.SELECT_SYSTEM),
        Message(
            role="user",
            content=prompts.SELECT_USER.format(
                problem=problem.strip(), candidates=_render(options), tests=max_tests
            ),
        ),
    ]
    steps: list[SelectionStep] = []
    tests_run = 0
    while True:
        step = len(steps)
        may_test = tests_run < max_tests

        def parse(text: str, may: bool = may_test) -> _Reply:
            return parse_reply(text, len(options), may)

        result = await ask(
            role,
            history,
            parse,
            task_id=task_id,
            step=step,
            max_fixes=max_fixes,
        )
        if not isinstance(result, Parsed):
            last = result.replies[-1]
            steps.append(SelectionStep(step, "format_failure", last, result.reason))
            return _fallback(options, steps, f"no valid pick: {result.reason}")
        reply = result.value
        if reply.pick is not None:
            steps.append(SelectionStep(step, "pick", result.reply))
            chosen = options[reply.pick - 1]
            return SelectionOutcome(chosen.candidate_id, False, f"picked {reply.pick}", steps)
        assert reply.script is not None
        runs = await run_test(reply.script)
        tests_run += 1
        shown = _results(options, runs, output_chars)
        left = max_tests - tests_run
        follow = (
            prompts.SELECT_RESULTS.format(results=shown, left=left)
            if left
            else f"Results of your test:\n{shown}\n\n{prompts.SELECT_NO_TESTS_LEFT}"
        )
        history.append(Message(role="user", content=follow))
        steps.append(SelectionStep(step, "test", result.reply, shown))


def _fallback(options: Sequence[Option], steps: list[SelectionStep], why: str) -> SelectionOutcome:
    return SelectionOutcome(options[0].candidate_id, True, f"{why}; top-voted stands in", steps)

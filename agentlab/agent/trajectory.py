"""The testing and editing state machines, as plain async functions.

Each takes a :class:`Chat` (the conversation so far in, the model's reply text out) and a
:class:`~agentlab.agent.workspace.Workspace`, returns a typed outcome, and hands every finished
step to ``on_step`` so the caller can persist it as it happens. Given the steps of an earlier,
interrupted attempt as ``prior``, a machine replays them (rebuilding the conversation and the
edited files without calling the model or running anything) and continues from the next step.

A reply that does not parse gets at most ``max_fixes`` "fix your format" turns; after that
the machine ends with status ``format_failure`` and the reason, never an exception. LLM,
budget and sandbox errors do propagate: they are the caller's to retry or report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from agentlab.agent.chat import Chat, ModelChat, ask
from agentlab.agent.edits import apply_edits, parse_edit_blocks, unified_diff
from agentlab.agent.prompts import EDIT_REVIEW, EDITING, TEST_REVIEW, TESTING
from agentlab.agent.records import (
    EditingOutcome,
    EditingStep,
    Status,
    TestingOutcome,
    TestingStep,
)
from agentlab.agent.replies import (
    EditReply,
    FormatFailure,
    Parsed,
    TestReply,
    parse_edit_reply,
    parse_test_review,
    parse_test_script,
)
from agentlab.agent.workspace import Workspace
from agentlab.errors import ReplyFormatError
from agentlab.types import ExecResult, Message

__all__ = ["Chat", "ModelChat", "run_editing", "run_testing"]

T = TypeVar("T")

OnStep = Callable[[T], Awaitable[None]]


# ----------------------------------------------------------------------- testing machine


async def run_testing(
    chat: Chat,
    ws: Workspace,
    *,
    problem: str,
    context: str,
    attempts: int = 3,
    max_fixes: int = 2,
    prior: Sequence[TestingStep] = (),
    on_step: OnStep[TestingStep] | None = None,
) -> TestingOutcome:
    """Write a reproduction test, run it on the original code, revise until approved.

    At most ``attempts`` scripts are run; a REVISE after the last one ends as ``exhausted``
    with the last script that ran.
    """
    history = list(TESTING.render(problem=problem, context=context))
    steps = list(prior)
    script: str | None = None
    for done in steps:
        history.extend(done.messages)
        script = done.script if done.run is not None else script
    if steps and (steps[-1].run is None or steps[-1].decision == "APPROVE"):
        return _testing_outcome(steps, script)
    runs = sum(1 for s in steps if s.run is not None)
    while True:
        step = len(steps)
        parse = parse_test_script if step == 0 else parse_test_review
        result, added = await ask(
            chat, history, parse, stage="testing", step=step, max_fixes=max_fixes
        )
        history.extend(added)
        record = await _testing_step(ws, step, result, added, runs < attempts)
        history.extend(record.messages[len(added) :])
        steps.append(record)
        if on_step is not None:
            await on_step(record)
        if record.run is None:
            return _testing_outcome(steps, script)
        script, runs = record.script, runs + 1


async def _testing_step(
    ws: Workspace,
    step: int,
    result: Parsed[TestReply] | FormatFailure,
    added: list[Message],
    may_run: bool,
) -> TestingStep:
    if isinstance(result, FormatFailure):
        return TestingStep(
            step=step, messages=tuple(added), decision="FORMAT_FAILURE", error=result.reason
        )
    reply = result.value
    if reply.decision == "APPROVE" or not may_run or reply.script is None:
        return TestingStep(
            step=step,
            messages=tuple(added),
            decision=reply.decision,
            reply=result.reply,
            fixes=result.fixes,
        )
    run = await ws.run_test(reply.script)
    feedback = TESTING.follow_up(TEST_REVIEW, exit_code=str(run.exit_code), output=ws.feedback(run))
    return TestingStep(
        step=step,
        messages=(*added, feedback),
        decision=reply.decision,
        reply=result.reply,
        script=reply.script,
        run=run,
        fixes=result.fixes,
    )


def _testing_outcome(steps: Sequence[TestingStep], script: str | None) -> TestingOutcome:
    last = steps[-1]
    if last.decision == "FORMAT_FAILURE":
        return TestingOutcome(
            status="format_failure", script=script, steps=tuple(steps), reason=last.error or ""
        )
    status = "approved" if last.decision == "APPROVE" else "exhausted"
    return TestingOutcome(status=status, script=script, steps=tuple(steps))


# ----------------------------------------------------------------------- editing machine


@dataclass
class _EditState:
    """What the editing machine knows between steps (rebuilt from records on resume)."""

    ws: Workspace
    test: str | None
    originals: dict[str, str | None] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)
    on_original: dict[str, ExecResult] = field(default_factory=dict)

    def view(self) -> dict[str, str | None]:
        return {**self.originals, **self.current}

    def diff(self) -> str:
        return unified_diff(self.originals, self.view())

    async def prepare(self, reply: str) -> None:
        # Load every file a reply's blocks name, so the (sync) parse can match against it.
        try:
            blocks = parse_edit_blocks(reply)
        except ReplyFormatError:
            return
        await self.ws.load([b.path for b in blocks], self.originals)

    def parse(self, text: str) -> tuple[EditReply, dict[str, str]]:
        reply = parse_edit_reply(text)
        if reply.action == "EDIT":
            return reply, apply_edits(self.view(), reply.blocks)
        if reply.action == "APPROVE" and not self.diff():
            raise ReplyFormatError(
                "there are no edits to approve yet; send search/replace edit blocks first"
            )
        return reply, {}

    async def run(self) -> tuple[ExecResult | None, ExecResult | None]:
        """The test on the original and on the patched code (original runs are cached)."""
        if self.test is None:
            return None, None
        if self.test not in self.on_original:
            self.on_original[self.test] = await self.ws.run_test(self.test)
        diff = self.diff()
        if not diff:
            return self.on_original[self.test], None
        patched = await self.ws.run_patched(self.test, diff, self.originals)
        return self.on_original[self.test], patched


async def run_editing(
    chat: Chat,
    ws: Workspace,
    *,
    problem: str,
    context: str,
    test: str | None,
    iterations: int = 3,
    max_fixes: int = 2,
    prior: Sequence[EditingStep] = (),
    on_step: OnStep[EditingStep] | None = None,
) -> EditingOutcome:
    """Edit until the model approves its diff or ``iterations`` edit/rewrite turns are used.

    Each turn's edits apply on top of the earlier ones; the test runs on the original and the
    patched code and both outputs go back to the model. The candidate is the final diff and
    test, whichever way the machine ends.
    """
    state = _EditState(ws, test)
    history = list(EDITING.render(problem=problem, context=context, test=test or "(none)"))
    steps = list(prior)
    for done in steps:
        await _replay(state, done)
        history.extend(done.messages)
    while not steps or steps[-1].action not in ("APPROVE", "FORMAT_FAILURE"):
        step = len(steps)
        if step >= iterations:
            break
        result, added = await ask(
            chat,
            history,
            state.parse,
            stage="editing",
            step=step,
            max_fixes=max_fixes,
            prepare=state.prepare,
        )
        record = await _editing_step(state, step, result, added)
        history.extend(record.messages)
        steps.append(record)
        if on_step is not None:
            await on_step(record)
    return _editing_outcome(state, steps)


async def _replay(state: _EditState, done: EditingStep) -> None:
    if done.action == "EDIT":
        blocks = parse_edit_reply(done.reply).blocks
        await state.ws.load([b.path for b in blocks], state.originals)
        state.current.update(apply_edits(state.view(), blocks))
    elif done.action == "REWRITE_TEST":
        state.test = done.test
    if done.original is not None and state.test is not None:
        state.on_original[state.test] = done.original


async def _editing_step(
    state: _EditState,
    step: int,
    result: Parsed[tuple[EditReply, dict[str, str]]] | FormatFailure,
    added: list[Message],
) -> EditingStep:
    if isinstance(result, FormatFailure):
        return EditingStep(
            step=step,
            messages=tuple(added),
            action="FORMAT_FAILURE",
            diff=state.diff(),
            test=state.test,
            error=result.reason,
        )
    reply, changed = result.value
    if reply.action == "APPROVE":
        return EditingStep(
            step=step,
            messages=tuple(added),
            action="APPROVE",
            reply=result.reply,
            diff=state.diff(),
            test=state.test,
            fixes=result.fixes,
        )
    state.current.update(changed)
    if reply.action == "REWRITE_TEST":
        state.test = reply.script
    original, patched = await state.run()
    diff = state.diff()
    feedback = EDITING.follow_up(
        EDIT_REVIEW,
        original_exit=_exit(original),
        original_output=state.ws.feedback(original) if original else "(no test)",
        patched_exit=_exit(patched),
        patched_output=state.ws.feedback(patched) if patched else "(no edits yet)",
        diff=diff or "(empty)",
    )
    return EditingStep(
        step=step,
        messages=(*added, feedback),
        action=reply.action,
        reply=result.reply,
        diff=diff,
        test=state.test,
        original=original,
        patched=patched,
        fixes=result.fixes,
    )


def _exit(result: ExecResult | None) -> str:
    return "n/a" if result is None else str(result.exit_code)


def _editing_outcome(state: _EditState, steps: Sequence[EditingStep]) -> EditingOutcome:
    last = steps[-1] if steps else None
    status: Status = "exhausted"
    reason = ""
    if last is not None and last.action == "FORMAT_FAILURE":
        status, reason = "format_failure", last.error or ""
    elif last is not None and last.action == "APPROVE":
        status = "approved"
    return EditingOutcome(
        status=status,
        diff=state.diff(),
        test=state.test,
        steps=tuple(steps),
        reason=reason,
    )

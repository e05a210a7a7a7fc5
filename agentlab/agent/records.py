"""Typed records of the testing and editing state machines, one per step.

A step record holds everything needed to persist the step and to resume after it: the
messages the step added to the conversation (model replies, "fix your format" turns and the
execution feedback, in order), the reply that parsed, and the executions. Replaying the
records of finished steps rebuilds the conversation and the edited files exactly, so a
trajectory resumed after a crash asks the model nothing it already answered.
"""

from __future__ import annotations

from typing import Literal

from agentlab.types import ExecResult, Message, Record

Status = Literal["approved", "exhausted", "format_failure"]


class TestingStep(Record):
    """One turn of the testing state machine: a script written or a review decided."""

    __test__ = False  # not a pytest test class, despite the name

    step: int
    messages: tuple[Message, ...]
    decision: Literal["WRITE", "APPROVE", "REVISE", "FORMAT_FAILURE"]
    reply: str = ""
    script: str | None = None
    run: ExecResult | None = None
    fixes: int = 0
    error: str | None = None


class TestingOutcome(Record):
    """Where the testing state machine ended, and the test it produced (the last one run)."""

    __test__ = False

    status: Status
    script: str | None
    steps: tuple[TestingStep, ...]
    reason: str = ""


class EditingStep(Record):
    """One turn of the editing state machine: edits, a rewritten test, or an approval."""

    step: int
    messages: tuple[Message, ...]
    action: Literal["EDIT", "REWRITE_TEST", "APPROVE", "FORMAT_FAILURE"]
    reply: str = ""
    diff: str = ""
    test: str | None = None
    original: ExecResult | None = None
    patched: ExecResult | None = None
    fixes: int = 0
    error: str | None = None


class EditingOutcome(Record):
    """Where the editing state machine ended: the candidate (diff, test) and every step."""

    status: Status
    diff: str
    test: str | None
    steps: tuple[EditingStep, ...]
    reason: str = ""

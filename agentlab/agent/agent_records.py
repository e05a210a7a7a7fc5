"""Records and limits of the tool-calling agent (``agentlab.agent.loop``).

One :class:`AgentStep` per model call, stored twice: once as soon as the reply is in
(``done=False``: the call, its tokens and dollars are never lost), and once with the tool
results (``done=True``). A resumed loop replays finished steps from the store and finishes a
pending one without asking the model again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentlab.types import Message, Record, ToolCall, Usage

ToolErrorKind = Literal["", "malformed", "unknown_tool", "bad_arguments", "format"]
AgentStatus = Literal["submitted", "step_limit", "time_limit", "cost_limit", "context_exhausted"]


class AgentLimits(BaseModel):
    """How far one agent trajectory may go, and how it talks to the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["tools", "text"] = Field(
        "tools",
        description="tools: native tool calling; text: one fenced bash block per turn, for "
        "models without tool calling.",
    )
    max_steps: int = Field(30, ge=1, description="Model calls per trajectory.")
    max_wall_s: float = Field(1800.0, gt=0, description="Wall time per trajectory (model + tools).")
    command_timeout_s: float = Field(60.0, gt=0, description="Per tool call; killed after.")
    max_usd: float | None = Field(None, ge=0, description="Dollars per trajectory; None = no cap.")
    output_chars: int = Field(10_000, ge=200, description="Cap of one observation (head + tail).")
    max_tokens: int = Field(2048, ge=16, description="Per model reply.")
    temperature: float = Field(0.0, ge=0, le=2)
    context_tokens: int | None = Field(
        None,
        ge=128,
        description="The model's context window (prompt + reply) the history is kept inside; "
        "None = the endpoint's (`n_ctx` of a local model, else its `context_tokens`), and if "
        "that is unknown too, learned from the first refusal.",
    )


class ToolRun(Record):
    """One tool call and what the model was shown for it (already capped)."""

    call: ToolCall
    output: str
    error: ToolErrorKind = ""
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0


class AgentStep(Record):
    """One model call of the loop and the tool calls it made."""

    step: int
    reply: Message
    runs: tuple[ToolRun, ...] = ()
    done: bool = False
    final: bool = False
    usage: Usage = Usage()
    usd: float = 0.0
    model_s: float = 0.0
    elapsed_s: float = 0.0
    tree_diff: str | None = Field(None, description="The working tree after this step, if changed.")
    prompt_estimate: int = Field(0, description="Our token estimate of the prompt sent.")
    trimmed: int = Field(0, description="Earlier steps not sent in full (context window).")
    stopped: str = Field(
        "", description="Why no prompt could be sent: the trajectory ended here, no reply."
    )

    @property
    def action(self) -> str:
        """A short label for the turn row: the tools called, or ``final``."""
        if self.stopped:
            return "context_exhausted"
        if self.final:
            return "final"
        names = ",".join(r.call.name for r in self.runs) or "pending"
        return names[:32]


class AgentOutcome(Record):
    """How a trajectory ended; ``diff`` (the working tree against the original) is the
    candidate whatever the status."""

    status: AgentStatus
    diff: str
    steps: int
    usd: float
    reason: str = ""  # one line, for an ending other than a limit (context_exhausted)
    trimmed_calls: int = 0  # model calls whose prompt left earlier steps out or short
    malformed_calls: int = 0
    unknown_tools: int = 0
    bad_calls: int = 0
    reruns: int = 0

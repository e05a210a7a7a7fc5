"""The tool-calling agent: ask the model, run its tool calls in the sandbox, show it the
results, until it stops calling tools or a limit is hit. The candidate is the working tree's
diff, whatever the ending.

Each step is stored twice through ``on_step``: right after the model's reply (``done=False``)
and after its tools ran (``done=True``, with the tree's diff if it changed). ``prior`` is what
was stored: finished steps are replayed into the conversation (nothing re-runs; the tree comes
back from the last stored diff), and a pending step is finished without asking the model
again. Its state-changing calls *are* run again, on the restored tree, and the observation
says so.

What is sent is the conversation fitted to the model's context window
(:mod:`agentlab.agent.history`: old observations elided, then old steps left out). When no
prompt fits, or the model keeps refusing the prompt as too long, the trajectory ends
``context_exhausted``: a last step with the one-line reason and no reply is stored, so a
resumed run ends there too.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from agentlab.agent.agent_prompts import TEXT_SYSTEM, TOOLS_SYSTEM, text_call
from agentlab.agent.agent_records import AgentLimits, AgentOutcome, AgentStatus, AgentStep, ToolRun
from agentlab.agent.context import estimate_tokens
from agentlab.agent.history import Window
from agentlab.agent.tools import TOOLS, Toolbox, changes_state
from agentlab.errors import ContextOverflowError
from agentlab.llm.budget import prompt_token_ceiling
from agentlab.llm.pricing import ApiPrice, CpuPrice, GpuPrice
from agentlab.protocols import Sandbox
from agentlab.types import CallContext, ChatRequest, ChatResponse, Message

OnStep = Callable[[AgentStep], Awaitable[None]]


class ToolModel(Protocol):
    """What the loop needs of a model: an :class:`~agentlab.llm.LLMClient` has it."""

    @property
    def model(self) -> str: ...

    @property
    def price(self) -> ApiPrice | GpuPrice | CpuPrice: ...

    async def generate(
        self, request: ChatRequest, context: CallContext | None = None
    ) -> ChatResponse: ...


RERUN = "[agentlab: the run was interrupted during this call; it runs again on the tree as of the previous step]"  # noqa: E501
REFUSALS = 3  # prompts refused as too long in one step before the trajectory gives up


async def run_agent(
    client: ToolModel,
    sandbox: Sandbox,
    *,
    task: str,
    limits: AgentLimits,
    context: CallContext | None = None,
    repo_dir: str = "/testbed",
    prior: Sequence[AgentStep] = (),
    on_step: OnStep | None = None,
) -> AgentOutcome:
    """Run one agent trajectory on the repository at ``repo_dir`` (see the module doc)."""
    tools = Toolbox(sandbox, repo_dir, limits.command_timeout_s, limits.output_chars)
    system = (TEXT_SYSTEM if limits.mode == "text" else TOOLS_SYSTEM).format(repo=repo_dir)
    messages = [Message(role="system", content=system), Message(role="user", content=task)]
    latest = {s.step: s for s in prior}  # the last record of each step wins
    steps = [latest[n] for n in sorted(latest) if latest[n].done]
    pending = latest[max(latest)] if latest and not latest[max(latest)].done else None
    diffs = [s.tree_diff for s in steps if s.tree_diff is not None]
    await tools.restore(diffs[-1] if diffs else "")
    window = _window(limits, steps)
    for s in steps:
        messages += _render(s, limits)
    status: AgentStatus | None = None
    while not (steps and steps[-1].final) and (status := _limit(steps, limits)) is None:
        started, resumed = time.perf_counter(), pending is not None
        step = pending or await _ask(client, messages, window, limits, context, len(steps), steps)
        if step is None:
            status = "cost_limit"
            break
        if not resumed and on_step:
            await on_step(step)
        if step.stopped:  # no prompt fits the model's window: stored above, and the end
            steps.append(step)
            break
        step = await _act(step, tools, limits, rerun=resumed)
        pending, spent = None, time.perf_counter() - started
        step = step.model_copy(update={"elapsed_s": spent + (step.model_s if resumed else 0.0)})
        if on_step:
            await on_step(step)
        steps.append(step)
        messages += _render(step, limits)
    runs = [r for s in steps for r in s.runs]
    stopped = steps[-1].stopped if steps else ""
    return AgentOutcome(
        status=status or ("context_exhausted" if stopped else "submitted"),
        diff=await tools.snapshot(),
        steps=sum(not s.stopped for s in steps),
        usd=sum(s.usd for s in steps),
        reason=stopped,
        trimmed_calls=sum(s.trimmed > 0 for s in steps),
        malformed_calls=sum(r.error == "malformed" for r in runs),
        unknown_tools=sum(r.error == "unknown_tool" for r in runs),
        bad_calls=sum(r.error in ("bad_arguments", "format") for r in runs),
        reruns=sum(r.output.startswith(RERUN) for r in runs),
    )


def _limit(steps: list[AgentStep], limits: AgentLimits) -> AgentStatus | None:
    # Checked between steps; one step is bounded by the command timeout and the client's.
    if len(steps) >= limits.max_steps:
        return "step_limit"
    if sum(s.elapsed_s for s in steps) >= limits.max_wall_s:
        return "time_limit"
    if limits.max_usd is not None and sum(s.usd for s in steps) >= limits.max_usd:
        return "cost_limit"
    return None


def _window(limits: AgentLimits, steps: list[AgentStep]) -> Window:
    """The model's window, with the token ratio the stored steps taught (for a resume)."""
    tools = estimate_tokens(str([t.model_dump() for t in TOOLS])) if limits.mode == "tools" else 0
    window = Window(limits.context_tokens, limits.max_tokens, extra_tokens=tools)
    for s in steps:
        window.learn(s.prompt_estimate, s.usage.prompt_tokens)
    return window


async def _ask(
    client: ToolModel,
    messages: list[Message],
    window: Window,
    limits: AgentLimits,
    context: CallContext | None,
    n: int,
    steps: list[AgentStep],
) -> AgentStep | None:
    """One model call on the history fitted to the window; None if its worst case would
    pass the trajectory's dollar cap; a ``stopped`` step if no prompt fits the window."""
    refusal = ""
    for _ in range(REFUSALS):
        fitted = window.fit(messages)
        if fitted is None:
            return _stopped(n, window.too_small(messages))
        request = ChatRequest(
            model=client.model,
            messages=tuple(fitted.messages),
            max_tokens=limits.max_tokens,
            temperature=limits.temperature,
            tools=TOOLS if limits.mode == "tools" else (),
        )
        if limits.max_usd is not None:
            worst = client.price.ceiling(prompt_token_ceiling(request), limits.max_tokens)
            if sum(s.usd for s in steps) + worst > limits.max_usd:
                return None
        try:
            response = await client.generate(
                request, (context or CallContext()).model_copy(update={"step": n})
            )
        except ContextOverflowError as exc:
            window.refused(fitted.estimate, exc)
            refusal = str(exc)
            continue
        window.learn(fitted.estimate, response.usage.prompt_tokens)
        return _step(n, response, limits, client, fitted.estimate, fitted.trimmed)
    return _stopped(n, f"the model refused the prompt {REFUSALS} times as too long: {refusal}")


def _stopped(n: int, reason: str) -> AgentStep:
    reply = Message(role="assistant", content="")
    reason = "context_exhausted: " + " ".join(reason.split())
    return AgentStep(step=n, reply=reply, done=True, final=True, stopped=reason[:500])


def _step(
    n: int,
    response: ChatResponse,
    limits: AgentLimits,
    client: ToolModel,
    estimate: int,
    trimmed: int,
) -> AgentStep:
    choice = response.choices[0]
    calls = (
        tuple(
            c if c.id else c.model_copy(update={"id": f"call_{n}_{i}"})
            for i, c in enumerate(choice.tool_calls)
        )
        if limits.mode == "tools"
        else ()
    )
    return AgentStep(
        step=n,
        reply=Message(role="assistant", content=choice.text, tool_calls=calls),
        usage=response.usage,
        usd=client.price.cost(response.usage).usd,
        model_s=response.latency_s,
        prompt_estimate=estimate,
        trimmed=trimmed,
    )


async def _act(step: AgentStep, tools: Toolbox, limits: AgentLimits, *, rerun: bool) -> AgentStep:
    """Run the step's calls (a text-mode reply's bash block, or the native tool calls)."""
    runs: list[ToolRun] = []
    if limits.mode == "text":
        parsed = text_call(step.reply.content, step.step)
        final = parsed is None
        calls = [parsed] if parsed is not None and not isinstance(parsed, ToolRun) else []
        runs += [parsed] if isinstance(parsed, ToolRun) else []
    else:
        calls, final = list(step.reply.tool_calls), not step.reply.tool_calls
    diff = None  # the tree after the last call that may have changed it
    for call in calls:
        run, after = await tools.run(call, note=RERUN if rerun and changes_state(call) else "")
        runs.append(run)
        diff = after if after is not None else diff
    return step.model_copy(
        update={"runs": tuple(runs), "done": True, "final": final, "tree_diff": diff}
    )


def _render(step: AgentStep, limits: AgentLimits) -> list[Message]:
    """The messages a finished step adds to the conversation."""
    if limits.mode == "text":
        return [step.reply, *(Message(role="user", content=r.output) for r in step.runs)]
    return [step.reply, *(Message.tool_result(r.call.id, r.output) for r in step.runs)]

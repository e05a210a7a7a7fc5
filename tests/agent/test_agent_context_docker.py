"""The agent loop against a model with a small context window, as llama.cpp serves one: the
scripted model over real HTTP refusing prompts that reach its window (HTTP 400, llama-cpp-
python's words), the real Docker engine running the commands."""

from __future__ import annotations

from typing import Any

import pytest

from agentlab.agent.agent_records import AgentLimits, AgentOutcome, AgentStep
from agentlab.agent.history import ELIDED
from agentlab.agent.loop import run_agent
from agentlab.llm import LLMClient, OpenAIEndpoint, Rule, ScriptedModel
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.scripted import count_tokens
from agentlab.llm.testing import ScriptedServer
from agentlab.protocols import Sandbox
from agentlab.types import SandboxSpec
from tests.agent.calc_repo import TASK, bash, checkout

pytestmark = pytest.mark.docker

WINDOW = 1100  # tokens, as the scripted model counts them (words, 4 per message)
LOOKS = 8  # commands whose outputs together are far more than the window
LOOK = "seq 1 300"
FIX = "sed -i 's/a - b/a + b/' calc.py"


def session(mode: str, commands: list[str]) -> ScriptedModel:
    """A model that runs ``commands`` one per turn, then ends; its window is WINDOW."""
    if mode == "text":
        replies = (*(f"```bash\n{c}\n```" for c in commands), "SUBMIT")
        rule = Rule(first_user="Issue:", replies=replies)
    else:
        calls = tuple((bash(c),) for c in commands)
        rule = Rule(
            first_user="Issue:", replies=("",) * len(commands) + ("done",), tool_calls=calls
        )
    return ScriptedModel([rule], context_tokens=WINDOW)


async def run(
    model: ScriptedModel, sb: Sandbox, limits: AgentLimits
) -> tuple[AgentOutcome, list[AgentStep], list[int], ScriptedServer]:
    stored: list[AgentStep] = []

    async def save(step: AgentStep) -> None:
        stored.append(step)

    with ScriptedServer(model) as server:
        config = OpenAIEndpoint(name="small-window", model="scripted", base_url=server.base_url)
        client = LLMClient(OpenAIBackend(config), model="scripted", endpoint="small-window")
        try:
            outcome = await run_agent(client, sb, task=TASK, limits=limits, on_step=save)
        finally:
            await client.aclose()
        statuses = [r.status for r in server.requests]
    return outcome, stored, statuses, server


@pytest.mark.parametrize("mode", ["text", "tools"])
async def test_trimming_old_observations_keeps_a_long_session_going(
    repo: Sandbox, mode: str
) -> None:
    model = session(mode, [LOOK] * LOOKS + [FIX])
    limits = AgentLimits(mode=mode, max_tokens=64, context_tokens=WINDOW)  # type: ignore[arg-type]
    outcome, stored, statuses, server = await run(model, repo, limits)
    steps = [s for s in stored if s.done]
    observed = sum(count_tokens(r.output) for s in steps for r in s.runs)
    assert observed > 2 * WINDOW  # the whole history would be refused many times over
    assert outcome.status == "submitted" and "+    return a + b" in outcome.diff
    assert statuses == [200] * (LOOKS + 2)  # never refused
    assert outcome.trimmed_calls >= 2
    last = server.requests[-1].request
    assert last is not None
    assert any(m.content == ELIDED for m in last.messages)
    assert last.messages[1].content == TASK  # elision alone was enough: the task is untouched
    assert max(s.usage.prompt_tokens for s in steps) < WINDOW


async def test_an_unknown_window_is_learned_from_the_first_refusal(repo: Sandbox) -> None:
    model = session("text", [LOOK] * LOOKS + [FIX])
    limits = AgentLimits(mode="text", max_tokens=64)  # no window configured
    outcome, _, statuses, _ = await run(model, repo, limits)
    assert outcome.status == "submitted" and "+    return a + b" in outcome.diff
    assert statuses.count(400) == 1 and statuses[-1] == 200  # refused once, then fitted


async def test_an_output_that_cannot_fit_ends_the_trajectory_with_the_reason(
    repo: Sandbox,
) -> None:
    model = session("text", [FIX, "seq 1 2000", "ls"])
    limits = AgentLimits(mode="text", max_tokens=64, context_tokens=WINDOW, output_chars=20_000)
    outcome, stored, statuses, _ = await run(model, repo, limits)
    assert outcome.status == "context_exhausted"
    assert outcome.reason.startswith("context_exhausted: the system prompt, the task and the last")
    assert f"window of {WINDOW} leaves {WINDOW - 64}" in outcome.reason
    assert "+    return a + b" in outcome.diff  # the work done so far is the candidate
    assert outcome.steps == 2 and statuses == [200, 200]  # the third call was never sent
    last = stored[-1]
    assert (last.stopped, last.final, last.action, last.step) == (
        outcome.reason,
        True,
        "context_exhausted",
        2,
    )


async def test_a_stopped_trajectory_resumes_to_the_same_ending(
    repo: Sandbox, docker_backend: Any, spec: SandboxSpec
) -> None:
    model = session("text", [FIX, "seq 1 2000", "ls"])
    limits = AgentLimits(mode="text", max_tokens=64, context_tokens=WINDOW, output_chars=20_000)
    first, stored, _, _ = await run(model, repo, limits)
    with ScriptedServer(model) as server:
        config = OpenAIEndpoint(name="small-window", model="scripted", base_url=server.base_url)
        client = LLMClient(OpenAIBackend(config), model="scripted", endpoint="small-window")
        try:
            async with docker_backend.open(spec) as fresh:  # as a resumed run has
                await checkout(fresh)
                again = await run_agent(client, fresh, task=TASK, limits=limits, prior=stored)
        finally:
            await client.aclose()
        assert server.requests == []  # nothing asked again
    assert (again.status, again.reason, again.diff, again.steps) == (
        first.status,
        first.reason,
        first.diff,
        first.steps,
    )

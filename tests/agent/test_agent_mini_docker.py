"""The agent loop end to end on agentlab-mini: the real Docker engine, the scripted model over
real HTTP, the evaluation harness grading each working-tree diff with the hidden tests.

The scripted agent reproduces every instance's gold fix through tool calls (``editor
str_replace`` per hunk on half of them, ``git apply`` through ``bash`` on the others), and
every candidate is graded resolved. On one instance it first sends a call with malformed
JSON and one to a tool that does not exist: both are reported back and counted, and the
instance is still solved.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentlab.agent.agent_records import AgentLimits, AgentOutcome
from agentlab.agent.loop import run_agent
from agentlab.agent.scripted_agent import agent_rules
from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.llm import LLMClient, OpenAIEndpoint, ScriptedModel
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.testing import ScriptedServer
from agentlab.tasks.harness import EvalConfig, InstanceImages, evaluate
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, SWEInstance
from agentlab.types import SandboxSpec, ToolCall

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SQUASH = (  # as the run pipeline does: the model must not see the history above the base
    "rm -rf .git && git init -q && git add -A && "
    "git -c user.name=agentlab -c user.email=agentlab@localhost commit -q -m 'original code'"
)
BAD_CALLS = (
    (ToolCall(name="bash", arguments='{"command": "ls'),),
    (ToolCall(name="submit_patch", arguments="{}"),),
)


def scripted(data: Dataset) -> ScriptedModel:
    rules = agent_rules(data.instances)
    first = rules[0]
    rules[0] = first.model_copy(
        update={
            "tool_calls": BAD_CALLS + first.tool_calls,
            "replies": ("",) * len(BAD_CALLS) + first.replies,
        }
    )
    return ScriptedModel(rules)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return resolve_dataset("agentlab-mini")


@pytest.fixture
async def client(data: Dataset) -> AsyncIterator[LLMClient]:
    async with ScriptedServer(scripted(data)) as server:
        config = OpenAIEndpoint(name="scripted-http", model="scripted", base_url=server.base_url)
        llm = LLMClient(OpenAIBackend(config), model="scripted", endpoint=config.name)
        try:
            yield llm
        finally:
            await llm.aclose()


async def _solve(
    client: LLMClient,
    backend: Any,
    images: InstanceImages,
    data: Dataset,
    instance: SWEInstance,
    run_id: str,
) -> tuple[AgentOutcome, bool]:
    image = await images.image_for(data, instance)
    spec = SandboxSpec(image=image, run_id=run_id, memory_mb=1024, workdir="/testbed")
    async with backend.open(spec) as sb:
        squashed = await sb.exec(["bash", "-c", SQUASH], cwd="/testbed", timeout=120)
        assert squashed.ok, squashed.stderr
        outcome = await run_agent(
            client, sb, task=instance.problem_statement, limits=AgentLimits(max_steps=20)
        )
    prediction = Prediction(
        instance_id=instance.instance_id, model_name="agent", patch=outcome.diff
    )
    cfg = EvalConfig(run_id=run_id, timeout=300)
    graded = await evaluate(backend, images, data, instance, prediction, cfg)
    return outcome, graded.grade.resolved


async def test_scripted_agent_resolves_every_instance(
    client: LLMClient, docker_backend: Any, base_image: str, data: Dataset, run_id: str
) -> None:
    images = InstanceImages(ProviderImages(), EvalConfig(run_id=run_id, timeout=300))
    gate = asyncio.Semaphore(2)

    async def one(instance: SWEInstance) -> tuple[AgentOutcome, bool]:
        async with gate:
            return await _solve(client, docker_backend, images, data, instance, run_id)

    async with asyncio.TaskGroup() as tg:
        tasks = {i.instance_id: tg.create_task(one(i)) for i in data.instances}
    results = {k: t.result() for k, t in tasks.items()}
    assert len(results) >= 15
    unresolved = {k: o.diff for k, (o, ok) in results.items() if not ok}
    assert not unresolved, json.dumps(unresolved, indent=1)[:3000]
    assert all(o.status == "submitted" and o.diff for o, _ in results.values())
    first, _ = results[data.instances[0].instance_id]
    assert (first.malformed_calls, first.unknown_tools) == (1, 1)
    others = [o for k, (o, _) in results.items() if k != data.instances[0].instance_id]
    assert all(o.malformed_calls == o.unknown_tools == o.bad_calls == 0 for o in others)

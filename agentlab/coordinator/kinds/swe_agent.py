"""The ``swe-agent`` task kind: SWE-style problems solved by the tool-calling agent.

Problems, images and grading are the ``swe`` kind's; the trajectory is
:func:`agentlab.agent.loop.run_agent` (bash + editor in the instance's sandbox, limits from
the experiment's ``agent:`` section, the model of the ``editing`` role), and the candidate is
the working tree's diff. Chosen with ``trajectory: {type: agent}`` (or ``dataset.kind:
swe-agent``); it claims no dataset by itself, so ``swe`` stays the inferred kind of SWE-style data.

Selection (``selection.enabled``) first writes a test per candidate with the run's
``testing`` model (:mod:`agentlab.coordinator.kinds.agent_tests`), then votes and selects as
the ``swe`` kind does. Every step is a turn row (stage ``agent``) written twice, as the loop
reports it; a resumed sample replays them (:mod:`agentlab.agent.loop`). The scripted model's
reference answers are :func:`agentlab.agent.scripted_agent.agent_rules` (each gold fix made
through tool calls) after the testing rules of :func:`swe_gold.reproduction_rules`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentlab.agent.agent_records import AgentStep
from agentlab.agent.loop import run_agent
from agentlab.agent.scripted_agent import agent_rules
from agentlab.config import DatasetConfig, SelectionSection
from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.kinds.agent_tests import check_testing_model, select_with_tests
from agentlab.coordinator.kinds.base import Stage
from agentlab.coordinator.kinds.swe import TESTBED, SWEKind, SWEPipeline
from agentlab.coordinator.kinds.swe_data import instance_images, load_swe
from agentlab.coordinator.kinds.swe_gold import reproduction_rules, verifier_rules
from agentlab.coordinator.models import Models
from agentlab.llm.client import LLMClient
from agentlab.llm.pricing import ApiPrice, CpuPrice, GpuPrice
from agentlab.llm.scripted import Rule
from agentlab.scoring.diffs import patch_sha
from agentlab.scoring.selectors import Selector
from agentlab.store.run_store import RunState
from agentlab.types import CallContext, Candidate, ChatRequest, ChatResponse

STAGE = "agent"


@dataclass
class RunModel:
    """The run's client for the agent, behind the run's LLM limit and progress meter."""

    models: Models
    client: LLMClient

    @property
    def model(self) -> str:
        return self.client.model

    @property
    def price(self) -> ApiPrice | GpuPrice | CpuPrice:
        return self.client.price

    async def generate(
        self, request: ChatRequest, context: CallContext | None = None
    ) -> ChatResponse:
        async with self.models.limit:
            response = await self.client.generate(request, context)
        self.models.meter.calls += 1
        self.models.meter.tokens += response.usage.prompt_tokens + response.usage.completion_tokens
        return response


class SWEAgentKind(SWEKind):
    """SWE-style datasets, solved by the tool-calling agent."""

    name = "swe-agent"

    def claims(self, dataset: DatasetConfig) -> bool:
        return False  # only by name: the same data is the `swe` kind's by default

    def reference_rules(self, dataset: DatasetConfig) -> Sequence[Rule]:
        """Each gold fix made through bash and editor calls, after the hidden tests as the
        test selection writes and verifiers that know the reference (those match only their
        own system prompts, so they go first)."""
        loaded = load_swe(dataset)
        agent = agent_rules(loaded.instances)
        return [*reproduction_rules(loaded), *verifier_rules(loaded), *agent]

    def open(self, env: RunEnv) -> SWEAgentPipeline:
        check_testing_model(env)
        return self._pipeline(env)

    def _pipeline(self, env: RunEnv) -> SWEAgentPipeline:
        images = instance_images(env.sandbox_provider(), env.run_id)
        return SWEAgentPipeline(env, load_swe(env.config.dataset), images)

    async def select(
        self, env: RunEnv, section: SelectionSection, selectors: Sequence[Selector]
    ) -> None:
        """Tests for the candidates (the agent writes none), then the ``swe`` selection."""
        await select_with_tests(self, env, self._pipeline(env), section, selectors)

    def own_test_signal(self, state: RunState, task_id: str, sample: int) -> bool:
        """The agent writes no test of its own: never a signal."""
        return False


class SWEAgentPipeline(SWEPipeline):
    """The ``swe`` pipeline with the agent loop as the trajectory."""

    def stages(self) -> tuple[Stage, ...]:
        return (Stage(STAGE),)

    async def trajectory(self, task_id: str, sample: int) -> Candidate:
        """One agent run on the problem's sandbox; each step stored as it happens."""
        env, instance = self.env, self.by_id[task_id]
        role = env.config.models.for_role("editing")
        model = RunModel(env.models, env.models.clients[role.endpoint])
        endpoint = env.models.endpoints.get(role.endpoint)
        window = env.config.agent.context_tokens or (endpoint.window_tokens if endpoint else None)
        limits = env.config.agent.model_copy(
            update={
                "temperature": role.temperature,
                "max_tokens": role.max_tokens,
                "context_tokens": window,
            }
        )
        image = await self.images.image_for(self.dataset, instance)
        async with env.pool.open(self.spec(image, task_id, sample), task_id) as sb:
            await self.squash(sb)
            await env.store.set_trajectory(
                env.run_id, task_id, sample, stage=STAGE, status="running"
            )
            outcome = await run_agent(
                model,
                sb,
                task=instance.problem_statement,
                limits=limits,
                context=CallContext(run_id=env.run_id, role=STAGE, task_id=task_id, sample=sample),
                repo_dir=TESTBED,
                prior=env.steps(task_id, sample, STAGE, AgentStep),
                on_step=env.saver(task_id, sample, STAGE, lambda s: s.action),
            )
        env.progress.advance(STAGE)
        if outcome.reason:  # the step row holds it; say it where the run is watched too
            env.progress.note(f"{task_id} sample {sample}: {outcome.reason}")
        return Candidate(
            task_id=task_id,
            sample=sample,
            patch=outcome.diff,
            patch_sha=patch_sha(outcome.diff),
            status="final" if outcome.status == "submitted" else outcome.status,
        )

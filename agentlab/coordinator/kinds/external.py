"""The ``external`` task kind: SWE-style problems solved by the user's own agent program.

Problems, images and grading are the ``swe`` kind's. The trajectory is
:func:`agentlab.agent.external.run_external`: the experiment's ``trajectory.command`` runs in
the instance's sandbox (repository squashed to one commit, as for ``swe-agent``), whose only
network reaches a metering proxy for the ``editing`` role's model; the diff it leaves is the
candidate. Chosen with ``trajectory: {type: external, command: ...}`` (or ``dataset.kind:
external`` plus an ``external:`` section); it claims no dataset by itself.

One turn row (stage ``external``, step 0) holds the :class:`ExternalRun` (exit code, capped
log, calls, dollars, diff), written once the program ended; a resumed sample with that row
reuses it, one without it runs the program again from a fresh sandbox. The scripted model's
reference answers are :func:`agentlab.agent.external.diff_rules` (each gold fix as a diff,
what ``agentlab/agent/examples/diff_agent.py`` asks for).
"""

from __future__ import annotations

from collections.abc import Sequence

from agentlab.agent.external import ExternalRun, diff_rules, run_external
from agentlab.config import DatasetConfig, SelectionSection
from agentlab.coordinator.env import RunEnv
from agentlab.coordinator.kinds.agent_tests import check_testing_model, select_with_tests
from agentlab.coordinator.kinds.base import Stage
from agentlab.coordinator.kinds.swe import TESTBED, SWEKind, SWEPipeline
from agentlab.coordinator.kinds.swe_agent import RunModel
from agentlab.coordinator.kinds.swe_data import instance_images, load_swe
from agentlab.coordinator.kinds.swe_gold import reproduction_rules, verifier_rules
from agentlab.errors import ConfigError
from agentlab.llm.scripted import Rule
from agentlab.scoring.diffs import patch_sha
from agentlab.scoring.selectors import Selector
from agentlab.store.run_store import RunState
from agentlab.types import CallContext, Candidate

STAGE = "external"


class ExternalKind(SWEKind):
    """SWE-style datasets, solved by a user's agent program behind the metering proxy."""

    name = "external"

    def claims(self, dataset: DatasetConfig) -> bool:
        return False  # only by name

    def reference_rules(self, dataset: DatasetConfig) -> Sequence[Rule]:
        """Each gold fix as a fenced diff (what the example agent asks for), after the hidden
        tests as the test selection writes and verifiers that know the reference."""
        loaded = load_swe(dataset)
        agent = diff_rules(loaded.instances)
        return [*reproduction_rules(loaded), *verifier_rules(loaded), *agent]

    def open(self, env: RunEnv) -> ExternalPipeline:
        if not env.config.external.command.strip():
            raise ConfigError("trajectory.type external: set trajectory.command (your agent)")
        check_testing_model(env)
        return self._pipeline(env)

    def _pipeline(self, env: RunEnv) -> ExternalPipeline:
        images = instance_images(env.sandbox_provider(), env.run_id)
        return ExternalPipeline(env, load_swe(env.config.dataset), images)

    async def select(
        self, env: RunEnv, section: SelectionSection, selectors: Sequence[Selector]
    ) -> None:
        """Tests for the candidates (the program's own are not read), then ``swe`` selection."""
        await select_with_tests(self, env, self._pipeline(env), section, selectors)

    def own_test_signal(self, state: RunState, task_id: str, sample: int) -> bool:
        """An external agent reports no test of its own: never a signal."""
        return False


class ExternalPipeline(SWEPipeline):
    """The ``swe`` pipeline with the user's program as the trajectory."""

    def stages(self) -> tuple[Stage, ...]:
        return (Stage(STAGE),)

    async def trajectory(self, task_id: str, sample: int) -> Candidate:
        """One run of the user's program (or its stored record, on resume)."""
        env, instance = self.env, self.by_id[task_id]
        stored = env.steps(task_id, sample, STAGE, ExternalRun)
        if stored:
            run = stored[-1]
        else:
            role = env.config.models.for_role("editing")
            model = RunModel(env.models, env.models.clients[role.endpoint])
            config = env.config.external
            if config.max_usd is None and env.config.budget.per_task_usd is not None:
                config = config.model_copy(update={"max_usd": env.config.budget.per_task_usd})
            image = await self.images.image_for(self.dataset, instance)
            await env.store.set_trajectory(
                env.run_id, task_id, sample, stage=STAGE, status="running"
            )
            run = await run_external(
                model,
                lambda spec: env.pool.open(spec, task_id),
                self.spec(image, task_id, sample),
                config,
                task=instance.problem_statement,
                context=CallContext(run_id=env.run_id, role=STAGE, task_id=task_id, sample=sample),
                repo_dir=TESTBED,
                prepare=self.squash,
            )
            action = f"exit {run.exit_code}, {run.calls} calls, ${run.usd:.4f}"
            await env.save_turn(task_id, sample, STAGE, 0, action, run.model_dump_json())
        env.progress.advance(STAGE)
        return Candidate(
            task_id=task_id,
            sample=sample,
            patch=run.diff,
            patch_sha=patch_sha(run.diff),
            status="final" if run.exit_code == 0 and not run.timed_out else "agent_failed",
        )

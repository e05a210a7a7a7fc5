"""The tool-calling loop on the real Docker engine, talking to the scripted model over real
HTTP, with every step stored in a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agentlab.agent.agent_records import AgentLimits, AgentStep
from agentlab.agent.loop import RERUN, run_agent
from agentlab.llm import AnthropicEndpoint, LLMClient, OpenAIEndpoint, Rule, ScriptedModel
from agentlab.llm.anthropic import AnthropicBackend
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.pricing import ApiPrice
from agentlab.llm.testing import ScriptedServer
from agentlab.protocols import Sandbox
from agentlab.store import open_store
from agentlab.store.run_store import RunStore
from agentlab.types import SandboxSpec, ToolCall
from tests.agent.calc_repo import TASK, bash, checkout
from tests.store.conftest import store_url  # noqa: F401  (the SQLite / Postgres fixture)

pytestmark = pytest.mark.docker

PRICE = ApiPrice(input_per_mtok=1.0, output_per_mtok=2.0)


def edit(**args: str) -> ToolCall:
    return ToolCall(name="editor", arguments=json.dumps(args))


FIX = (
    (bash("ls && python3 -c 'import calc; print(calc.add(2, 3))'"),),
    (edit(command="view", path="calc.py"),),
    (edit(command="str_replace", path="calc.py", old_str="a - b", new_str="a + b"),),
    (bash("python3 -c 'import calc; print(calc.add(2, 3))'"),),
)


def script(calls: tuple[tuple[ToolCall, ...], ...], final: str = "fixed") -> ScriptedModel:
    replies = ("",) * len(calls) + (final,)
    return ScriptedModel([Rule(first_user="Issue:", replies=replies, tool_calls=calls)])


@pytest.fixture
def model() -> ScriptedModel:
    return script(FIX)


@pytest.fixture
def server(model: ScriptedModel) -> Iterator[ScriptedServer]:
    with ScriptedServer(model) as srv:
        yield srv


@pytest.fixture
def wire() -> str:
    return "openai"


@pytest.fixture
async def client(
    server: ScriptedServer, wire: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LLMClient]:
    backend: OpenAIBackend | AnthropicBackend
    if wire == "openai":
        config = OpenAIEndpoint(name="scripted-http", model="scripted", base_url=server.base_url)
        backend = OpenAIBackend(config)
    else:
        monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-test")
        backend = AnthropicBackend(
            AnthropicEndpoint(
                name="scripted-http",
                model="scripted",
                base_url=server.root_url,
                api_key_env="TEST_ANTHROPIC_KEY",
            )
        )
    llm = LLMClient(backend, model="scripted", endpoint="scripted-http", price=PRICE)
    try:
        yield llm
    finally:
        await llm.aclose()


class Steps:
    """Stores each step as a turn row, as the coordinator does, and reads them back."""

    def __init__(self, url: str, run_id: str) -> None:
        self.store = open_store(url)
        self.runs = RunStore(self.store)
        self.run_id = run_id
        self.writes = 0

    async def save(self, step: AgentStep) -> None:
        self.writes += 1
        await self.runs.save_turn(
            self.run_id, "calc-1", 0, "agent", step.step, step.action, step.model_dump_json()
        )

    async def load(self) -> list[AgentStep]:
        state = await self.runs.load(self.run_id)
        return [AgentStep.model_validate_json(r) for r in state.steps("calc-1", 0, "agent")]


@pytest.fixture
async def steps(store_url: str, run_id: str) -> AsyncIterator[Steps]:  # noqa: F811
    """Steps in SQLite, and in a fresh PostgreSQL database."""
    found = Steps(store_url, run_id)
    await found.runs.start_run(run_id, name="agent", config={}, config_hash="h", seed=0)
    try:
        yield found
    finally:
        found.store.close()


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
async def test_scripted_agent_fixes_the_bug_and_every_step_is_stored(
    client: LLMClient, repo: Sandbox, steps: Steps, server: ScriptedServer
) -> None:
    outcome = await run_agent(client, repo, task=TASK, limits=AgentLimits(), on_step=steps.save)
    assert outcome.status == "submitted" and outcome.steps == 5
    assert "-    return a - b\n+    return a + b" in outcome.diff
    stored = await steps.load()
    assert [s.step for s in stored] == [0, 1, 2, 3, 4] and all(s.done for s in stored)
    assert steps.writes == 10  # each step: once with the reply, once with its results
    assert stored[0].runs[0].output.endswith("-1\n[exit code 0]")
    assert "     2\t    return a - b" in stored[1].runs[0].output
    assert stored[3].runs[0].output == "5\n[exit code 0]"
    assert stored[4].final and stored[4].reply.content == "fixed"
    assert all(s.usage.completion_tokens > 0 and s.usd > 0 for s in stored)
    assert stored[1].tree_diff is None and stored[2].tree_diff == outcome.diff
    # The model saw each observation as the result of its call.
    last = server.requests[-1].request
    assert last is not None
    assert [m.content for m in last.messages if m.role == "tool"][3] == "5\n[exit code 0]"


@pytest.mark.parametrize(
    "model",
    [
        script(
            (
                (ToolCall(name="bash", arguments='{"command": "ls'),),
                (ToolCall(name="launch_rockets", arguments="{}"),),
                (edit(command="str_replace", path="calc.py", old_str="nope", new_str="x"),),
                (bash("seq 1 200000"),),
                (bash("sleep 600"),),
            )
        )
    ],
)
async def test_bad_calls_are_reported_and_output_is_capped(
    client: LLMClient, repo: Sandbox, steps: Steps, server: ScriptedServer
) -> None:
    limits = AgentLimits(command_timeout_s=3, output_chars=1000)
    outcome = await run_agent(client, repo, task=TASK, limits=limits, on_step=steps.save)
    assert (outcome.malformed_calls, outcome.unknown_tools, outcome.bad_calls) == (1, 1, 1)
    assert outcome.status == "submitted" and outcome.diff == ""
    runs = [s.runs[0] for s in (await steps.load())[:5]]
    assert runs[0].error == "malformed" and "not valid JSON" in runs[0].output
    assert runs[1].error == "unknown_tool" and "bash, editor" in runs[1].output
    assert "does not occur in calc.py" in runs[2].output
    seq = runs[3].output
    assert seq.startswith("1\n2\n3\n") and seq.endswith("199999\n200000\n[exit code 0]")
    assert "characters cut of" in seq and len(seq) < 1100  # capped in the store, too
    assert runs[4].timed_out and "killed" in runs[4].output
    # The model was told: the tool results it got back are these observations.
    last = server.requests[-1].request
    assert last is not None
    told = [m.content for m in last.messages if m.role == "tool"]
    assert told == [r.output for r in runs]


@pytest.mark.parametrize(
    "model",
    [
        script(
            (
                (bash(":(){ :|:& };:; sleep 2; echo survived"),),
                (bash("while true; do :; done"),),
                (
                    bash(
                        "python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53),"
                        ' timeout=3)" || echo no-network'
                    ),
                ),
                (bash("echo alive; ps -e --no-headers | wc -l"),),
            )
        )
    ],
)
async def test_hostile_commands_stay_inside_the_sandbox(
    client: LLMClient, repo: Sandbox, steps: Steps
) -> None:
    limits = AgentLimits(command_timeout_s=8)
    outcome = await run_agent(client, repo, task=TASK, limits=limits, on_step=steps.save)
    runs = [s.runs[0] for s in (await steps.load())[:4]]
    assert runs[1].timed_out and "killed" in runs[1].output
    assert "no-network" in runs[2].output
    # The sandbox is still usable, and nothing the fork bomb started outlived its call: left
    # are init, this call's shell, its timeout, ps and wc (and at most a stray or two).
    alive, count = runs[3].output.splitlines()[:2]
    assert alive == "alive" and int(count) <= 6, runs[3].output
    assert outcome.status == "submitted"


@pytest.mark.parametrize(
    "model",
    [
        ScriptedModel(
            [
                Rule(
                    first_user="Issue:",
                    replies=(
                        "Let me look.\n```bash\ncat calc.py\n```",
                        "Two at once:\n```bash\nls\n```\n```bash\nls\n```",
                        "```bash\nsed -i 's/a - b/a + b/' calc.py\n```",
                        "Done.\nSUBMIT",
                    ),
                )
            ]
        )
    ],
)
async def test_text_mode_runs_one_bash_block_per_turn(
    client: LLMClient, repo: Sandbox, server: ScriptedServer
) -> None:
    outcome = await run_agent(client, repo, task=TASK, limits=AgentLimits(mode="text"))
    assert outcome.status == "submitted" and outcome.steps == 4 and outcome.bad_calls == 1
    assert "+    return a + b" in outcome.diff
    last = server.requests[-1].request
    assert last is not None and last.tools == ()
    users = [m.content for m in last.messages if m.role == "user"]
    assert users[1].startswith("def add(a, b):") and "2 ```bash blocks" in users[2]


async def test_limits_end_the_trajectory_with_its_diff(client: LLMClient, repo: Sandbox) -> None:
    limited = await run_agent(client, repo, task=TASK, limits=AgentLimits(max_steps=3))
    assert limited.status == "step_limit" and limited.steps == 3
    assert "+    return a + b" in limited.diff  # the edit of step 2 is the candidate
    # The dollar cap is checked against the next call's worst case (prompt bytes at $1/M plus
    # max_tokens at $2/M: about $0.005 here, while a real step costs about $0.0002), so a cap
    # of $0.004 stops before the first call rather than after passing it.
    capped = await run_agent(client, repo, task=TASK, limits=AgentLimits(max_usd=0.004))
    assert capped.status == "cost_limit" and capped.steps == 0 and capped.usd == 0
    roomy = await run_agent(client, repo, task=TASK, limits=AgentLimits(max_usd=1.0))
    assert roomy.status == "submitted" and 0 < roomy.usd < 0.004


class Killed(Exception):
    pass


async def test_a_killed_run_resumes_at_the_next_step(
    client: LLMClient,
    docker_backend: Any,
    spec: SandboxSpec,
    steps: Steps,
    server: ScriptedServer,
) -> None:
    async def die_after_reply_3(step: AgentStep) -> None:
        await steps.save(step)
        if step.step == 3 and not step.done:
            raise Killed  # as if the process died between the reply and running its tool

    async with docker_backend.open(spec) as sb:
        await checkout(sb)
        with pytest.raises(Killed):
            await run_agent(client, sb, task=TASK, limits=AgentLimits(), on_step=die_after_reply_3)
    calls_before = len(server.requests)
    prior = await steps.load()
    assert [(s.step, s.done) for s in prior] == [(0, True), (1, True), (2, True), (3, False)]
    async with docker_backend.open(spec) as fresh:  # a new sandbox: the tree comes from the store
        await checkout(fresh)
        outcome = await run_agent(
            client, fresh, task=TASK, limits=AgentLimits(), prior=prior, on_step=steps.save
        )
    assert len(server.requests) == calls_before + 1  # only the final answer was asked for
    assert outcome.status == "submitted" and outcome.steps == 5 and outcome.reruns == 1
    assert "+    return a + b" in outcome.diff
    resumed = (await steps.load())[3].runs[0].output
    assert resumed.startswith(RERUN) and resumed.endswith("5\n[exit code 0]")


@pytest.mark.parametrize(
    "model",
    [
        script(
            (
                (
                    edit(command="create", path="pkg/new.py", file_text="X = 1\n"),
                    edit(command="view", path="pkg/new.py"),
                ),
                (bash("cd / && echo moved && exit 7"),),
                (edit(command="view", path="missing.py"),),
            )
        )
    ],
)
async def test_editor_creates_files_and_exit_codes_survive_the_snapshot(
    client: LLMClient, repo: Sandbox, steps: Steps
) -> None:
    outcome = await run_agent(client, repo, task=TASK, limits=AgentLimits(), on_step=steps.save)
    stored = await steps.load()
    created, viewed = stored[0].runs
    assert created.output == "created pkg/new.py" and viewed.output == "     1\tX = 1"
    assert "+++ b/pkg/new.py" in (stored[0].tree_diff or "")  # two calls, one step, one diff
    assert stored[1].runs[0].output == "moved\n[exit code 7]"  # `cd /` did not fool the diff
    assert stored[1].tree_diff == stored[0].tree_diff == outcome.diff
    assert stored[2].runs[0].error == "bad_arguments" and "cannot read" in stored[2].runs[0].output

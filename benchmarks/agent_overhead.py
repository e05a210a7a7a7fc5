"""Agent-loop overhead: what agentlab adds per step, beyond the model and the command.

A scripted agent (real HTTP to the scripted model server, zero model latency) makes ``--steps``
tool calls in a real Docker sandbox: bash commands that write a file, alternating with editor
views. Per step, agentlab's overhead is the wall time of the run minus the model's time
(``ChatResponse.latency_s``: the HTTP request and reply) minus the sandbox's exec time
(``ExecResult.duration_s``: the engine round trip and the command), divided by the steps.
What remains is ours: building requests, the client wrapper, parsing calls, capping output,
the step records and, in the last row, two SQLite writes per step.

Baseline, in the same run: a bare loop doing the same model calls and the same commands
through ``LLMClient.generate`` and ``Sandbox.exec`` directly (no tools, records or store).
``in-sandbox extra`` is the agent's exec time over the baseline's per call: the exit trap
that sweeps leftover processes and prints the working tree's diff (time inside the sandbox,
so excluded from the overhead, but shown here).

    python benchmarks/agent_overhead.py [--steps 20 --repeats 3]

Proxy path: 200 sequential chat calls from a standard-library client (as an external agent
makes them), straight to the scripted server and through :class:`MeteringProxy` (which
forwards through the LLM client: budget check, accounting); the overhead is the difference
of the medians. The proxy also reports its own time per call (wall minus the upstream call).

Ends with ``RESULT step_overhead_ms=<n> proxy_overhead_ms=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from agentlab.agent.agent_records import AgentLimits, AgentStep
from agentlab.agent.loop import run_agent
from agentlab.agent.proxy import MeteringProxy
from agentlab.llm import LLMClient, OpenAIEndpoint, Rule, ScriptedModel
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.testing import ScriptedServer
from agentlab.protocols import Sandbox
from agentlab.sandbox.docker import DockerBackend
from agentlab.store import open_store
from agentlab.store.run_store import RunStore
from agentlab.types import CallContext, ChatRequest, ExecResult, Message, SandboxSpec, ToolCall

IMAGE = "agentlab/base:bookworm"
TASK = "Issue: benchmark the loop."
SETUP = "git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm base"


class TimedSandbox:
    """Passes calls through to a sandbox, adding up the exec time it reports."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner = inner
        self.exec_s = 0.0
        self.execs = 0

    @property
    def id(self) -> str:
        return self.inner.id

    async def exec(
        self,
        cmd: str | Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | str | None = None,
    ) -> ExecResult:
        result = await self.inner.exec(cmd, timeout=timeout, env=env, cwd=cwd, stdin=stdin)
        self.exec_s += result.duration_s
        self.execs += 1
        return result

    async def read_file(self, path: str) -> bytes:
        return await self.inner.read_file(path)

    async def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644) -> None:
        await self.inner.write_file(path, data, mode=mode)

    async def copy_in(self, src: Path, dest: str) -> None:
        await self.inner.copy_in(src, dest)

    async def copy_out(self, src: str, dest: Path) -> None:
        await self.inner.copy_out(src, dest)


def calls(steps: int) -> tuple[tuple[ToolCall, ...], ...]:
    out = []
    for i in range(steps):
        if i % 2 == 0:
            args = {"command": f"echo step {i} > notes_{i}.txt && ls | wc -l"}
            out.append((ToolCall(name="bash", arguments=json.dumps(args)),))
        else:
            args = {"command": "view", "path": f"notes_{i - 1}.txt"}
            out.append((ToolCall(name="editor", arguments=json.dumps(args)),))
    return tuple(out)


class Timing:
    def __init__(self) -> None:
        self.wall = self.model = self.exec = 0.0
        self.steps = self.execs = 0

    def residual_ms(self) -> float:
        return 1000 * (self.wall - self.model - self.exec) / self.steps


async def agent_run(
    client: LLMClient, sb: TimedSandbox, steps: int, store: RunStore | None, run_id: str
) -> Timing:
    async def save(step: AgentStep) -> None:
        assert store is not None
        await store.save_turn(
            run_id, "bench", 0, "agent", step.step, step.action, step.model_dump_json()
        )

    timing, before = Timing(), (sb.exec_s, sb.execs)
    started = time.perf_counter()
    outcome = await run_agent(
        client, sb, task=TASK, limits=AgentLimits(max_steps=steps), on_step=save if store else None
    )
    timing.wall = time.perf_counter() - started
    timing.exec, timing.execs = sb.exec_s - before[0], sb.execs - before[1]
    timing.steps = outcome.steps
    return timing


async def bare_run(client: LLMClient, sb: TimedSandbox, steps: int) -> Timing:
    """The same calls and commands with nothing of the agent loop around them."""
    timing, before = Timing(), (sb.exec_s, sb.execs)
    messages = [Message(role="user", content=TASK)]
    started = time.perf_counter()
    for n in range(steps):
        response = await client.generate(ChatRequest(model="scripted", messages=tuple(messages)))
        timing.model += response.latency_s
        call = response.choices[0].tool_calls[0]
        args = json.loads(call.arguments)
        cmd = args["command"] if call.name == "bash" else f"cat -n {args['path']}"
        result = await sb.exec(["bash", "-c", cmd], cwd="/testbed", timeout=60)
        messages += [
            Message(role="assistant", content="", tool_calls=(call,)),
            Message.tool_result(call.id or f"c{n}", result.stdout),
        ]
    timing.wall = time.perf_counter() - started
    timing.exec, timing.execs = sb.exec_s - before[0], sb.execs - before[1]
    timing.steps = steps
    return timing


class ModelTime:
    """Wraps a client's backend to add up the model time of the agent's calls."""

    def __init__(self, client: LLMClient) -> None:
        self.client, self.total = client, 0.0
        inner = client.backend.generate

        async def generate(request: ChatRequest) -> object:
            response = await inner(request)
            self.total += response.latency_s
            return response

        client.backend.generate = generate  # type: ignore[method-assign,assignment]


def _post(url: str, token: str) -> float:
    """One chat call with the standard library, as an external agent makes it; seconds."""
    body = {"model": "scripted", "messages": [{"role": "user", "content": "hello"}]}
    request = urllib.request.Request(
        f"{url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()
    return time.perf_counter() - started


async def proxy_rows(client: LLMClient, upstream: str, calls: int) -> tuple[float, float, float]:
    """Median seconds per call straight to the model server and through the proxy, and the
    proxy's own median time per call (its wall time minus the upstream call)."""
    direct = [await asyncio.to_thread(_post, upstream, "none") for _ in range(calls)]
    context = CallContext(run_id="bench", role="external")
    async with MeteringProxy(client, context=context) as proxy:
        proxied = [
            await asyncio.to_thread(_post, proxy.base_url, proxy.token) for _ in range(calls)
        ]
        own = statistics.median(proxy.stats.own_s)
    return statistics.median(direct), statistics.median(proxied), own


async def main(steps: int, repeats: int) -> None:
    model = ScriptedModel(
        [Rule(first_user="Issue:", replies=("",) * steps + ("done",), tool_calls=calls(steps))]
    )
    backend = DockerBackend()
    rows: dict[str, list[Timing]] = {
        "bare loop (baseline)": [],
        "agent loop": [],
        "agent loop + SQLite": [],
    }
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(model) as server:
        store = open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        runs = RunStore(store)
        config = OpenAIEndpoint(name="scripted-http", model="scripted", base_url=server.base_url)
        client = LLMClient(OpenAIBackend(config), model="scripted", endpoint=config.name)
        meter = ModelTime(client)
        direct, proxied, own = await proxy_rows(client, server.base_url, 200)
        spec = SandboxSpec(image=IMAGE, run_id="bench-agent-overhead", workdir="/", ttl_s=900)
        try:
            for r in range(repeats):
                async with backend.open(spec) as inner:
                    sb = TimedSandbox(inner)
                    await inner.exec(f"mkdir -p /testbed && cd /testbed && touch .keep && {SETUP}")
                    for label in rows:
                        await inner.exec("git clean -fdq && git checkout -q .", cwd="/testbed")
                        meter.total = 0.0
                        if label.startswith("bare"):
                            timing = await bare_run(client, sb, steps)
                        else:
                            run_id = f"bench-{r}-{len(rows[label])}-{label[-6:]}"
                            use = runs if "SQLite" in label else None
                            if use:
                                await runs.start_run(
                                    run_id, name="bench", config={}, config_hash="", seed=0
                                )
                            timing = await agent_run(client, sb, steps, use, run_id)
                        timing.model = meter.total
                        rows[label].append(timing)
        finally:
            await client.aclose()
            store.close()
    base_exec = statistics.median(t.exec / t.execs for t in rows["bare loop (baseline)"])
    print(f"{steps} steps x {repeats} repeats, Docker sandbox, scripted model over HTTP (median)")
    head = ("loop", "wall s", "model s", "exec s", "execs", "ours ms/step", "sandbox +ms/exec")
    print(f"{head[0]:24} " + " ".join(f"{h:>{max(7, len(h))}}" for h in head[1:]))
    for label, ts in rows.items():
        med = sorted(ts, key=Timing.residual_ms)[len(ts) // 2]
        extra = 1000 * (statistics.median(t.exec / t.execs for t in ts) - base_exec)
        print(
            f"{label:24} {med.wall:7.2f} {med.model:7.3f} {med.exec:7.2f} {med.execs:7d} "
            f"{med.residual_ms():12.2f} {extra:16.1f}"
        )
    agent = statistics.median(t.residual_ms() for t in rows["agent loop + SQLite"])
    print("\nproxy path (200 sequential calls, standard-library client, median ms per call)")
    print(f"{'straight to the model server':32} {1000 * direct:8.2f}")
    print(f"{'through the metering proxy':32} {1000 * proxied:8.2f}")
    print(f"{'difference':32} {1000 * (proxied - direct):8.2f}")
    print(f"{'proxy own time (minus upstream)':32} {1000 * own:8.2f}")
    print(f"RESULT step_overhead_ms={agent:.2f} proxy_overhead_ms={1000 * (proxied - direct):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.steps, args.repeats))
    sys.exit(0)

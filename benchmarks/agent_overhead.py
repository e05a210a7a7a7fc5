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

Proxy path: 200 sequential chat calls from one standard-library client program (as an
external agent makes them, a new connection per call), timed per call by the client itself:
straight to the scripted server (baseline), through :class:`MeteringProxy` on TCP from the
host (the old measurement, kept as a second baseline), and over the path a sandbox really
uses: the client runs *inside* a Docker sandbox whose only network is its private one
(``SandboxSpec.proxy_socket``), reaching ``agentlab-proxy:8080``, the per-sandbox forwarder
container, which relays to the proxy's Unix socket. The proxy forwards through the LLM client
(budget check, accounting) to the same server. ``proxy_overhead_ms`` is the sandbox path's
median minus the straight median: everything agentlab puts between an external agent and its
model (forwarder hop, socket, proxy, client). The proxy also reports its own time per call.

Ends with ``RESULT step_overhead_ms=<n> proxy_overhead_ms=<n> proxy_tcp_overhead_ms=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from agentlab.agent.agent_records import AgentLimits, AgentStep
from agentlab.agent.loop import run_agent
from agentlab.agent.proxy import MeteringProxy
from agentlab.llm import LLMClient, OpenAIEndpoint, Rule, ScriptedModel
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.testing import ScriptedServer
from agentlab.protocols import Sandbox
from agentlab.sandbox.common import PROXY_HOST, PROXY_PORT
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


# The external agent's side: N sequential chat calls, each timed; prints the seconds as JSON.
CLIENT = """
import json, sys, time, urllib.request
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = json.dumps({"model": "scripted", "messages": [{"role": "user", "content": "hello"}]})
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
out = []
for _ in range(n):
    request = urllib.request.Request(url + "/chat/completions", body.encode(), headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()
    out.append(time.perf_counter() - started)
print(json.dumps(out))
"""


async def host_client(url: str, token: str, calls: int) -> float:
    """Median seconds per call of :data:`CLIENT` run as a host process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, url, token, str(calls), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"client failed with exit code {proc.returncode}")
    return statistics.median(json.loads(out))


async def sandbox_client(backend: DockerBackend, socket_path: str, token: str, calls: int) -> float:
    """Median seconds per call of :data:`CLIENT` run in a sandbox wired to ``socket_path``."""
    spec = SandboxSpec(
        image=IMAGE, run_id="bench-agent-overhead", workdir="/", ttl_s=900, proxy_socket=socket_path
    )
    url = f"http://{PROXY_HOST}:{PROXY_PORT}/v1"
    async with backend.open(spec) as sb:
        done = await sb.exec(["python3", "-c", CLIENT, url, token, str(calls)], timeout=600)
    if done.exit_code != 0:
        raise RuntimeError(f"client in the sandbox failed: {done.stderr[-500:]}")
    return statistics.median(json.loads(done.stdout))


async def proxy_rows(
    client: LLMClient, backend: DockerBackend, upstream: str, calls: int
) -> dict[str, float]:
    """Median seconds per call: straight, proxy over TCP, proxy over the sandbox's path; and
    the proxy's own median time per call (its wall time minus the upstream call)."""
    rows = {"straight": await host_client(upstream, "none", calls)}
    context = CallContext(run_id="bench", role="external")
    async with MeteringProxy(client, context=context) as proxy:
        rows["tcp"] = await host_client(proxy.base_url, proxy.token, calls)
        tcp_own = statistics.median(proxy.stats.own_s)
    home = tempfile.mkdtemp(prefix="alb-", dir="/tmp")  # short: a socket path fits ~108 bytes
    try:
        sock = f"{home}/proxy.sock"
        async with MeteringProxy(client, context=context, socket_path=sock) as proxy:
            rows["sandbox"] = await sandbox_client(backend, sock, proxy.token, calls)
            rows["own"] = statistics.median(proxy.stats.own_s)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    rows["tcp_own"] = tcp_own
    return rows


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
        proxy = await proxy_rows(client, backend, server.base_url, 200)
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
    straight = proxy["straight"]
    lines = [
        ("straight to the model server (baseline)", straight, None),
        ("proxy over TCP, client on the host (old path)", proxy["tcp"], proxy["tcp_own"]),
        ("sandbox -> forwarder -> Unix socket -> proxy", proxy["sandbox"], proxy["own"]),
    ]
    print(f"{'path':46} {'ms/call':>8} {'+ms':>7} {'proxy own ms':>13}")
    for label, value, own in lines:
        extra = f"{1000 * (value - straight):7.2f}"
        mine = f"{1000 * own:13.2f}" if own is not None else f"{'':13}"
        print(f"{label:46} {1000 * value:8.2f} {extra} {mine}")
    sandbox_ms = 1000 * (proxy["sandbox"] - straight)
    tcp_ms = 1000 * (proxy["tcp"] - straight)
    print(
        f"RESULT step_overhead_ms={agent:.2f} proxy_overhead_ms={sandbox_ms:.2f}"
        f" proxy_tcp_overhead_ms={tcp_ms:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.steps, args.repeats))
    sys.exit(0)

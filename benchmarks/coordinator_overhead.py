"""Coordinator overhead: CPU per trajectory step and peak memory of a large `agentlab run`.

The scripted model runs behind real HTTP in a *separate process* (``python -m
agentlab.llm.testing``) at a fixed latency; sandboxes are an in-process stand-in whose exec
takes a fixed time (a "fast sandbox command": no container, so what is measured is ours).
Everything else is the real thing: the engine's fan-out, the LLM client (limits, cache,
budget ledger, call rows), the sandbox limit and exec rows, turns, trajectories, candidates,
all in SQLite.

Overhead per step = CPU time of this process (every thread: event loop, store writer, HTTP)
divided by the steps run; the model's and the sandbox's time is waiting, which costs no CPU
here. Peak memory = max RSS of this process.

    python benchmarks/coordinator_overhead.py [--problems 500 --samples 8 --steps 3]

Ends with ``RESULT overhead_ms_per_step=<n> peak_mb=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import yaml

from agentlab.config import load_experiment
from agentlab.coordinator.engine import execute
from agentlab.coordinator.kinds.base import Stage
from agentlab.coordinator.launch import new_request, run_env
from agentlab.store import open_store
from agentlab.types import CallContext, Candidate, ExecResult, Message, Record, SandboxSpec


class FastSandbox:
    """A sandbox whose every command succeeds after ``latency_s`` (no process, no container)."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s

    @property
    def id(self) -> str:
        return "fast"

    async def exec(
        self,
        cmd: str | Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | str | None = None,
    ) -> ExecResult:
        await asyncio.sleep(self.latency_s)
        return ExecResult(exit_code=0, stdout="ok\n", duration_s=self.latency_s)

    async def read_file(self, path: str) -> bytes:
        return b""

    async def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644) -> None:
        return None

    async def copy_in(self, src: Path, dest: str) -> None:
        return None

    async def copy_out(self, src: str, dest: Path) -> None:
        return None


class FastBackend:
    name = "fast"

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s

    @contextlib.asynccontextmanager
    async def open(self, spec: SandboxSpec) -> AsyncIterator[FastSandbox]:
        yield FastSandbox(self.latency_s)


class FastProvider:
    """A sandbox provider around :class:`FastBackend` (no images, nothing to reap)."""

    name = "fast"

    def __init__(self, latency_s: float) -> None:
        self._backend = FastBackend(latency_s)

    def backend(self) -> FastBackend:
        return self._backend

    async def prepare_image(self, **_: object) -> str:
        return "none"

    async def remove_image(self, tag: str) -> bool:
        return False

    async def reap(self, run_id: str | None = None) -> list[str]:
        return []


class Step(Record):
    step: int
    messages: tuple[Message, ...]
    exit_code: int


class BenchPipeline:
    """``steps`` x (one model call, one sandbox exec, one stored turn) per trajectory."""

    def __init__(self, env: object, problems: int, steps: int) -> None:
        from agentlab.coordinator.env import RunEnv

        assert isinstance(env, RunEnv)
        self.env = env
        self.problems = problems
        self.steps = steps

    @property
    def dataset_name(self) -> str:
        return "bench"

    def task_ids(self) -> list[str]:
        return [f"bench-{i}" for i in range(self.problems)]

    def stages(self) -> tuple[Stage, ...]:
        return (Stage("editing"),)

    async def trajectory(self, task_id: str, sample: int) -> Candidate:
        env = self.env
        ctx = CallContext(run_id=env.run_id, task_id=task_id, sample=sample)
        chat = env.models.chat("editing", ctx)
        history = [Message(role="user", content=f"solve {task_id}")]
        spec = SandboxSpec(image="none", run_id=env.run_id)
        async with env.pool.open(spec, task_id) as sb:
            for step in range(len(env.steps(task_id, sample, "editing", Step)), self.steps):
                reply = await chat(history, stage="editing", step=step)
                ran = await sb.exec(["true"])
                added = (Message(role="assistant", content=reply),)
                history.extend(added)
                record = Step(step=step, messages=added, exit_code=ran.exit_code)
                await env.save_turn(
                    task_id, sample, "editing", step, "EDIT", record.model_dump_json()
                )
        env.progress.advance("editing")
        return Candidate(task_id=task_id, sample=sample, patch="x")

    async def grade(self, candidate: Candidate) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def start_server(latency: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentlab.llm.testing", "--latency", str(latency)],
        stdin=subprocess.PIPE,  # the server runs until its stdin closes
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, int(line.split()[1])


async def bench(args: argparse.Namespace, folder: Path, port: int) -> tuple[float, int]:
    (folder / "endpoints.yaml").write_text(
        yaml.safe_dump(
            [
                {
                    "type": "openai",
                    "name": "bench",
                    "model": "scripted",
                    "base_url": f"http://127.0.0.1:{port}/v1",
                    "limits": {"initial": args.llm_calls, "max": args.llm_calls},
                }
            ]
        )
    )
    exp = {
        "run_name": "overhead",
        "dataset": {"name": "bench"},
        "endpoints": "endpoints.yaml",
        "models": {"default": {"endpoint": "bench", "max_tokens": 64}},
        "sampling": {"k": args.samples, "n": args.steps},
        "concurrency": {"llm_calls": args.llm_calls, "sandboxes": args.sandboxes},
    }
    path = folder / "exp.yaml"
    path.write_text(yaml.safe_dump(exp))
    store = open_store(f"sqlite:///{folder}/bench.db")
    request = new_request(load_experiment(path), path, "bench")
    try:
        async with run_env(request, store, FastProvider(args.sandbox_latency)) as env:
            pipeline = BenchPipeline(env, args.problems, args.steps)
            outcome = await execute(env, pipeline)
            assert outcome.status == "finished", outcome
            return env.models.ledger.spent_usd, env.models.meter.calls
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05, help="Model latency (s).")
    parser.add_argument("--sandbox-latency", type=float, default=0.01)
    parser.add_argument("--llm-calls", type=int, default=64)
    parser.add_argument("--sandboxes", type=int, default=16)
    args = parser.parse_args()
    server, port = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            _, calls = asyncio.run(bench(args, Path(tmp), port))
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait()
    steps = args.problems * args.samples * args.steps
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ideal = steps * (args.latency / args.llm_calls + args.sandbox_latency / args.sandboxes)
    per_step = cpu / steps * 1000
    print(f"{'problems x samples x steps':<30}{args.problems} x {args.samples} x {args.steps}")
    print(f"{'model calls':<30}{calls}")
    print(f"{'wall time (s)':<30}{wall:.1f}")
    print(f"{'waiting-bound time (s)':<30}{ideal:.1f}")
    print(f"{'coordinator CPU (s)':<30}{cpu:.1f}")
    print(f"{'overhead per step (ms)':<30}{per_step:.2f}")
    print(f"{'peak memory (MB)':<30}{peak_mb:.0f}")
    print(f"RESULT overhead_ms_per_step={per_step:.2f} peak_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()

"""Fan-out throughput of the LLM client against the scripted server at fixed latency.

N requests at concurrency C against ``python -m agentlab.llm.testing --latency L`` (a separate
process, so the server does not share the client's event loop). For each client design:
achieved requests/s against the ideal C/L, the in-flight count over time, and the client
process's CPU time per request. The baseline is a bare httpx loop (one AsyncClient, a pool of
C connections); the agentlab rows go through the full LLMClient (limiter, budget ledger,
retries, cost) over ``http_clients`` small httpx clients.

    python benchmarks/llm_fanout.py [--n 1280] [--concurrency 64] [--latency 0.2]

Ends with ``RESULT fraction_of_ideal=<agentlab default at C, L> cpu_us_per_request=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from agentlab.llm import LimitConfig, LLMClient, OpenAIEndpoint
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.pricing import ApiPrice
from agentlab.types import ChatRequest, Message

REQUEST = ChatRequest(
    model="scripted", messages=(Message(role="user", content="write solve()"),), max_tokens=32
)


@dataclass
class Row:
    name: str
    seconds: float
    cpu_s: float
    n: int
    ideal: float
    in_flight: list[int]
    server_cpu_s: float

    @property
    def rps(self) -> float:
        return self.n / self.seconds

    @property
    def fraction(self) -> float:
        return self.rps / self.ideal

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.n * 1e6

    @property
    def server_cpu_us(self) -> float:
        return self.server_cpu_s / self.n * 1e6


_SERVER_PID = 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu() -> float:
    """CPU seconds used so far by the server process (Linux /proc), to show it is not the limit."""
    try:
        fields = Path(f"/proc/{_SERVER_PID}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(
    name: str, call: Callable[[], Awaitable[object]], n: int, c: int, latency: float
) -> Row:
    """Run ``n`` calls at most ``c`` at a time; sample the in-flight count every 100 ms."""
    sem = asyncio.Semaphore(c)
    in_flight = 0
    samples: list[int] = []

    async def one() -> None:
        nonlocal in_flight
        async with sem:
            in_flight += 1
            try:
                await call()
            finally:
                in_flight -= 1

    async def sampler() -> None:
        while True:
            samples.append(in_flight)
            await asyncio.sleep(0.1)

    watch = asyncio.create_task(sampler())
    cpu0, server0, t0 = _cpu(), _server_cpu(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    seconds, cpu_s = time.perf_counter() - t0, _cpu() - cpu0
    watch.cancel()
    return Row(name, seconds, cpu_s, n, c / latency, samples, _server_cpu() - server0)


async def bare_httpx(url: str, n: int, c: int, latency: float, clients: int = 1) -> Row:
    body = {
        "model": "scripted",
        "messages": [{"role": "user", "content": "write solve()"}],
        "max_tokens": 32,
    }
    per = -(-c // clients)
    limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
    pool = [httpx.AsyncClient(base_url=url, limits=limits, timeout=30) for _ in range(clients)]
    turn = itertools.cycle(pool)

    async def call() -> object:
        response = await next(turn).post("/chat/completions", json=body)
        response.raise_for_status()
        return response.json()

    try:
        await _drive("warm-up", call, c, c, latency)
        return await _drive(f"bare httpx, {clients} client(s) x {per} conns", call, n, c, latency)
    finally:
        for client in pool:
            await client.aclose()


async def agentlab_client(url: str, n: int, c: int, latency: float) -> Row:
    config = OpenAIEndpoint(
        name="bench",
        model="scripted",
        base_url=url,
        limits=LimitConfig(initial=c, max=c),
    )
    client = LLMClient(
        OpenAIBackend(config),
        model="scripted",
        endpoint="bench",
        price=ApiPrice(input_per_mtok=1, output_per_mtok=2),
        limits=config.limits,
    )
    try:
        await _drive("warm-up", lambda: client.generate(REQUEST), c, c, latency)
        return await _drive(
            f"agentlab LLMClient, {c} x 1-conn clients",
            lambda: client.generate(REQUEST),
            n,
            c,
            latency,
        )
    finally:
        await client.aclose()


def _timeline(samples: list[int], c: int) -> str:
    bars = " ▁▂▃▄▅▆▇█"
    step = max(1, len(samples) // 40)
    return "".join(bars[min(8, round(8 * s / c))] for s in samples[::step])


def _print(rows: list[Row], c: int) -> None:
    print(
        f"{'client':<36} {'req/s':>8} {'ideal':>7} {'frac':>6} {'cpu us/req':>11} "
        f"{'server us/req':>13} {'in-flight med':>13}  in-flight over time"
    )
    for r in rows:
        med = statistics.median(r.in_flight) if r.in_flight else 0
        print(
            f"{r.name:<36} {r.rps:8.1f} {r.ideal:7.1f} {r.fraction:6.3f} {r.cpu_us:11.0f} "
            f"{r.server_cpu_us:13.0f} "
            f"{med:13.0f}  {_timeline(r.in_flight, c)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="LLM client fan-out vs the ideal C/L.")
    parser.add_argument("--n", type=int, default=1280)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "agentlab.llm.testing", "--latency", str(args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    global _SERVER_PID
    _SERVER_PID = server.pid
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}/v1"
        n, c, lat = args.n, args.concurrency, args.latency
        rows = [
            asyncio.run(bare_httpx(url, n, c, lat)),
            asyncio.run(bare_httpx(url, n, c, lat, clients=8)),
            asyncio.run(agentlab_client(url, n, c, lat)),
        ]
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
    print(
        f"N={args.n} C={args.concurrency} L={args.latency * 1000:.0f} ms, "
        "server in a separate process"
    )
    _print(rows, args.concurrency)
    best = rows[-1]  # agentlab's own client
    print(f"RESULT fraction_of_ideal={best.fraction:.3f} cpu_us_per_request={best.cpu_us:.0f}")


if __name__ == "__main__":
    main()

"""Sandbox overhead: agentlab exec vs the raw docker-SDK floor, and fresh vs warm containers.

On one warm container, N execs of `true` go through agentlab (with its in-container timeout,
output capping and exec marker) and through the SDK's own ``exec_run`` (the floor). Then a
fresh container per command (create + exec + remove) is compared with an exec in a warm one.
Prints a table and ends with one line:
``RESULT exec_ratio=<agentlab over raw> fresh_over_warm=<ratio>``.

    python benchmarks/sandbox_overhead.py [--n 100] [--fresh 10] [--image agentlab/base:bookworm]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from rich.console import Console
from rich.table import Table

from agentlab.sandbox.docker import DockerBackend, DockerSandbox
from agentlab.types import SandboxSpec


async def _times(n: int, step: Callable[[], Awaitable[object]]) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await step()
        out.append(time.perf_counter() - t)
    return out


async def main(n: int, fresh: int, image: str) -> None:
    backend = DockerBackend()
    spec = SandboxSpec(image=image, run_id="bench-sandbox-overhead")
    rows: dict[str, list[float]] = {}
    async with backend.open(spec) as sb:
        assert isinstance(sb, DockerSandbox)
        container = backend.client().containers.get(sb.id)

        async def raw() -> object:
            return await asyncio.to_thread(container.exec_run, ["true"])

        async def ours() -> object:
            return await sb.exec(["true"], timeout=60)

        await _times(5, raw)  # warm up both paths
        await _times(5, ours)
        # Interleave in blocks so drift in the engine hits both sides alike.
        rows["raw SDK exec_run (floor)"], rows["agentlab exec"] = [], []
        for _ in range(max(1, n // 10)):
            rows["raw SDK exec_run (floor)"] += await _times(10, raw)
            rows["agentlab exec"] += await _times(10, ours)

    async def fresh_run() -> object:
        async with backend.open(spec) as box:
            return await box.exec(["true"], timeout=60)

    rows["fresh container per exec"] = await _times(fresh, fresh_run)
    table = Table("path", "n", "median ms", "mean ms", "p90 ms", "x floor")
    floor = statistics.median(rows["raw SDK exec_run (floor)"])
    for name, samples in rows.items():
        p90 = sorted(samples)[int(0.9 * (len(samples) - 1))]
        table.add_row(
            name,
            str(len(samples)),
            f"{statistics.median(samples) * 1e3:.1f}",
            f"{statistics.mean(samples) * 1e3:.1f}",
            f"{p90 * 1e3:.1f}",
            f"{statistics.median(samples) / floor:.2f}",
        )
    Console().print(table)
    exec_ratio = statistics.median(rows["agentlab exec"]) / floor
    fresh_ratio = statistics.median(rows["fresh container per exec"]) / statistics.median(
        rows["agentlab exec"]
    )
    print(f"RESULT exec_ratio={exec_ratio:.2f} fresh_over_warm={fresh_ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="execs per path on the warm container")
    parser.add_argument("--fresh", type=int, default=20, help="fresh containers to time")
    parser.add_argument("--image", default="agentlab/base:bookworm")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.fresh, args.image))

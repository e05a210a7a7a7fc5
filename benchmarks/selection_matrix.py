"""A 10 x 10 candidate x test vote matrix on agentlab-mini, our way vs the harness's way.

Our way: one warm container from the instance image; every patch and test staged once; each
candidate's tests run as one exec that, per test, resets the repository (git reset --hard,
git clean -ffdx), applies the patch, runs the test as nobody and cleans up. The harness's way:
a fresh container per cell (start, stage that cell's patch and test, apply, run, remove).
Both run the same script over the same cells in the same serial order and must agree on every
cell; the table shows wall time and the ratio.

    python benchmarks/selection_matrix.py [--size 10] [--instance agentlab-mini__confini-1]

Ends with ``RESULT speedup=<ratio>``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from rich.console import Console
from rich.table import Table

from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.sandbox.docker import DockerBackend
from agentlab.scoring.matrix import Cell, CellJob, MatrixTest, WarmRepo, run_cells
from agentlab.tasks.harness import EvalConfig, InstanceImages, sandbox_spec
from agentlab.types import Candidate, SandboxSpec

TEST = """\
import sys
from confini import loads, ParseError
try:
    loads("[a]\\nx = 1\\nnot a pair\\n")
except ParseError as exc:
    sys.exit(0 if exc.lineno == {want} else 1)  # test {i}
sys.exit(1)
"""


def _candidates(gold: str, n: int) -> list[Candidate]:
    # Distinct changes: the gold fix with a different trailing comment, and every third one
    # off by one, so the matrix holds passes and failures.
    out = []
    for i in range(n):
        start = "2" if i % 3 == 2 else "1"
        line = f"enumerate(text.splitlines(), start={start}):  # variant {i}"
        out.append(
            Candidate(
                task_id="matrix",
                id=i + 1,
                patch=gold.replace("enumerate(text.splitlines(), start=1):", line),
            )
        )
    return out


def _tests(n: int) -> list[MatrixTest]:
    return [MatrixTest(100 + i, TEST.format(want=3 if i % 4 else 4, i=i)) for i in range(n)]


async def ours(
    backend: DockerBackend,
    spec: SandboxSpec,
    cands: list[Candidate],
    tests: list[MatrixTest],
    jobs: list[CellJob],
) -> tuple[float, list[Cell]]:
    started = time.perf_counter()
    async with backend.open(spec) as sandbox:
        repo = WarmRepo(sandbox)
        await repo.stage(cands, tests)
        cells = await run_cells([repo], jobs)
    return time.perf_counter() - started, cells


async def harness_way(
    backend: DockerBackend,
    spec: SandboxSpec,
    cands: list[Candidate],
    tests: list[MatrixTest],
    jobs: list[CellJob],
) -> tuple[float, list[Cell]]:
    by_c = {c.key: c for c in cands}
    by_t = {t.key: t for t in tests}
    started = time.perf_counter()
    cells = []
    for job in jobs:
        assert job.candidate is not None
        async with backend.open(spec) as sandbox:
            repo = WarmRepo(sandbox)
            await repo.stage([by_c[job.candidate]], [by_t[job.test]])
            cells.append(await repo.run(job))
    return time.perf_counter() - started, cells


async def main(size: int, instance_id: str) -> float:
    dataset = resolve_dataset("agentlab-mini")
    instance = dataset.by_id()[instance_id]
    config = EvalConfig(run_id="bench-selection-matrix")
    image = await InstanceImages(ProviderImages(), config).image_for(dataset, instance)
    spec = sandbox_spec(config, image, instance_id)
    backend = DockerBackend()
    cands, tests = _candidates(instance.patch, size), _tests(size)
    jobs = [CellJob(c.key, t.key) for c in cands for t in tests]
    warm_s, warm = await ours(backend, spec, cands, tests, jobs)
    cold_s, cold = await harness_way(backend, spec, cands, tests, jobs)
    agree = [(a.passed, a.exit_code) for a in warm] == [(b.passed, b.exit_code) for b in cold]
    if not agree:
        raise SystemExit("the two ways disagree on some cell; the comparison is void")
    table = Table(title=f"{size} x {size} vote matrix on {instance_id} (serial)")
    for col in ("way", "cells", "seconds", "ms per cell", "passed"):
        table.add_column(col)
    for name, secs, cells in (
        ("warm container, reset", warm_s, warm),
        ("fresh container", cold_s, cold),
    ):
        table.add_row(
            name,
            str(len(cells)),
            f"{secs:.2f}",
            f"{1000 * secs / len(cells):.0f}",
            str(sum(c.passed for c in cells)),
        )
    Console().print(table)
    return cold_s / warm_s


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--instance", default="agentlab-mini__confini-1")
    args = parser.parse_args()
    ratio = asyncio.run(main(args.size, args.instance))
    print(f"RESULT speedup={ratio:.1f}")

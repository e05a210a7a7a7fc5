"""Throughput of ``agentlab eval``: gold over agentlab-mini, ours vs the harness's way.

Ours: cached instance images (built once, before timing), a fresh container per evaluation
from that image, 1 and 2 workers. The harness's way: per instance a fresh container from the
base image and a fresh checkout (clone the bundle, check out base_commit, install), then the
same evaluation. Prints instances/min and overhead beyond the tests' own run time, and ends
with ``RESULT instances_per_min=<ours, 2 workers> speedup_vs_fresh=<ratio>``.
"""

from __future__ import annotations

import asyncio
import time

from agentlab.coordinator.fanout import fan_out
from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.sandbox.docker import DockerBackend
from agentlab.tasks import scripts
from agentlab.tasks.harness import EvalConfig, EvalResult, InstanceImages, evaluate, run_in_sandbox
from agentlab.tasks.predictions import Prediction, gold_predictions
from agentlab.tasks.swebench import Dataset
from agentlab.types import SandboxSpec


async def ours(
    data: Dataset, workers: int, images: InstanceImages, cfg: EvalConfig
) -> list[EvalResult]:
    backend = DockerBackend()
    by_id = data.by_id()

    async def one(p: Prediction) -> EvalResult:
        return await evaluate(backend, images, data, by_id[p.instance_id], p, cfg)

    return await fan_out(gold_predictions(data.instances), one, max_workers=workers)


async def fresh(data: Dataset, cfg: EvalConfig, workers: int) -> list[EvalResult]:
    """The harness's way: fresh container, fresh checkout and install per instance."""
    backend = DockerBackend()
    by_id = data.by_id()

    async def one(p: Prediction) -> EvalResult:
        inst = by_id[p.instance_id]
        spec = data.spec_for(inst)
        sandbox_spec = SandboxSpec(image=cfg.base_image, run_id=cfg.run_id, memory_mb=2048)
        async with backend.open(sandbox_spec) as sb:
            source = data.source_for(inst)
            assert not isinstance(source, str), "benchmark needs local bundles"
            await sb.write_file("/opt/repo.bundle", source.read_bytes())
            setup = [
                f"git clone -q /opt/repo.bundle {scripts.TESTBED}",
                f"cd {scripts.TESTBED} && git checkout -q {inst.base_commit}",
                *(f"cd {scripts.TESTBED} && {c}" for c in (*spec.pre_install, *spec.install)),
            ]
            await sb.exec(["bash", "-c", " && ".join(setup)], timeout=600)
            return await run_in_sandbox(sb, inst, spec, p, cfg)

    return await fan_out(gold_predictions(data.instances), one, max_workers=workers)


def row(name: str, n: int, wall: float, results: list[EvalResult], workers: int) -> float:
    tests = sum(r.tests_s for r in results) / workers
    resolved = sum(r.grade.resolved for r in results)
    rate = n / wall * 60
    print(f"{name:<32} {n:>4} {resolved:>8} {wall:>8.1f} {rate:>10.1f} {wall - tests:>12.1f}")
    return rate


async def main() -> None:
    data = resolve_dataset("agentlab-mini")
    cfg = EvalConfig(run_id="bench-eval", timeout=600)
    images = InstanceImages(ProviderImages(), cfg)
    for inst in data.instances:  # build (or find) every image before timing
        await images.image_for(data, inst)
    n = len(data.instances)
    print(
        f"{'mode':<32} {'n':>4} {'resolved':>8} {'wall s':>8} {'inst/min':>10} {'overhead s':>12}"
    )
    rates = {}
    for workers in (1, 2):
        t = time.monotonic()
        res = await ours(data, workers, images, cfg)
        rates[workers] = row(
            f"agentlab, {workers} worker(s)", n, time.monotonic() - t, res, workers
        )
    fresh_rates = {}
    for workers in (1, 2):
        t = time.monotonic()
        res = await fresh(data, cfg, workers)
        fresh_rates[workers] = row(
            f"fresh container+checkout, {workers}w", n, time.monotonic() - t, res, workers
        )
    # Compared at equal parallelism: 2 workers each.
    speedup = rates[2] / fresh_rates[2]
    print(f"RESULT instances_per_min={rates[2]:.1f} speedup_vs_fresh={speedup:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

"""The official SWE-bench harness vs agentlab's evaluator, same instances, same predictions.

Writes current-format instances for the bundled agentlab-mini (pytest and unittest repos; eval
scripts in the harness's shape), builds their images locally from the bundles and tags them
with the names the instances give, so neither side builds or pulls during the timed part.
Then grades ``--samples`` candidates per instance (the gold patch, as k candidates of one
instance in test-time compute) at equal workers, on cached images:

- baseline: ``python -m swebench.harness.run_evaluation`` (needs ``agentlab[swebench]``), once
  per sample (it grades one prediction per instance and run), a fresh container each time;
- agentlab: the harness-exact evaluator (``--grading swebench`` path), ``workers`` instances at
  once, an instance's candidates one after another in its warm container (reset and verified
  between candidates; the first one pays for the fresh container).

Prints a per-evaluation table (verdicts, container, wall seconds, test-command seconds) and ends
with ``RESULT speedup_vs_harness=<harness wall / agentlab wall> agree=<n>/<total>
overhead_s_per_eval=<mean of agentlab's per-evaluation wall minus its test command's time>``.
``agree`` counts evaluations whose ``report.json`` is identical on both sides; the mean overhead
is also shown for fresh and for warm containers apart.

Run: python benchmarks/eval_vs_harness.py [--workers 2] [--instances 17] [--samples 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agentlab.datasets import dataset_path
from agentlab.sandbox.docker import DockerBackend
from agentlab.sandbox.images import ImageSpec, ensure_image
from agentlab.tasks import grading, official
from agentlab.tasks.harness import EvalConfig, EvalResult, InstanceImages, evaluate
from agentlab.tasks.instances import convert, write_jsonl
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, load_dataset
from agentlab.tasks.warm import WarmContainers

NAMESPACE = "agentlab-bench"


async def _build(
    *, parent: str, commands: Sequence[str], files: Mapping[str, str], network: bool, name: str
) -> str:
    spec = ImageSpec(
        parent=parent, name=name, setup=tuple(commands), files=dict(files), network=network
    )
    return await ensure_image(spec)


async def _present(image: str) -> str:
    return image  # tagged beforehand: the timed part neither builds nor pulls


def prepare(workdir: Path, limit: int) -> tuple[Path, Path, Dataset]:
    """Current-format instances with locally tagged images, and gold predictions."""
    old = load_dataset(dataset_path("agentlab-mini"), name="agentlab-mini")
    old.instances = old.instances[:limit]
    images = InstanceImages(_build, EvalConfig())
    records = convert(old, namespace=NAMESPACE)
    for inst, record in zip(old.instances, records, strict=True):
        built = asyncio.run(images.image_for(old, inst))
        subprocess.run(["docker", "tag", built, record["image"]], check=True)
    instances = workdir / "instances.jsonl"
    write_jsonl(records, instances)
    preds = workdir / "gold.jsonl"
    preds.write_text(
        "".join(
            json.dumps(
                {"instance_id": i.instance_id, "model_name_or_path": "gold", "model_patch": i.patch}
            )
            + "\n"
            for i in old.instances
        )
    )
    return instances, preds, load_dataset(instances, offline=True)


def run_harness(
    instances: Path, preds: Path, workers: int, cwd: Path, run_id: str
) -> tuple[float, dict]:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "swebench.harness.run_evaluation",
            "--dataset_name", str(instances), "--predictions_path", str(preds),
            "--run_id", run_id, "--max_workers", str(workers), "--timeout", "600",
            "--report_dir", str(cwd),
        ],
        cwd=cwd, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"harness failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    reports = {
        p.parent.name: json.loads(p.read_text())
        for p in (cwd / f"logs/run_evaluation/{run_id}/gold").glob("*/report.json")
    }
    return wall, reports


async def run_agentlab(
    data: Dataset, workers: int, samples: int
) -> tuple[float, list[list[EvalResult]]]:
    config = EvalConfig(run_id="bench-agentlab", strict=False, timeout=600)
    images = InstanceImages(_build, config, _present)
    backend = DockerBackend()
    warm = WarmContainers(backend, max_idle=2 * workers)
    gate = asyncio.Semaphore(workers)
    results: dict[str, list[EvalResult]] = {}

    async def one(inst: Any) -> None:
        async with gate:  # an instance's candidates one after another, as a worker grades them
            for sample in range(samples):
                pred = Prediction(
                    instance_id=inst.instance_id, model_name="gold", patch=inst.patch, sample=sample
                )
                result = await evaluate(backend, images, data, inst, pred, config, warm)
                results.setdefault(inst.instance_id, []).append(result)

    started = time.monotonic()
    try:
        async with asyncio.TaskGroup() as group:
            for inst in data.instances:
                group.create_task(one(inst))
    finally:
        await warm.aclose()  # removing the kept containers is part of agentlab's wall time
    wall = time.monotonic() - started
    return wall, [results[i.instance_id] for i in data.instances]


def _report(iid: str, result: EvalResult) -> dict[str, Any] | None:
    if result.grade.outcome in grading.UNGRADED:
        return None
    return grading.instance_report(iid, result.grade)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--instances", type=int, default=17)
    parser.add_argument("--samples", type=int, default=2, help="candidates per instance")
    args = parser.parse_args()
    print(f"swebench {official.version()}; workers={args.workers} samples={args.samples}")
    with tempfile.TemporaryDirectory(prefix="eval-vs-harness-") as tmp:
        root = Path(tmp)
        instances, preds, data = prepare(root, args.instances)
        h_wall = 0.0
        theirs: list[dict[str, Any]] = []
        for sample in range(args.samples):
            wall, reports = run_harness(instances, preds, args.workers, root, f"bench-{sample}")
            h_wall += wall
            theirs.append(reports)
        a_wall, results = asyncio.run(run_agentlab(data, args.workers, args.samples))
    print(
        f"{'instance':34} {'k':>2} {'harness':>8} {'agentlab':>8} {'same':>5} {'container':>9} "
        f"{'wall_s':>7} {'tests_s':>7}"
    )
    agree = total = 0
    overheads: dict[str, list[float]] = {"fresh": [], "warm": []}
    for inst, runs in zip(data.instances, results, strict=True):
        iid = inst.instance_id
        for sample, res in enumerate(runs):
            h = theirs[sample].get(iid)
            a = _report(iid, res)
            same = h == a
            agree += same
            total += 1
            kind = "warm" if res.logs.run_log.startswith("container: warm") else "fresh"
            overheads[kind].append(res.duration_s - res.tests_s)
            h_res = (h or {}).get(iid, {}).get("resolved")
            a_res = (a or {}).get(iid, {}).get("resolved")
            print(
                f"{iid:34} {sample:>2} {h_res!s:>8} {a_res!s:>8} {same!s:>5} {kind:>9} "
                f"{res.duration_s:7.2f} {res.tests_s:7.2f}"
            )
    every = overheads["fresh"] + overheads["warm"]
    overhead = sum(every) / len(every)
    for kind, values in overheads.items():
        if values:
            print(f"agentlab overhead, {kind} container: {sum(values) / len(values):.2f} s "
                  f"per evaluation over {len(values)}")  # fmt: skip
    print(f"harness wall {h_wall:.1f} s, agentlab wall {a_wall:.1f} s")
    print(
        f"RESULT speedup_vs_harness={h_wall / a_wall:.2f} agree={agree}/{total} "
        f"overhead_s_per_eval={overhead:.2f}"
    )


if __name__ == "__main__":
    main()

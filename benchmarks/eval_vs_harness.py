"""The official SWE-bench harness vs agentlab's evaluator, same instances, same predictions.

Writes current-format instances for the bundled agentlab-mini (pytest and unittest repos; eval
scripts in the harness's shape), builds their images locally from the bundles and tags them
with the names the instances give, so neither side builds or pulls during the timed part.
Then grades the gold predictions twice at equal workers, on cached images:

- baseline: ``python -m swebench.harness.run_evaluation`` (needs ``agentlab[swebench]``);
- agentlab: the harness-exact evaluator (``--grading swebench`` path), fanned out with the
  same number of workers.

Prints a per-instance table (verdicts, wall seconds, test-command seconds) and ends with
``RESULT speedup_vs_harness=<harness wall / agentlab wall> agree=<n>/<total>
overhead_s_per_eval=<mean of agentlab's per-evaluation wall minus its test command's time>``.
``agree`` counts instances whose ``report.json`` is identical on both sides.

Run: python benchmarks/eval_vs_harness.py [--workers 2] [--instances 17]   (a few minutes)
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


def run_harness(instances: Path, preds: Path, workers: int, cwd: Path) -> tuple[float, dict]:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "swebench.harness.run_evaluation",
            "--dataset_name", str(instances), "--predictions_path", str(preds),
            "--run_id", "bench", "--max_workers", str(workers), "--timeout", "600",
            "--report_dir", str(cwd),
        ],
        cwd=cwd, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"harness failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    reports = {
        p.parent.name: json.loads(p.read_text())
        for p in (cwd / "logs/run_evaluation/bench/gold").glob("*/report.json")
    }
    return wall, reports


async def run_agentlab(
    data: Dataset, workers: int
) -> tuple[float, dict[str, dict[str, Any]], list[EvalResult]]:
    config = EvalConfig(run_id="bench-agentlab", strict=False, timeout=600)
    images = InstanceImages(_build, config, _present)
    backend = DockerBackend()
    gate = asyncio.Semaphore(workers)
    results: dict[str, EvalResult] = {}

    async def one(inst: Any) -> None:
        pred = Prediction(instance_id=inst.instance_id, model_name="gold", patch=inst.patch)
        async with gate:
            results[inst.instance_id] = await evaluate(backend, images, data, inst, pred, config)

    started = time.monotonic()
    async with asyncio.TaskGroup() as group:
        for inst in data.instances:
            group.create_task(one(inst))
    wall = time.monotonic() - started
    reports = {
        iid: grading.instance_report(iid, r.grade)
        for iid, r in results.items()
        if r.grade.outcome not in grading.UNGRADED
    }
    return wall, reports, [results[i.instance_id] for i in data.instances]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--instances", type=int, default=17)
    args = parser.parse_args()
    print(f"swebench {official.version()}; workers={args.workers}")
    with tempfile.TemporaryDirectory(prefix="eval-vs-harness-") as tmp:
        root = Path(tmp)
        instances, preds, data = prepare(root, args.instances)
        h_wall, theirs = run_harness(instances, preds, args.workers, root)
        a_wall, ours, results = asyncio.run(run_agentlab(data, args.workers))
    print(
        f"{'instance':34} {'harness':>9} {'agentlab':>9} {'same':>5} {'wall_s':>7} {'tests_s':>7}"
    )
    agree = 0
    overheads = []
    for inst, res in zip(data.instances, results, strict=True):
        iid = inst.instance_id
        h = theirs.get(iid, {}).get(iid, {}).get("resolved")
        a = ours.get(iid, {}).get(iid, {}).get("resolved")
        same = theirs.get(iid) == ours.get(iid)
        agree += same
        overheads.append(res.duration_s - res.tests_s)
        print(f"{iid:34} {h!s:>9} {a!s:>9} {same!s:>5} {res.duration_s:7.2f} {res.tests_s:7.2f}")
    speedup = h_wall / a_wall
    overhead = sum(overheads) / len(overheads)
    print(f"harness wall {h_wall:.1f} s, agentlab wall {a_wall:.1f} s")
    print(
        f"RESULT speedup_vs_harness={speedup:.2f} agree={agree}/{len(results)} "
        f"overhead_s_per_eval={overhead:.2f}"
    )


if __name__ == "__main__":
    main()

"""Side by side with the official harness (swebench 5.x, ``agentlab[swebench]``).

Current-format instances are written for bundled agentlab-mini instances (pytest and
unittest repos) with ``agentlab convert-instances``' eval scripts; their images are built
locally from the bundles and tagged with the names the instances give, so the harness finds
them and pulls nothing. The same predictions are graded by ``python -m
swebench.harness.run_evaluation`` and by agentlab (``--grading swebench``): every per-instance
``report.json`` and the run report's id lists must be identical. Strict mode, on the older
format, must agree on every well-behaved prediction.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentlab.coordinator.evaluation.swe import SWERun, run_swe
from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.store import open_store
from agentlab.store.eval_store import EvalStore
from agentlab.tasks import official
from agentlab.tasks.current import ROOT_NOTE
from agentlab.tasks.harness import EvalConfig, InstanceImages
from agentlab.tasks.instances import write_jsonl
from agentlab.tasks.swebench import Dataset, load_dataset
from tests.tasks.current_data import write_current_instances

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(not official.available(), reason="needs agentlab[swebench]"),
]

NAMESPACE = "agentlab-sbs"
CHOSEN = (
    "agentlab-mini__confini-1",
    "agentlab-mini__quantities-4",
    "agentlab-mini__spans-1",
    "agentlab-mini__spans-2",
    "agentlab-mini__tinytmpl-1",
)
# Summary keys whose values are id lists or counts the two must share exactly.
SHARED = (
    "total_instances",
    "completed_instances",
    "resolved_instances",
    "unresolved_instances",
    "empty_patch_instances",
    "error_instances",
    "completed_ids",
    "empty_patch_ids",
    "resolved_ids",
    "unresolved_ids",
    "error_ids",
    "infra_failure_ids",
    "ambiguous_failure_ids",
    "schema_version",
)


def _subset(data: Dataset) -> Dataset:
    keep = [i for i in data.instances if i.instance_id in CHOSEN]
    return Dataset(data.name, keep, data.specs, data.bundles, [])


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Current-format instances whose images exist locally under the names they give."""
    return write_current_instances(CHOSEN, NAMESPACE, tmp_path_factory.mktemp("sbs"))


def _predictions(tmp: Path) -> dict[str, Path]:
    mini = resolve_dataset("agentlab-mini")
    gold = {i.instance_id: i.patch for i in mini.instances}
    examples = Path(mini.bundles["agentlab-mini/spans"]).parents[1] / "examples"
    regress = _jsonl(examples / "predictions_regress.jsonl")
    malformed = _jsonl(examples / "predictions_malformed.jsonl")
    mixed = {
        "agentlab-mini__confini-1": "",
        "agentlab-mini__quantities-4": regress["agentlab-mini__quantities-4"],
        "agentlab-mini__spans-1": malformed.get("agentlab-mini__spans-1")
        or "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-nothing\n+here\n",
        "agentlab-mini__spans-2": gold["agentlab-mini__spans-2"],
        "agentlab-mini__tinytmpl-1": gold["agentlab-mini__tinytmpl-1"],
    }
    out = {}
    for model, patches in (("gold", {i: gold[i] for i in CHOSEN}), ("mixed", mixed)):
        path = tmp / f"{model}.jsonl"
        path.write_text(
            "".join(
                json.dumps({"instance_id": i, "model_name_or_path": model, "model_patch": p}) + "\n"
                for i, p in patches.items()
            )
        )
        out[model] = path
    return out


def _jsonl(path: Path) -> dict[str, str]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r["instance_id"]: r["model_patch"] for r in rows}


def _official(instances: Path, preds: Path, run_id: str, cwd: Path) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [
                sys.executable, "-m", "swebench.harness.run_evaluation",
                "--dataset_name", str(instances), "--predictions_path", str(preds),
                "--run_id", run_id, "--max_workers", "2", "--timeout", "300",
                "--report_dir", str(cwd),
            ],
            cwd=cwd, capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
    finally:  # a harness cut short leaves its sweb.eval.<instance>.<run id> containers running
        _remove_harness_containers(run_id)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    logs = list((cwd / "logs" / "run_evaluation" / run_id).glob("*/*/run_instance.log"))
    assert logs, done.stdout[-3000:]
    for log in logs:  # every image was found locally: nothing was pulled
        assert "attempting to pull" not in log.read_text(), log
    return _reports(cwd, run_id)


def _remove_harness_containers(run_id: str) -> None:
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"name=^sweb\\.eval\\..*\\.{run_id}$"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    ids = listed.stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


def _reports(root: Path, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path in (root / "logs" / "run_evaluation" / run_id).glob("*/*/report.json"):
        found[f"{path.parent.parent.name}/{path.parent.name}"] = json.loads(path.read_text())
    for path in root.glob(f"*.{run_id}.json"):
        found[path.name] = json.loads(path.read_text())
    return found


async def _agentlab(
    data: Dataset, preds: Path, run_id: str, root: Path, *, strict: bool
) -> dict[str, Any]:
    from agentlab.sandbox.docker import DockerBackend

    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    cfg = EvalConfig(run_id=run_id, timeout=300, strict=strict)
    store = open_store(f"sqlite:///{root / f'{run_id}.db'}")
    builder = ProviderImages()
    try:
        run = SWERun(data, str(preds), cfg, root, max_workers=2)
        await run_swe(run, DockerBackend(), InstanceImages(builder, cfg, builder.present),
                      EvalStore(store))  # fmt: skip
    finally:
        store.close()
    return _reports(root, run_id)


async def test_agentlab_reports_equal_the_official_harness(
    current: Path, tmp_path: Path, run_id: str
) -> None:
    preds = _predictions(tmp_path)
    data = load_dataset(current, offline=True)
    assert not data.problems and len(data.instances) == len(CHOSEN)
    for model, path in preds.items():
        theirs_root = tmp_path / f"harness-{model}"
        ours_root = tmp_path / f"agentlab-{model}"
        theirs_root.mkdir()
        ours_root.mkdir()
        theirs = _official(current, path, run_id, theirs_root)
        ours = await _agentlab(data, path, run_id, ours_root, strict=False)
        per_instance = sorted(k for k in theirs if "/" in k)
        assert per_instance == sorted(k for k in ours if "/" in k), model
        for key in per_instance:
            assert ours[key] == theirs[key], key
        (run_report,) = [k for k in theirs if "/" not in k]
        assert set(ours[run_report]) >= set(SHARED)
        for key in SHARED:
            assert ours[run_report][key] == theirs[run_report][key], (model, key)
    gold = _reports(tmp_path / "harness-gold", run_id)[f"gold.{run_id}.json"]
    assert gold["resolved_ids"] == sorted(CHOSEN)  # the comparison is not vacuous


async def test_strict_mode_agrees_on_well_behaved_predictions(
    current: Path, tmp_path: Path, run_id: str
) -> None:
    preds = _predictions(tmp_path)
    old = _subset(resolve_dataset("agentlab-mini"))
    for model, path in preds.items():
        (tmp_path / model).mkdir()
        harness = await _agentlab(
            load_dataset(current, offline=True), path, run_id + "-h", tmp_path / model, strict=False
        )
        strict = await _agentlab(old, path, run_id + "-s", tmp_path / model, strict=True)
        h = harness[f"{model}.{run_id}-h.json"]
        s = strict[f"{model}.{run_id}-s.json"]
        for key in ("resolved_ids", "unresolved_ids", "empty_patch_ids", "error_ids"):
            assert s[key] == h[key], (model, key)


def _activated(current: Path, tmp_path: Path) -> Path:
    activate = (
        "export PYTHONPATH=/opt/conda/envs/testbed/lib; export PYTEST_ADDOPTS='-q'; cd /; "
        "cd /testbed"
    )
    rows = [json.loads(line) for line in current.read_text().splitlines()]
    for row in rows:
        row["eval_script"] = row["eval_script"].replace("cd /testbed\n", activate + "\n", 1)
    path = tmp_path / "activated.jsonl"
    write_jsonl(rows, path)
    return path


def _graded_strictly(logs: Path, ids: list[str]) -> None:
    for iid in ids:
        run_log = (logs / iid / "run_instance.log").read_text()
        assert "grading: strict" in run_log.splitlines(), iid
        output = (logs / iid / "test_output.txt").read_text()
        assert ROOT_NOTE not in output, iid  # the tests ran as nobody
        assert (logs / iid / "test_results.txt").read_text().strip(), iid


async def test_strict_mode_on_current_format_survives_environment_activation(
    current: Path, tmp_path: Path, run_id: str
) -> None:
    """Official eval scripts activate a conda environment before the markers; the reporter's
    environment is exported after the start marker, so it survives. Simulated here by an
    activation that rewrites PYTHONPATH and PYTEST_ADDOPTS and changes directory."""
    data = load_dataset(_activated(current, tmp_path), offline=True)
    for model, path in _predictions(tmp_path).items():
        root = tmp_path / f"strict-{model}"
        strict = await _agentlab(data, path, run_id + f"-{model}", root, strict=True)
        harness = await _agentlab(data, path, run_id + f"-{model}h", root, strict=False)
        s = strict[f"{model}.{run_id}-{model}.json"]
        h = harness[f"{model}.{run_id}-{model}h.json"]
        for key in ("resolved_ids", "unresolved_ids", "empty_patch_ids", "error_ids"):
            assert s[key] == h[key], (model, key)
        logs = root / "logs" / "run_evaluation" / f"{run_id}-{model}" / model
        _graded_strictly(logs, s["completed_ids"])

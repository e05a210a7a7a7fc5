"""Acceptance on the bundled agentlab-mini: gold resolves all, empty none, the example
regressing prediction is not resolved and the malformed diff does not apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.coordinator.evaluation.swe import SWERun, run_swe
from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.store import open_store
from agentlab.store.eval_store import EvalStore
from agentlab.tasks.harness import EvalConfig, InstanceImages

pytestmark = pytest.mark.docker


async def _outcomes(predictions: str, tmp: Path, run_id: str) -> dict[str, str]:
    from agentlab.sandbox.docker import DockerBackend

    data = resolve_dataset("agentlab-mini")
    cfg = EvalConfig(run_id=run_id, timeout=300)
    store = open_store(f"sqlite:///{tmp / 'eval.db'}")
    try:
        run = SWERun(data, predictions, cfg, tmp / "reports", max_workers=2)
        await run_swe(run, DockerBackend(), InstanceImages(ProviderImages(), cfg), EvalStore(store))
        return {r.instance_id: r.outcome for r in await EvalStore(store).outcomes(run_id)}
    finally:
        store.close()


async def test_gold_resolves_every_instance(tmp_path: Path, base_image: str, run_id: str) -> None:
    outcomes = await _outcomes("gold", tmp_path, run_id)
    assert len(outcomes) >= 15
    assert set(outcomes.values()) == {"resolved"}


async def test_examples_regress_and_malformed(tmp_path: Path, base_image: str, run_id: str) -> None:
    from agentlab.datasets import dataset_path

    examples = dataset_path("agentlab-mini") / "examples"
    regress = await _outcomes(str(examples / "predictions_regress.jsonl"), tmp_path, run_id)
    assert set(regress.values()) == {"unresolved"}
    malformed = await _outcomes(
        str(examples / "predictions_malformed.jsonl"), tmp_path, run_id + "-m"
    )
    assert set(malformed.values()) == {"patch_failed"}


async def test_empty_patches_resolve_nothing(tmp_path: Path, base_image: str, run_id: str) -> None:
    import json

    data = resolve_dataset("agentlab-mini")
    preds = tmp_path / "empty.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"instance_id": i.instance_id, "model_name_or_path": "m", "model_patch": ""})
            + "\n"
            for i in data.instances
        )
    )
    outcomes = await _outcomes(str(preds), tmp_path, run_id)
    assert set(outcomes.values()) == {"empty_patch"}

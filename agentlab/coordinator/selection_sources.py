"""Pooling candidates for ``agentlab select``: other runs (``run:ID``) and predictions files."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agentlab.errors import ConfigError
from agentlab.scoring.diffs import patch_sha
from agentlab.store.scoring_store import ScoringStore, copy_run_candidates
from agentlab.tasks.predictions import Prediction, load_predictions
from agentlab.types import Candidate


async def import_sources(
    scoring: ScoringStore, run_id: str, sources: list[str], *, max_sample: int | None = None
) -> int:
    """Pool ``run:ID`` runs and predictions files into ``run_id``; returns candidates added.

    ``max_sample``: keep only samples with index below it (each source's first K samples).
    """
    added = 0
    for source in sources:
        if source.startswith("run:"):
            other = source.removeprefix("run:")
            if not await scoring.run_exists(other):
                raise ConfigError(f"--from {source}: no run {other!r} in the store")
            added += await copy_run_candidates(scoring, run_id, other, max_sample=max_sample)
            continue
        path = Path(source)
        by_model: dict[str, list[Candidate]] = {}
        for pred in await asyncio.to_thread(_read_predictions, path):
            if max_sample is not None and pred.sample >= max_sample:
                continue
            patch = pred.patch or ""
            sha = patch_sha(patch)
            item = Candidate(
                task_id=pred.instance_id, sample=pred.sample, patch=patch, patch_sha=sha
            )
            by_model.setdefault(pred.model_name, []).append(item)
        for model, items in by_model.items():
            added += await scoring.import_candidates(run_id, f"{path.name}:{model}", items)
    return added


def _read_predictions(path: Path) -> list[Prediction]:
    if not path.exists():
        raise ConfigError(f"--from {path}: not run:ID and no such predictions file")
    return load_predictions(path)

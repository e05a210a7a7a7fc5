"""``agentlab select --k K`` on pooled sources: only each source's samples with index < K are
imported (a real SQLite store, a predictions file and a stored run)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agentlab.coordinator.selection_sources import import_sources
from agentlab.store import open_store
from agentlab.store.scoring_store import ScoringStore
from agentlab.types import Candidate


def test_pooled_sources_keep_only_the_first_k_samples(tmp_path: Path) -> None:
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(
            json.dumps(
                {
                    "instance_id": "a__b-1",
                    "model_name_or_path": "m",
                    "model_patch": f"p{s}",
                    "sample": s,
                }
            )
            + "\n"
            for s in range(4)
        )
    )
    store = open_store(f"sqlite:///{tmp_path}/s.db")

    async def go() -> list[tuple[str, int]]:
        scoring = ScoringStore(store)
        await scoring.ensure_run("src", kind="run", name="src", config={})
        items = [
            Candidate(task_id="a__b-1", patch=f"q{s}", patch_sha=f"sha{s}", sample=s)
            for s in range(3)
        ]
        await scoring.import_candidates("src", "", items)
        await scoring.ensure_run("sel", kind="select", name="sel", config={})
        added = await import_sources(scoring, "sel", ["run:src", str(preds)], max_sample=2)
        assert added == 4
        return sorted((c.source, c.sample) for c in await scoring.candidates("sel"))

    try:
        got = asyncio.run(go())
    finally:
        store.close()
    assert got == [("preds.jsonl:m", 0), ("preds.jsonl:m", 1), ("run:src", 0), ("run:src", 1)]

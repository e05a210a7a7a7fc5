"""One candidate record through the store: a run's candidate in, selection's candidate out, and
imports between runs keeping what the candidate knows (on SQLite and Postgres)."""

from __future__ import annotations

import pytest

from agentlab.scoring.selector import Option
from agentlab.store import open_store
from agentlab.store.run_store import RunStore
from agentlab.store.scoring_store import ScoringStore, copy_run_candidates
from agentlab.types import Candidate


async def test_a_stored_candidate_comes_back_with_its_id_and_imports_keep_it(
    store_url: str,
) -> None:
    store = open_store(store_url)
    try:
        scoring = ScoringStore(store)
        for run in ("gen", "sel"):
            await scoring.ensure_run(run, kind="run", name=run, config={})
        made = Candidate(task_id="t1", sample=1, patch="p", patch_sha="s", test="x", usd=0.25)
        assert made.id is None
        await RunStore(store).save_candidate("gen", made)
        [back] = await scoring.candidates("gen")
        assert back.id is not None and back == made.model_copy(update={"id": back.id})

        graded = back.model_copy(update={"resolved": True, "status": "exhausted"})
        await scoring.import_candidates("sel", "file.jsonl:m", [graded])
        assert await copy_run_candidates(scoring, "sel", "gen") == 1
        assert await copy_run_candidates(scoring, "sel", "gen") == 0  # already imported
        pooled = await scoring.candidates("sel")
        assert [c.source for c in pooled] == ["file.jsonl:m", "run:gen"]
        assert len({c.id for c in pooled} | {back.id}) == 3  # new rows, new ids
        same = {"id": None, "source": ""}
        assert pooled[0].model_copy(update=same) == graded.model_copy(update=same)
        assert pooled[1].model_copy(update=same) == made
    finally:
        store.close()


def test_selection_names_only_stored_candidates() -> None:
    option = Option(Candidate(id=4, task_id="t", patch="p"), votes=2)
    assert (option.candidate_id, option.patch, option.votes) == (4, "p", 2)
    with pytest.raises(ValueError, match="not stored"):
        Option(Candidate(task_id="t", patch="p"), votes=2)

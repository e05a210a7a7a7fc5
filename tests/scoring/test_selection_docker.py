"""Voting, verifiers and the selection state machine over real sandboxes on agentlab-mini.

The pool (see ``pool.py``) holds the gold fix twice (as the same change written differently),
an off-by-two fix, a partial fix, a regressing fix and an empty patch; the generated tests are
right, wrong (one passes unpatched, one votes for the off-by-two fix) and flaky. Every result
is read back with SQL, as a user would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.coordinator.selection import Models, SelectionConfig, score_run
from agentlab.llm.scripted import Rule, ScriptedModel
from agentlab.scoring.llm import ModelRole
from agentlab.store import Store, open_store
from agentlab.store.scoring_store import ScoringStore
from agentlab.tasks.harness import EvalConfig, InstanceImages
from agentlab.types import CallContext, Candidate, ChatRequest, ChatResponse
from tests.scoring import pool

pytestmark = pytest.mark.docker


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    st = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        yield st
    finally:
        st.close()


async def _seed(scoring: ScoringStore, run_id: str) -> dict[str, int]:
    """The pool as candidates of a run; returns name -> candidate id."""
    dataset = resolve_dataset("agentlab-mini")
    gold = dataset.by_id()[pool.INSTANCE].patch
    await scoring.ensure_run(run_id, kind="run", name="pool", config={})
    members = pool.pool(gold)
    items = [
        Candidate(task_id=pool.INSTANCE, sample=i, patch=patch, test=test)
        for i, (patch, test) in enumerate(members.values())
    ]
    await scoring.import_candidates(run_id, "", items)
    rows = await scoring.candidates(run_id)
    by_sample = {r.sample: r.id for r in rows}
    return {name: by_sample[i] for i, name in enumerate(members)}  # type: ignore[misc]


def _role(model: ScriptedModel, role: str, run_id: str) -> ModelRole:
    async def generate(request: ChatRequest, _context: CallContext) -> ChatResponse:
        return await model.generate(request)

    return ModelRole(generate, "scripted", role, run_id=run_id)


async def _score(store: Store, run_id: str, models: Models, **config: Any) -> ScoringStore:
    from agentlab.sandbox.docker import DockerBackend

    eval_config = EvalConfig(run_id=run_id, timeout=120, memory_mb=512)
    scoring = ScoringStore(store)
    await score_run(
        scoring,
        run_id,
        resolve_dataset("agentlab-mini"),
        DockerBackend(),
        InstanceImages(ProviderImages(), eval_config),
        eval_config=eval_config,
        config=SelectionConfig(**{"sandboxes_per_problem": 1, **config}),
        models=models,
    )
    return scoring


def _sql(store: Store, query: str, **params: Any) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(text(query), params))


async def test_votes_prefer_the_correct_fix_and_selection_tells_apart(
    store: Store, run_id: str, base_image: str
) -> None:
    ids = await _seed(ScoringStore(store), run_id)
    chooser = ScriptedModel(
        [
            Rule(
                system="choosing the one correct patch",
                replies=(f"Let me check blank lines.\n```python\n{pool.DISTINGUISH}```", "PICK: 1"),
            ),
            Rule(
                system="You review a patch", user=r"start=1\)", replies=("Looks right.\nSCORE: 9",)
            ),
            Rule(system="You review a patch", replies=("Dubious.\nSCORE: 2",)),
            Rule(system="You compare two patches", replies=("WINNER: A",)),
        ]
    )
    models = Models(
        selection=_role(chooser, "selection", run_id),
        judge=_role(chooser, "verifier_judge", run_id),
        pairwise=_role(chooser, "verifier_pairwise", run_id),
    )
    await _score(store, run_id, models)

    # The same change written twice ran once: no test_vote row names the second copy.
    cells = _sql(store, "SELECT candidate_id FROM test_vote WHERE run_id = :r", r=run_id)
    assert ids["gold_same_change"] not in {c[0] for c in cells}
    assert ids["empty"] not in {c[0] for c in cells}
    # 5 distinct tests (the copy with a trailing newline is the same test) x (4 distinct
    # changes + 2 no-patch runs).
    assert len(cells) == 5 * 6
    tests = dict(
        _sql(
            store,
            "SELECT test_candidate_id, CASE WHEN flaky THEN 'flaky' WHEN valid THEN 'valid' "
            "ELSE 'no-repro' END FROM vote_test WHERE run_id = :r",
            r=run_id,
        )
    )
    assert tests[ids["empty"]] == "flaky"
    assert tests[ids["partial"]] == "no-repro"
    assert tests[ids["gold"]] == tests[ids["regress"]] == tests[ids["off_by_two"]] == "valid"
    votes = dict(
        _sql(store, "SELECT candidate_id, votes FROM candidate_vote WHERE run_id = :r", r=run_id)
    )
    assert votes[ids["gold"]] == votes[ids["gold_same_change"]] == votes[ids["regress"]] == 2
    assert votes[ids["partial"]] == votes[ids["off_by_two"]] == 1
    assert votes[ids["empty"]] == 0
    picks = dict(
        _sql(store, "SELECT method, candidate_id FROM selection WHERE run_id = :r", r=run_id)
    )
    # Tie on votes with the regressing fix: the shorter patch wins.
    assert picks["vote"] == ids["gold"]
    assert picks["trajectory"] == ids["gold"]
    assert picks["judge"] == ids["gold"]  # 9 for both start=1 fixes; the vote order breaks it
    # "A" always wins: with the seats swapped every candidate ties, and vote order breaks it.
    assert picks["tournament"] == ids["gold"]
    turns = _sql(
        store,
        "SELECT action, feedback FROM selection_turn WHERE run_id = :r ORDER BY step",
        r=run_id,
    )
    assert [t[0] for t in turns] == ["test", "pick"]
    assert "Candidate 1: exit code 0" in turns[0][1]
    assert "Candidate 2: exit code 1" in turns[0][1]
    assert "no longer ends a continuation" in turns[0][1]
    # Grading filled in the hidden-test outcome of every candidate.
    resolved = dict(_sql(store, "SELECT id, resolved FROM candidate WHERE run_id = :r", r=run_id))
    assert {c for c, ok in resolved.items() if ok} == {ids["gold"], ids["gold_same_change"]}
    judged = _sql(
        store,
        "SELECT count(*) FROM verifier_score WHERE run_id = :r AND method = 'judge'",
        r=run_id,
    )
    assert judged[0][0] == 3


async def test_bad_picks_fall_back_to_the_top_voted(
    store: Store, run_id: str, base_image: str
) -> None:
    ids = await _seed(ScoringStore(store), run_id)
    confused = ScriptedModel([Rule(replies=("PICK: 9",))])
    models = Models(selection=_role(confused, "selection", run_id))
    await _score(store, run_id, models, grade=False, top_m=2)
    row = _sql(
        store,
        "SELECT candidate_id, fallback, reason FROM selection "
        "WHERE run_id = :r AND method = 'trajectory'",
        r=run_id,
    )
    assert row[0][0] == ids["gold"] and row[0][1]
    assert "PICK 9 is not a candidate" in row[0][2]
    kept = _sql(store, "SELECT count(*) FROM candidate_vote WHERE run_id = :r AND kept", r=run_id)
    assert kept[0][0] == 2

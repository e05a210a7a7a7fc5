"""Adaptive allocation and the per-problem cap in a real run: the scripted model over real
HTTP, the real Docker engine, real SQLite."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlmodel import select

from agentlab.config import load_experiment
from agentlab.coordinator.display import summary_table
from agentlab.coordinator.kinds.swe_gold import (
    SYSTEM_EDITING,
    follow_up_rules,
    gold_rules,
    instance_rules,
)
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.coordinator.report import build_report
from agentlab.llm import ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.run_tables import CandidateRow, PolicyDecision, Trajectory
from agentlab.store.tables import LLMCall, Task
from agentlab.tasks.swebench import Dataset, SWEInstance
from tests.coordinator.conftest import assert_no_duplicates, snapshot, write_experiment

pytestmark = pytest.mark.docker

SOLVED = "agentlab-mini__confini-1"
UNSOLVED = "agentlab-mini__spans-1"


def _no_fix_edit(instance: SWEInstance) -> str:
    """A search/replace block that only adds a comment where the gold patch edits."""
    lines = instance.patch.splitlines()
    path = next(line[6:] for line in lines if line.startswith("+++ b/"))
    start = next(i for i, line in enumerate(lines) if line.startswith("@@"))
    search = []
    for line in lines[start + 1 :]:
        if line.startswith(("@@", "diff --git")):
            break
        if line.startswith((" ", "-")):
            search.append(line[1:])
    body = "\n".join(search)
    return f"{path}\n<<<<<<< SEARCH\n{body}\n=======\n{body}\n# looked here\n>>>>>>> REPLACE"


def half_solving_model(mini: Dataset) -> ScriptedModel:
    """Solves SOLVED with its gold patch; on UNSOLVED writes the right test, never a fix."""
    by_id = mini.by_id()
    bad = by_id[UNSOLVED]
    test_cmd = mini.spec_for(bad).test_cmd
    rules: list[Rule] = follow_up_rules()
    rules += instance_rules(by_id[SOLVED], mini.spec_for(by_id[SOLVED]).test_cmd)
    rules += instance_rules(bad, test_cmd)[:3]  # relevance, ranking, testing
    about = bad.problem_statement.strip()[:200]
    rules.append(
        Rule(system=SYSTEM_EDITING, user=f"(?s){re.escape(about)}", replies=(_no_fix_edit(bad),))
    )
    rules += gold_rules(mini, [])[-1:]  # every other file scores low
    return ScriptedModel(rules)


def _samples(store: Store, run_id: str) -> Counter[str]:
    rows = store.call(
        lambda s: s.exec(select(CandidateRow).where(CandidateRow.run_id == run_id)).all()
    )
    return Counter(r.task_id for r in rows)


def _decisions(store: Store, run_id: str) -> list[tuple[Any, ...]]:
    rows = store.call(
        lambda s: s.exec(
            select(PolicyDecision)
            .where(PolicyDecision.run_id == run_id)
            .order_by(PolicyDecision.round)  # type: ignore[arg-type]
        ).all()
    )
    return [(r.round, r.digest, r.items_json, r.stops_json, r.stop_all) for r in rows]


def _spend(store: Store, run_id: str) -> dict[str, float]:
    calls = store.call(lambda s: s.exec(select(LLMCall).where(LLMCall.run_id == run_id)).all())
    out: dict[str, float] = {}
    for c in calls:
        out[c.task_id] = out.get(c.task_id, 0.0) + c.usd
    return out


async def test_adaptive_stops_on_agreement_and_on_low_gain(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
) -> None:
    # With the test pricing a sample costs about $0.002 (the first, with the shared context
    # stage, about $0.0035): the unsolved problem's gain per dollar is about 49 after one
    # failure and 39 after two, the solved one's about 68; 44 separates them.
    policy = {"type": "adaptive", "min_agreement": 2, "threshold": 44.0, "sample_usd": 0.003}
    with ScriptedServer(half_solving_model(mini)) as server:
        path = write_experiment(
            tmp_path,
            server.base_url,
            [SOLVED, UNSOLVED],
            k=4,
            n=1,
            extra={"budget": {"policy": policy}},
        )
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store)
    assert outcome.status == "finished", outcome
    assert_no_duplicates(snapshot(store, run_id))
    assert _samples(store, run_id) == {SOLVED: 2, UNSOLVED: 2}
    candidates = snapshot(store, run_id)["candidates"]
    assert all(c[5] is True for c in candidates if c[0] == SOLVED)
    assert all(c[5] is False for c in candidates if c[0] == UNSOLVED)
    decisions = _decisions(store, run_id)
    stops: dict[str, str] = {}
    for row in decisions:
        stops.update(json.loads(row[3]))
    assert stops[SOLVED].startswith("agreement: 2 samples")
    assert stops[UNSOLVED].startswith("gain per dollar")
    assert decisions[-1][4] is True and json.loads(decisions[-1][2]) == []
    assert outcome.stopped == stops
    tasks = store.call(lambda s: s.exec(select(Task).where(Task.run_id == run_id)).all())
    assert {t.task_id: t.status for t in tasks} == {SOLVED: "done", UNSOLVED: "done"}
    report = await build_report(store, run_id, 4, cap_usd=None)
    assert report.policy == "adaptive" and report.samples == {SOLVED: 2, UNSOLVED: 2}
    assert report.saved_vs_uniform == 4
    console = Console(record=True, width=120)
    console.print(summary_table(report, "scripted-gold", outcome.status))
    text = console.export_text()
    assert "samples saved vs uniform k=4" in text and "2 / 2.0 / 2" in text


async def test_per_task_usd_caps_a_problem(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
) -> None:
    # The first sample (with the context stage) costs about $0.004; holding $0.011 per
    # sample, a $0.012 cap admits exactly one of the three samples that start together.
    # Each call also reserves its worst case (prompt bytes + max_tokens) against the
    # problem's child ledger, hence the room above the sample's real cost and one call at a
    # time.
    extra = {
        "budget": {"per_task_usd": 0.012, "sample_reserve_usd": 0.011},
        "models": {"default": {"endpoint": "scripted-http", "max_tokens": 256}},
        "concurrency": {"llm_calls": 1, "sandboxes": 2},
    }
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        path = write_experiment(tmp_path, server.base_url, [SOLVED], k=3, n=1, extra=extra)
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store)
    assert outcome.status == "finished", outcome
    assert 0 < _spend(store, run_id)[SOLVED] <= 0.012
    assert _samples(store, run_id) == {SOLVED: 1}
    trajs = store.call(
        lambda s: s.exec(select(Trajectory).where(Trajectory.run_id == run_id)).all()
    )
    capped = [t for t in trajs if t.status == "capped"]
    assert len(capped) == 2 and all("per_task_usd" in (t.error or "") for t in capped)
    task = store.call(lambda s: s.exec(select(Task).where(Task.run_id == run_id)).one())
    assert task.status == "capped" and "would pass the problem's cap" in (task.error or "")


async def test_adaptive_never_passes_the_hard_cap(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
) -> None:
    # Agreement never stops anything (4 of 4 needed); the cap fits about half the 8 samples.
    # Calls reserve their worst case (max_tokens of output), so few and short ones.
    policy = {"type": "adaptive", "min_agreement": 4, "sample_usd": 0.003}
    extra = {
        "budget": {"cap_usd": 0.016, "policy": policy},
        "models": {"default": {"endpoint": "scripted-http", "max_tokens": 1024}},
        # One call in flight: with two, how many reservations overlapped (and so how early the
        # cap refused calls) depended on timing, and a CI run finished no sample at all.
        "concurrency": {"llm_calls": 1, "sandboxes": 2},
    }
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        path = write_experiment(
            tmp_path, server.base_url, [SOLVED, UNSOLVED], k=4, n=1, extra=extra
        )
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store)
    assert outcome.status in ("finished", "budget_exhausted"), outcome
    assert 0 < sum(_spend(store, run_id).values()) <= 0.016
    assert 2 <= sum(_samples(store, run_id).values()) < 8
    assert_no_duplicates(snapshot(store, run_id))

"""``budget fit`` and ``budget plan`` say where each number comes from: measured on the pilot
(with the numbers a direct computation gives), or assumed (with value and origin)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from agentlab.budget.plan import Pilot, plan
from agentlab.budget.provenance import (
    ASSUMED_SELECTIONS,
    MeasuredSelection,
    fit_selection,
    plan_selections,
)
from agentlab.budget.simulate import SHAPES, simulate
from agentlab.cli import app
from agentlab.store import Store, open_store
from agentlab.store.run_tables import CandidateRow
from agentlab.store.scoring_store import ScoringStore
from agentlab.store.tables import Evaluation, LLMCall, Run

PROBLEMS, SAMPLES = 30, 6


def _populate(url: str) -> np.ndarray:
    """A pilot with graded samples, sampling and selection-stage model spend."""
    out = simulate(SHAPES["codemonkeys"], PROBLEMS, SAMPLES, seed=11)
    store = open_store(url)

    def add(session: Session) -> None:
        session.add(Run(id="pilot", kind="run"))
        session.flush()
        for i, j in np.ndindex(out.correct.shape):
            ok = bool(out.correct[i, j])
            task = f"t-{i:02d}"
            session.add(
                Evaluation(
                    run_id="pilot",
                    instance_id=task,
                    sample=j,
                    outcome="resolved" if ok else "unresolved",
                    resolved=ok,
                )
            )
            session.add(LLMCall(run_id="pilot", role="editing", task_id=task, sample=j, usd=0.25))
            session.add(
                CandidateRow(run_id="pilot", task_id=task, sample=j, patch=f"p{j}", resolved=ok)
            )
        session.add(LLMCall(run_id="pilot", role="verifier", task_id="t-00", usd=3.0))

    store.call(add)
    store.close()
    return out.correct


def _pick(store: Store, method: str, choose: object) -> None:
    """Store ``method``'s pick per problem: ``choose(rows)`` gives the picked row."""
    rows = store.call(
        lambda s: list(s.exec(select(CandidateRow).where(CandidateRow.run_id == "pilot")).all())
    )
    by_task: dict[str, list[CandidateRow]] = {}
    for r in rows:
        by_task.setdefault(r.task_id, []).append(r)
    scoring = ScoringStore(store)

    async def save() -> None:
        for task, group in by_task.items():
            chosen = choose(sorted(group, key=lambda r: r.sample))  # type: ignore[operator]
            await scoring.save_selection("pilot", task, method, chosen.id)

    asyncio.run(save())


def _text(args: list[str]) -> str:
    result = CliRunner().invoke(app, args, terminal_width=400)
    assert result.exit_code == 0, (result.output, result.exception)
    return " ".join(result.output.split())


def test_without_stored_selections_everything_else_is_labelled_assumed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    correct = _populate(url)
    fit = _text(["budget", "fit", "pilot", "--store", url])
    assert f"measured: run pilot (kind run), {PROBLEMS} problems x {SAMPLES} graded samples" in fit
    assert "state_machine, ASSUMED (not measured): efficiency 0.822@k=10" in fit
    assert "CodeMonkeys' published" in fit
    # measured pass@1 printed beside the prediction equals the matrix's mean.
    assert f"│ 1 │ {correct.mean():.3f} │" in fit

    planned = _text(["budget", "plan", "--pilot", "pilot", "--budget", "500", "--store", url])
    count = PROBLEMS * SAMPLES
    assert f"cost per sample: {0.25 * count / count:.4g} USD, MEASURED on run pilot" in planned
    assert "sampling LLM spend 45 USD" in planned  # the verifier's 3 USD is not sampling
    assert "selection vote: ASSUMED (not measured): efficiency 0.759@k=10" in planned
    assert "note: state_machine's efficiency is an ASSUMPTION" in planned
    assert "selection random: random pick: scores pass@1 by definition" in planned

    given = _text(
        [
            "budget",
            "plan",
            "--pilot",
            "pilot",
            "--budget",
            "500",
            "--store",
            url,
            "--usd-per-sample",
            "0.3",
            "--selection",
            "vote=0.9@4",
        ]
    )
    assert "0.3 USD, given by --usd-per-sample (ASSUMED, not measured)" in given
    assert "selection vote: ASSUMED (not measured): efficiency 0.900@k=4" in given
    assert "from --selection on the command line" in given
    assert "CodeMonkeys" not in given


def test_stored_picks_give_measured_efficiencies_that_the_plan_uses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    correct = _populate(url)
    store = open_store(url)
    try:
        _pick(store, "codet", lambda rows: next((r for r in rows if r.resolved), rows[0]))
        _pick(store, "judge", lambda rows: rows[-1])
    finally:
        store.close()
    coverage = correct.any(axis=1).mean()
    judge_selected = correct[:, -1].mean()
    fit = _text(["budget", "fit", "pilot", "--store", url])
    eff = judge_selected / coverage
    # The judge's pick is the run's final pick (report order), so fit shows it.
    assert (
        f"efficiency {eff:.3f}: judge, MEASURED on run pilot: selected {judge_selected:.3f} / "
        f"coverage {coverage:.3f} = {eff:.3f} over {PROBLEMS} problems at k={SAMPLES}"
    ) in fit
    planned = _text(["budget", "plan", "--pilot", "pilot", "--budget", "500", "--store", url])
    # codet picks a resolved candidate wherever one exists: efficiency exactly 1.
    assert f"selected {coverage:.3f} / coverage {coverage:.3f} = 1.000" in planned
    assert (
        f"selection judge: MEASURED on run pilot: selected {judge_selected:.3f} / coverage "
        f"{coverage:.3f} = {eff:.3f}"
    ) in planned
    assert f"cost {3.0 / PROBLEMS:.4g} USD/problem" in planned
    assert "selection codet: MEASURED on run pilot" in planned and "no model calls" in planned
    # The measured curves are what the plan optimised over: recompute it directly.
    sourced = plan_selections(
        [
            MeasuredSelection("codet", PROBLEMS, SAMPLES, coverage, coverage, 3.0),
            MeasuredSelection("judge", PROBLEMS, SAMPLES, coverage, judge_selected, 3.0),
        ],
        "pilot",
    )
    direct = plan(
        Pilot.from_final(correct, 0.25, selections=tuple(s.curve for s in sourced)), 500.0
    ).best
    assert f"k={direct.k} samples" in planned and f"selection={direct.method}" in planned
    assert f"predicted score {direct.predicted.point:.3f}" in planned


def test_plan_selections_rules() -> None:
    m = MeasuredSelection("vote", 10, 8, 0.5, 0.4, 0.0)
    sourced = plan_selections([m], "p")
    names = [s.curve.method for s in sourced]
    assert names == ["random", "vote", "state_machine"]  # the measured vote replaces the paper's
    assert sourced[1].measured and sourced[1].curve.efficiency == (pytest.approx(0.8),)
    assert not sourced[2].measured and sourced[2].curve == ASSUMED_SELECTIONS[1]
    eff, label = fit_selection([], "p")
    assert eff == pytest.approx(57.4 / 69.8) and label.startswith("state_machine, ASSUMED")

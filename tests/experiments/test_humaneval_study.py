"""The evidence study's script end to end, in its --smoke mode: the scripted model over real
HTTP-free in-process serving, the real Docker engine, a scratch SQLite store.

The numbers of a smoke run mean nothing (the scripted model answers with reference solutions);
what is checked is that every stage runs, resumes without repeating work, and writes its
tables, figures and RESULT line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.experiments.study import run_smoke

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _run(tmp_path: Path, *extra: str) -> str:
    return run_smoke("humaneval_study.py", tmp_path, "--orders", "2", *extra)


def test_smoke_study_runs_every_stage_and_resumes(tmp_path: Path) -> None:
    out = _run(tmp_path)
    result = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert len(result) == 1
    keys = {kv.split("=")[0] for kv in result[0].split()[1:]}
    assert keys == {
        "fit_error_points",
        "interval_hits",
        "adaptive_cost_ratio",
        "selected_minus_pass1",
    }
    text = (tmp_path / "out" / "results.md").read_text()
    for section in (
        "## a. Coverage",
        "## a2. Serial",
        "## b. Allocation",
        "## c. Selection",
        "### A verifier the small model can serve",
        "## d. Planning",
    ):
        assert section in text
    for figure in ("coverage.png", "serial_vs_parallel.png", "selection.png"):
        assert (tmp_path / "out" / figure).stat().st_size > 1000
    # The planned run executed under its cap and was selected (scripted answers all pass).
    assert "| score (vote) |" in text or "| score (random) |" in text
    # The judge re-selection ran once, its calls counted (8 samples: one k).
    verifier = text.split("### A verifier the small model can serve")[1]
    judge_row = next(line for line in verifier.splitlines() if line.startswith("| 8 |"))
    cells = judge_row.split("|")
    assert int(cells[6]) > 0 and 0.0 <= float(cells[4]) <= 1.0  # calls counted, a judge pick
    # A rerun starts no run (all are in the store) and runs nothing in a sandbox.
    again = _run(tmp_path, "--analyse-only")
    assert "$ agentlab run" not in again and "$ agentlab select" not in again
    assert again.splitlines()[-1] == result[0]

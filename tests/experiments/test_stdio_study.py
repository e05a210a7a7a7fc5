"""The stdin/stdout study's script end to end in its --smoke mode (the scripted model, the real
Docker engine, a scratch SQLite store): the run, the fit, re-selection at every k, the table,
the figure, and a rerun that repeats nothing. Its numbers mean nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.experiments.study import run_smoke

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _run(tmp_path: Path, *extra: str) -> str:
    return run_smoke("stdio_study.py", tmp_path, *extra)


def test_smoke_stdio_study_runs_and_resumes(tmp_path: Path) -> None:
    out = _run(tmp_path)
    text = (tmp_path / "out" / "results.md").read_text()
    # The scripted model answers with the reference programs: all solved, at every k.
    for k in (1, 2, 4):
        assert f"| {k} | 1.000 | 1.000 | 1.000 |" in text, text
    assert "$ agentlab select" in out
    assert (tmp_path / "out" / "stdio.png").stat().st_size > 1000
    again = _run(tmp_path, "--analyse-only")
    assert "$ agentlab" not in again

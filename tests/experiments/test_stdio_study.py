"""The stdin/stdout study's script end to end in its --smoke mode (the scripted model, the real
Docker engine, a scratch SQLite store): the run, the fit, re-selection at every k, the table,
the figure, and a rerun that repeats nothing. Its numbers mean nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "stdio_study.py"

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _run(tmp_path: Path, *extra: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--smoke",
            "--store",
            f"sqlite:///{tmp_path / 'study.db'}",
            "--out",
            str(tmp_path / "out"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


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

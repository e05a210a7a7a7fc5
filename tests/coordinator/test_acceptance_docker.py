"""Acceptance: `agentlab run configs/experiments/mini-scripted.yaml` (k=4, n=3, all of
agentlab-mini, the in-process scripted model) completes, and every trajectory and candidate
is queryable with `agentlab sql`. A few minutes on 2 cores, hence slow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _agentlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentlab", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )


def test_mini_scripted_run_completes_and_is_queryable(base_image: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/accept.db"
    done = _agentlab(
        "run", "configs/experiments/mini-scripted.yaml", "--run-id", "accept", "--store", url
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _agentlab(
        "sql",
        "--store",
        url,
        "--format",
        "json",
        "select t.task_id, t.sample, t.status, c.resolved from trajectory t join candidate c "
        "on c.run_id = t.run_id and c.task_id = t.task_id and c.sample = t.sample "
        "where t.run_id = 'accept'",
    )
    assert rows.returncode == 0, rows.stderr
    data = json.loads(rows.stdout)
    assert len(data) == 17 * 4
    assert {r["status"] for r in data} == {"done"}
    assert all(r["resolved"] in (True, 1) for r in data)

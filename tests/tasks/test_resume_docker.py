"""Kill ``agentlab eval`` mid-run, re-run the same run id: each prediction evaluated once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentlab.sandbox.docker import gc
from tests.tasks import toy

pytestmark = pytest.mark.docker


def _rows(db: Path) -> list[tuple[int, str, str]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT id, model_name, outcome FROM evaluation").fetchall()
        except sqlite3.OperationalError:
            return []


def _eval(data: Path, preds: Path, db: Path, tmp: Path, run_id: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "agentlab", "eval", "--dataset", str(data), "--predictions",
        str(preds), "--run-id", run_id, "--max-workers", "1", "--store", f"sqlite:///{db}",
        "--report-dir", str(tmp / "reports"),
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_killed_run_resumes_and_evaluates_each_prediction_once(
    tmp_path: Path,
    base_image: str,
    run_id: str,
    sig: signal.Signals,
    containers_of: Callable[[str], list[str]],
) -> None:
    data = toy.build(tmp_path)
    models = [f"m{i}" for i in range(6)]
    preds = tmp_path / "preds.json"  # the dict-by-id shape takes one per id; use a list
    preds.write_text(
        json.dumps(
            [
                {"instance_id": toy.INSTANCE_ID, "model_name_or_path": m, "model_patch": toy.GOLD}
                for m in models
            ]
        )
    )
    db = tmp_path / "eval.db"
    first = _eval(data, preds, db, tmp_path, run_id)
    deadline = time.monotonic() + 240
    while len(_rows(db)) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert first.poll() is None, "the run ended before it could be interrupted"
    os.kill(first.pid, sig)
    first.wait(timeout=60)
    before = {r[1]: r[0] for r in _rows(db)}
    assert 2 <= len(before) < len(models)
    # A SIGKILLed run leaves its container behind (no cleanup can run): the re-run must not
    # care, and gc must find it by its dead owner. After a SIGINT nothing is left at all.
    if sig == signal.SIGINT:
        assert containers_of(run_id) == []
    second = _eval(data, preds, db, tmp_path, run_id)
    _, err = second.communicate(timeout=300)
    assert gc(run_id=run_id) == [] or sig == signal.SIGKILL
    assert second.returncode == 0, err.decode()
    after = _rows(db)
    assert sorted(r[1] for r in after) == models  # one row per prediction
    assert all(r[2] == "resolved" for r in after)
    # Finished rows from the first run were kept, not evaluated again.
    assert {r[1]: r[0] for r in after if r[1] in before} == before

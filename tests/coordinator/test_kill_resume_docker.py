"""A run killed with SIGKILL at random points and resumed ends exactly where an uninterrupted
run does, with no duplicate rows. `agentlab run` runs as a real subprocess."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentlab.config import load_experiment
from agentlab.coordinator.kinds.swe_gold import gold_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store, open_store
from agentlab.store.tables import Run
from agentlab.tasks.swebench import Dataset
from tests.coordinator.conftest import assert_no_duplicates, snapshot, write_experiment

pytestmark = pytest.mark.docker

TASKS = ["agentlab-mini__confini-3", "agentlab-mini__tinytmpl-1"]
KILLS = 3


def _cli(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agentlab", "run", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_sigkill_at_random_points_then_resume_matches_uninterrupted_run(
    base_image: str, docker_backend: object, mini: Dataset, store: Store, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("AGENTLAB_TEST_SEED", "5")))
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        path = write_experiment(tmp_path, server.base_url, TASKS, k=2, n=2)
        started = time.monotonic()
        baseline_id = "baseline-" + os.urandom(4).hex()
        request = new_request(load_experiment(path), path, baseline_id)
        outcome = await run_pipeline(request, store)
        took = time.monotonic() - started
        assert outcome.status == "finished"
        expected = snapshot(store, baseline_id)
        assert all(c[5] is True for c in expected["candidates"])
        url = f"sqlite:///{tmp_path}/killed.db"
        mid_run = 0
        open_store(url).close()  # the schema exists before anyone polls it
        for attempt in range(KILLS):
            run_id = f"killed-{attempt}-" + os.urandom(4).hex()
            proc = _cli(str(path), "--run-id", run_id, "--store", url, cwd=tmp_path)
            # A kill point anywhere in the run, once it has a run row to resume.
            for _ in range(600):
                if proc.poll() is not None or _status(url, run_id) is not None:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(rng.uniform(0.0, took))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            mid_run += _status(url, run_id) == "running"
            resumed = _cli("--resume", run_id, "--store", url, cwd=tmp_path)
            _, err = await asyncio.to_thread(resumed.communicate, timeout=600)
            assert resumed.returncode == 0, err.decode()[-2000:]
            killed_store = open_store(url)
            try:
                got = snapshot(killed_store, run_id)
            finally:
                killed_store.close()
            assert_no_duplicates(got)
            assert got == expected, f"kill point {attempt} differs"
    assert mid_run >= 1, "no kill landed while the run was working"


def _status(url: str, run_id: str) -> str | None:
    st = open_store(url)
    try:
        run = st.call(lambda s: s.get(Run, run_id))
        return None if run is None else run.status
    finally:
        st.close()

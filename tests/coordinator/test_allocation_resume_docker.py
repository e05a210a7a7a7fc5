"""An adaptive run killed with SIGKILL and resumed makes the same decisions and ends in the
same state as an uninterrupted one. `agentlab run` runs as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from agentlab.config import load_experiment
from agentlab.coordinator.kinds.swe_gold import gold_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store, open_store
from agentlab.store.run_tables import PolicyDecision
from agentlab.store.tables import Run
from agentlab.tasks.swebench import Dataset
from tests.coordinator.conftest import assert_no_duplicates, snapshot, write_experiment

pytestmark = pytest.mark.docker

TASKS = ["agentlab-mini__confini-3", "agentlab-mini__tinytmpl-1"]
KILLS = 2
POLICY = {"type": "adaptive", "min_agreement": 2, "sample_usd": 0.003}


def _cli(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agentlab", "run", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _decisions(store: Store, run_id: str) -> list[tuple[Any, ...]]:
    rows = store.call(
        lambda s: s.exec(select(PolicyDecision).where(PolicyDecision.run_id == run_id)).all()
    )
    return sorted(
        (r.round, json.loads(r.items_json), json.loads(r.stops_json), r.stop_all) for r in rows
    )


def _state(url: str, run_id: str) -> tuple[str | None, dict[str, list[Any]], list[Any]]:
    st = open_store(url)
    try:
        run = st.call(lambda s: s.get(Run, run_id))
        return (
            None if run is None else run.status,
            snapshot(st, run_id),
            _decisions(st, run_id),
        )
    finally:
        st.close()


async def test_sigkill_then_resume_under_adaptive_policy_matches_uninterrupted_run(
    base_image: str, docker_backend: object, mini: Dataset, store: Store, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("AGENTLAB_TEST_SEED", "7")))
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        path = write_experiment(
            tmp_path, server.base_url, TASKS, k=3, n=1, extra={"budget": {"policy": POLICY}}
        )
        started = time.monotonic()
        baseline_id = "baseline-" + os.urandom(4).hex()
        request = new_request(load_experiment(path), path, baseline_id)
        outcome = await run_pipeline(request, store)
        took = time.monotonic() - started
        assert outcome.status == "finished"
        expected = snapshot(store, baseline_id)
        decisions = _decisions(store, baseline_id)
        # Each problem stops after two agreeing samples: three rounds, the last one empty.
        assert [len(d[1]) for d in decisions] == [2, 2, 0] and decisions[-1][3] is True
        assert len(expected["candidates"]) == 4
        url = f"sqlite:///{tmp_path}/killed.db"
        open_store(url).close()  # the schema exists before anyone polls it
        mid_run = 0
        for attempt in range(KILLS):
            run_id = f"killed-{attempt}-" + os.urandom(4).hex()
            proc = _cli(str(path), "--run-id", run_id, "--store", url, cwd=tmp_path)
            for _ in range(600):
                if proc.poll() is not None or _state(url, run_id)[0] is not None:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(rng.uniform(0.0, took))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            mid_run += _state(url, run_id)[0] == "running"
            resumed = _cli("--resume", run_id, "--store", url, cwd=tmp_path)
            _, err = await asyncio.to_thread(resumed.communicate, timeout=600)
            assert resumed.returncode == 0, err.decode()[-2000:]
            status, got, got_decisions = _state(url, run_id)
            assert status == "finished"
            assert_no_duplicates(got)
            assert got == expected, f"kill point {attempt} differs"
            assert got_decisions == decisions, f"kill point {attempt} decided differently"
    assert mid_run >= 1, "no kill landed while the run was working"

"""Helpers for run tests: experiment files pointing at a scripted server over real HTTP,
and snapshots of what a run stored (for comparing runs and finding duplicate rows)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select

from agentlab.config import DatasetConfig
from agentlab.coordinator.kinds.swe_data import load_swe
from agentlab.store import Store, open_store
from agentlab.store.run_tables import CandidateRow, Trajectory, Turn
from agentlab.tasks.swebench import Dataset

FAST_RETRY = {"max_attempts": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.02}


@pytest.fixture(autouse=True)
def scripted_pricing(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A pricing table for the scripted endpoint, found through AGENTLAB_PRICING (subprocesses
    inherit it): a real endpoint type is never run unpriced."""
    path = tmp_path_factory.mktemp("pricing") / "pricing.yaml"
    path.write_text(
        "version: test\nmodels:\n  scripted-gold:\n    kind: api\n"
        "    input_per_mtok: 1.0\n    output_per_mtok: 2.0\n"
    )
    monkeypatch.setenv("AGENTLAB_PRICING", str(path))
    return path


@pytest.fixture(scope="session")
def mini() -> Dataset:
    return load_swe(DatasetConfig(name="agentlab-mini"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path}/runs.db")
    try:
        yield st
    finally:
        st.close()


def write_experiment(
    folder: Path,
    base_url: str,
    instances: list[str],
    *,
    k: int = 2,
    n: int = 2,
    store: str = "",
    dataset: str = "agentlab-mini",
    extra: dict[str, Any] | None = None,
) -> Path:
    """An endpoint file for the scripted server and an experiment using it for every role."""
    (folder / "endpoints.yaml").write_text(
        yaml.safe_dump(
            [
                {
                    "type": "openai",
                    "name": "scripted-http",
                    "model": "scripted-gold",
                    "base_url": base_url,
                    "retry": FAST_RETRY,
                    "timeout_s": 30,
                }
            ]
        )
    )
    experiment: dict[str, Any] = {
        "run_name": "test-run",
        "dataset": {"name": dataset, "instances": instances},
        "endpoints": "endpoints.yaml",
        "models": {"default": {"endpoint": "scripted-http", "temperature": 0.0}},
        "sampling": {"k": k, "n": n, "test_attempts": 2, "format_fixes": 2},
        "context": {"token_budget": 4000},
        "concurrency": {"llm_calls": 8, "sandboxes": 2},
        "store": store or f"sqlite:///{folder}/runs.db",
        **(extra or {}),
    }
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment))
    return path


def snapshot(store: Store, run_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a run stored, without timings: comparable between two runs of the same script."""

    def read(session: Any) -> dict[str, list[tuple[Any, ...]]]:
        turns = session.exec(select(Turn).where(Turn.run_id == run_id)).all()
        trajs = session.exec(select(Trajectory).where(Trajectory.run_id == run_id)).all()
        cands = session.exec(select(CandidateRow).where(CandidateRow.run_id == run_id)).all()
        return {
            "turns": sorted((t.task_id, t.sample, t.stage, t.step, t.action) for t in turns),
            "trajectories": sorted((t.task_id, t.sample, t.stage, t.status) for t in trajs),
            "candidates": sorted(
                (c.task_id, c.sample, c.patch_sha, c.test or "", c.status, c.resolved)
                for c in cands
            ),
        }

    return store.call(read)


def assert_no_duplicates(snap: dict[str, list[tuple[Any, ...]]]) -> None:
    turn_keys = [t[:4] for t in snap["turns"]]
    assert len(turn_keys) == len(set(turn_keys)), "a step was stored twice"
    traj_keys = [t[:2] for t in snap["trajectories"]]
    assert len(traj_keys) == len(set(traj_keys))
    cand_keys = [c[:2] for c in snap["candidates"]]
    assert len(cand_keys) == len(set(cand_keys))


def agentlab_cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``python -m agentlab ARGS`` from the repository root, as a user runs it; output kept."""
    return subprocess.run(
        [sys.executable, "-m", "agentlab", *args],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=timeout,
    )

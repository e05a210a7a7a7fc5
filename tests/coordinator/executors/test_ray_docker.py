"""The Ray executor on a real multi-node Ray cluster started on this machine (loopback only),
the real Postgres store, the real Docker engine and the scripted model over real HTTP."""

from __future__ import annotations

import os

# Before Ray is imported: keep every Ray address on the loopback interface.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster
from sqlmodel import select

from agentlab.config import load_experiment
from agentlab.coordinator.env import NoProgress
from agentlab.coordinator.launch import new_request, resumed_request, run_pipeline
from agentlab.errors import ConfigError
from agentlab.llm import ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store, open_store
from agentlab.store.tables import LLMCall, Run
from agentlab.tasks import stdio
from tests.coordinator.conftest import assert_no_duplicates, snapshot, write_experiment
from tests.store.conftest import _fresh_postgres

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.postgres]

PROBLEMS = stdio.load_problems(stdio.BUNDLED["agentlab-stdio"])
SUM, PARITY = "agentlab-stdio/sum-two", "agentlab-stdio/parity"
LOOPBACK = "127.0.0.1"
SLOTS = 2  # sandbox slots each node advertises


def _model(latency_s: float = 0.0) -> ScriptedModel:
    """sum-two: right at once; parity: wrong first, fixed once shown the failing example."""
    swapped = 'print("odd" if int(input()) % 2 == 0 else "even")\n'
    asked = {t: PROBLEMS[t].statement.strip()[:200] for t in (SUM, PARITY)}
    import re

    return ScriptedModel(
        [
            Rule(
                user=r"failed example 1 \(wrong answer\)",
                replies=(f"```python\n{PROBLEMS[PARITY].reference}```",),
            ),
            Rule(user=re.escape(asked[SUM]), replies=(f"```python\n{PROBLEMS[SUM].reference}```",)),
            Rule(user=re.escape(asked[PARITY]), replies=(f"```python\n{swapped}```",)),
        ],
        latency_s=latency_s,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Cluster, list[Any]]]:
    """A head and two worker nodes, each advertising SLOTS sandbox slots, on 127.0.0.1."""
    node = {"num_cpus": 1, "node_ip_address": LOOPBACK, "resources": {"sandbox": SLOTS}}
    c = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    workers = [c.add_node(**node) for _ in range(2)]
    c.wait_for_nodes()
    ray.init(
        address=c.address,
        _node_ip_address=LOOPBACK,
        include_dashboard=False,
        log_to_driver=False,
    )
    try:
        yield c, workers
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.fixture
def lite_store(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """The local executor's run goes to its own store: a shared one would answer the Ray run
    from the response cache, at no cost."""
    url = f"sqlite:///{tmp_path}/local.db"
    st = open_store(url)
    try:
        yield url, st
    finally:
        st.close()


@pytest.fixture
def pg_store() -> Iterator[tuple[str, Store]]:
    for url in _fresh_postgres():
        st = open_store(url)
        try:
            yield url, st
        finally:
            st.close()


def _run(
    tmp: Path, base_url: str, url: str, store: Store, run_id: str, executor: Any, **extra: Any
) -> Any:
    tmp.mkdir(exist_ok=True)
    path = write_experiment(
        tmp,
        base_url,
        [SUM, PARITY],
        k=3,
        n=2,
        store=url,
        dataset="agentlab-stdio",
        extra={"executor": executor, **extra},
    )
    return new_request(load_experiment(path), path, run_id)


class Notes(NoProgress):
    """Progress that keeps the notes (what the executor said about lost work)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        self.lines.append(text)


def _spent(store: Store, run_id: str) -> tuple[float, float]:
    """(the run row's spend, the sum of its llm_call rows)."""

    def read(s: Any) -> tuple[float, float]:
        run = s.exec(select(Run).where(Run.id == run_id)).one()
        calls = s.exec(select(LLMCall).where(LLMCall.run_id == run_id)).all()
        return float(run.spent_usd), sum(c.usd for c in calls)

    return store.call(read)


async def test_three_nodes_equal_the_local_executor_row_for_row(
    base_image: str,
    docker_backend: object,
    cluster: tuple[Cluster, list[Any]],
    pg_store: tuple[str, Store],
    lite_store: tuple[str, Store],
    tmp_path: Path,
    containers_of: Callable[[str], list[str]],
) -> None:
    url, store = pg_store
    lite_url, lite = lite_store
    with ScriptedServer(_model()) as server:
        local = _run(tmp_path / "l", server.base_url, lite_url, lite, "run-ray", "local")
        spread = _run(tmp_path / "r", server.base_url, url, store, "run-ray", {"type": "ray"})
        out_local = await run_pipeline(local, lite)
        out_ray = await run_pipeline(spread, store)
    assert out_local.status == out_ray.status == "finished", (out_local, out_ray)
    a, b = snapshot(lite, "run-ray"), snapshot(store, "run-ray")
    assert_no_duplicates(b)
    assert a == b
    assert len(b["candidates"]) == 6 and all(c[5] is True for c in b["candidates"])
    spent_local, spent_ray = _spent(lite, "run-ray"), _spent(store, "run-ray")
    assert spent_ray == pytest.approx(spent_local) and spent_ray[0] > 0
    assert spent_ray[0] == pytest.approx(spent_ray[1])
    assert containers_of("run-ray") == []


async def test_sqlite_refuses_the_ray_executor(
    base_image: str,
    docker_backend: object,
    cluster: tuple[Cluster, list[Any]],
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    store = open_store(url)
    try:
        with ScriptedServer(_model()) as server:
            request = _run(tmp_path, server.base_url, url, store, "run-lite", "ray")
            with pytest.raises(ConfigError, match="executor: ray needs a store"):
                await run_pipeline(request, store)
    finally:
        store.close()


async def test_a_lost_node_loses_and_doubles_nothing_and_resume_finishes(
    base_image: str,
    docker_backend: object,
    cluster: tuple[Cluster, list[Any]],
    pg_store: tuple[str, Store],
    lite_store: tuple[str, Store],
    tmp_path: Path,
    containers_of: Callable[[str], list[str]],
) -> None:
    c, workers = cluster
    url, store = pg_store
    lite_url, lite = lite_store
    cap = 1.0
    with ScriptedServer(_model()) as server:
        local = _run(tmp_path / "l", server.base_url, lite_url, lite, "run-lost", "local")
        done = await run_pipeline(local, lite)
    assert done.status == "finished"
    expected = snapshot(lite, "run-lost")
    with ScriptedServer(_model(latency_s=1.0)) as server:
        request = _run(
            tmp_path / "r",
            server.base_url,
            url,
            store,
            "run-lost",
            "ray",
            budget={"cap_usd": cap},
        )
        # Lose a worker node once the cluster is busy (some model requests seen).
        seen = threading.Event()

        def watch() -> None:
            while not seen.wait(0.2):
                if len(server.requests) >= 3:
                    c.remove_node(workers.pop())
                    seen.set()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        notes = Notes()
        try:
            first = await run_pipeline(request, store, progress=notes)
        finally:
            seen.set()
            watcher.join()
        again = resumed_request(store, "run-lost")
        second = await run_pipeline(again, store)
    assert first.status in {"finished", "budget_exhausted"}
    # Six items on six slots over three nodes: the lost node had items in flight, and the
    # driver re-dispatched them (Ray's own retries are off).
    assert any("NodeDied" in n or "WorkerCrashed" in n or "ActorDied" in n for n in notes.lines), (
        notes.lines
    )
    assert second.status == "finished", second
    got = snapshot(store, "run-lost")
    assert_no_duplicates(got)
    assert got == expected
    spent, billed = _spent(store, "run-lost")
    # Reservations of the lost node are charged in full: the ledger never counts less than
    # the calls the store saw, and never more than the cap.
    assert billed <= spent + 1e-9 and spent <= cap
    assert containers_of("run-lost") == []


async def test_gc_cluster_reaches_every_node(
    docker_backend: Any,
    spec: Any,
    run_id: str,
    cluster: tuple[Cluster, list[Any]],
    containers_of: Callable[[str], list[str]],
) -> None:
    from agentlab.coordinator.executors.ray import gc_cluster

    async with docker_backend.open(spec):
        assert len(containers_of(run_id)) == 1
        live = gc_cluster(run_id)  # its owner (this process) is alive: kept
        assert containers_of(run_id) and not any(live.values())
        with pytest.raises(ConfigError, match="needs --run-id"):
            gc_cluster(None, everything=True)
        removed = gc_cluster(run_id, everything=True)
        assert len(removed) == len([n for n in ray.nodes() if n["Alive"]])
        # Every node here shares one engine, so more than one node may report the removal.
        assert len({n for names in removed.values() for n in names}) == 1
        assert containers_of(run_id) == []

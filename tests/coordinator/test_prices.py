"""A self-hosted endpoint priced from its stored throughput profile.

The profile is made by ``agentlab budget profile`` against the scripted OpenAI-compatible
server over real HTTP into a real SQLite store; the run's wiring then reads it back and bills
a real call with it. Nothing here compares against wall-clock figures: the expected price is
computed from whatever the profile measured.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlmodel import select
from typer.testing import CliRunner

from agentlab.cli import app
from agentlab.config import load_experiment
from agentlab.coordinator.launch import run_prices
from agentlab.coordinator.models import load_endpoint_configs, open_models
from agentlab.coordinator.prices import (
    endpoint_concurrency,
    resolve_price,
    store_profiles,
    stored_prices,
)
from agentlab.errors import ConfigError
from agentlab.llm import ScriptedModel, load_pricing
from agentlab.llm.pricing import GpuPrice, Rate, rate_at
from agentlab.llm.profile import LevelResult
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store, open_store
from agentlab.store.llm_log import StoreCallRecorder
from agentlab.store.profile_store import endpoint_prices, read_profile, save_profile
from agentlab.store.tables import LLMCall, Run
from agentlab.types import CallContext, Message

REPLY = " ".join(f"w{i}" for i in range(20))
GPU_HOUR_USD = 2.0
FALLBACK_TPS = 7.0  # pricing.yaml's hand-written number: only used without a profile


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(ScriptedModel(default=REPLY), latency_s=0.05) as srv:
        yield srv


def _files(folder: Path, base_url: str, *, llm_calls: int, from_profile: bool = True) -> Path:
    (folder / "endpoints.yaml").write_text(
        yaml.safe_dump(
            [
                {
                    "type": "openai",
                    "name": "gpu-box",
                    "model": "coder-7b",
                    "base_url": base_url,
                    "retry": {"max_attempts": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.02},
                }
            ]
        )
    )
    entry = {"kind": "gpu", "gpu_hour_usd": GPU_HOUR_USD, "gpus": 1, "tokens_per_s": FALLBACK_TPS}
    if not from_profile:
        entry["from_profile"] = False
    (folder / "pricing.yaml").write_text(
        yaml.safe_dump({"version": "test", "models": {"coder-7b": entry}})
    )
    experiment = {
        "run_name": "priced",
        "dataset": {"name": "agentlab-mini"},
        "endpoints": "endpoints.yaml",
        "models": {"default": {"endpoint": "gpu-box"}},
        "concurrency": {"llm_calls": llm_calls},
    }
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment))
    return path


@pytest.fixture
def profiled(server: ScriptedServer, tmp_path: Path) -> tuple[str, Store]:
    """A store holding one profile of gpu-box (levels 1 and 4), made by the CLI."""
    _files(tmp_path, server.base_url, llm_calls=1)
    url = f"sqlite:///{tmp_path}/store.db"
    done = subprocess.run(
        [
            sys.executable, "-m", "agentlab", "budget", "profile",
            str(tmp_path / "endpoints.yaml"), "--levels", "1,4", "--requests-per-level", "8",
            "--max-tokens", "64", "--store", url,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "now bill gpu-box (coder-7b) from this profile" in " ".join(done.stdout.split())
    store = open_store(url)
    profile_run = store.call(lambda s: s.exec(select(Run.id).where(Run.kind == "profile")).one())
    return profile_run, store


def _levels(store: Store, run_id: str) -> dict[int, float]:
    return {r.concurrency: r.tokens_per_s for r in read_profile(store, run_id)}


async def _one_priced_call(
    folder: Path,
    base_url: str,
    store: Store,
    run_id: str,
    *,
    llm_calls: int,
    from_profile: bool = True,
) -> LLMCall:
    """Resolve and record the run's prices as ``agentlab run`` does; make one call."""
    path = _files(folder, base_url, llm_calls=llm_calls, from_profile=from_profile)
    config = load_experiment(path)
    endpoints = load_endpoint_configs(config, folder)
    store.call(lambda s: s.add(Run(id=run_id, kind="run")))
    prices = run_prices(config, endpoints, store, run_id, folder / "pricing.yaml")
    async with open_models(
        config,
        endpoints,
        pricing=folder / "pricing.yaml",
        spent_usd=0.0,
        cache=None,
        recorder=StoreCallRecorder(store),
        prices={n: p.price for n, p in prices.items()},
    ) as models:
        chat = models.chat("editing", CallContext(run_id=run_id, task_id="t1"))
        await chat([Message(role="user", content="write add")], stage="editing", step=0)
    return store.call(lambda s: s.exec(select(LLMCall).where(LLMCall.run_id == run_id)).one())


async def test_a_run_is_billed_at_the_profiled_rate_for_its_concurrency(
    server: ScriptedServer, profiled: tuple[str, Store], tmp_path: Path
) -> None:
    profile_run, store = profiled
    levels = _levels(store, profile_run)
    assert set(levels) == {1, 4} and all(v > 0 for v in levels.values())
    for run_id, llm_calls, level in (("run-c4", 4, 4), ("run-c3", 3, 1), ("run-c16", 16, 4)):
        call = await _one_priced_call(tmp_path, server.base_url, store, run_id, llm_calls=llm_calls)
        tokens = call.prompt_tokens + call.completion_tokens
        assert tokens > 0
        assert call.usd == pytest.approx(tokens / levels[level] * GPU_HOUR_USD / 3600)
        [row] = endpoint_prices(store, run_id)
        assert (row.source, row.profile_run_id, row.level) == ("profile", profile_run, level)
        assert row.concurrency == llm_calls and row.tokens_per_s == pytest.approx(levels[level])
        assert f"price from profile {profile_run} at concurrency {llm_calls}" in row.note
    store.close()


async def test_from_profile_false_keeps_the_hand_written_rate(
    server: ScriptedServer, profiled: tuple[str, Store], tmp_path: Path
) -> None:
    _, store = profiled
    call = await _one_priced_call(
        tmp_path, server.base_url, store, "run-fixed", llm_calls=4, from_profile=False
    )
    tokens = call.prompt_tokens + call.completion_tokens
    assert call.usd == pytest.approx(tokens / FALLBACK_TPS * GPU_HOUR_USD / 3600)
    [row] = endpoint_prices(store, "run-fixed")
    assert row.source == "pricing.yaml" and "from_profile: false" in row.note
    store.close()


def test_only_the_same_endpoint_and_model_feed_the_price(
    server: ScriptedServer, profiled: tuple[str, Store], tmp_path: Path
) -> None:
    _, store = profiled
    table = load_pricing(tmp_path / "pricing.yaml")
    config = load_endpoint_configs(load_experiment(tmp_path / "experiment.yaml"), tmp_path)
    endpoint = config["gpu-box"]
    lookup = store_profiles(store)
    other_model = endpoint.model_copy(update={"model": "coder-7b-v2", "price": "coder-7b"})
    resolved = resolve_price(other_model, table, concurrency=4, profiles=lookup)
    assert resolved.source == "pricing.yaml" and "no stored profile" in resolved.note
    assert isinstance(resolved.price, GpuPrice) and resolved.price.tokens_per_s == FALLBACK_TPS
    # The endpoint's own limit caps the concurrency its calls can reach.
    capped = endpoint.model_copy(
        update={"limits": endpoint.limits.model_copy(update={"initial": 2, "max": 2})}
    )
    assert endpoint_concurrency(capped, 16) == 2
    # Without a fallback rate and without a profile, the run is refused before any call.
    bare = table.model_copy(
        update={"models": {"coder-7b": GpuPrice(gpu_hour_usd=GPU_HOUR_USD, gpus=1)}}
    )
    with pytest.raises(ConfigError, match="budget profile"):
        resolve_price(other_model, bare, concurrency=4, profiles=lookup)
    store.close()


def test_models_check_prints_where_the_price_came_from(
    server: ScriptedServer, profiled: tuple[str, Store], tmp_path: Path
) -> None:
    profile_run, store = profiled
    store.close()
    args = ["models", "check", str(tmp_path / "endpoints.yaml")]
    args += [
        "--pricing",
        str(tmp_path / "pricing.yaml"),
        "--store",
        f"sqlite:///{tmp_path}/store.db",
    ]
    result = CliRunner().invoke(app, [*args, "--concurrency", "4"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert f"price of gpu-box: price from profile {profile_run} at concurrency 4" in out
    unstored = CliRunner().invoke(
        app, ["models", "check", str(tmp_path / "endpoints.yaml"), "--pricing",
              str(tmp_path / "pricing.yaml"), "--store", f"sqlite:///{tmp_path}/empty.db"],
    )  # fmt: skip
    assert unstored.exit_code == 0, unstored.output
    assert "at 7 tok/s (no stored profile" in " ".join(unstored.output.split())


def test_rate_at_picks_the_highest_level_not_above_the_concurrency() -> None:
    levels = [(1, 10.0), (4, 30.0), (16, 50.0), (8, 0.0)]  # the 8 level produced nothing
    assert rate_at(levels, 4) == Rate(4, 30.0)
    assert rate_at(levels, 15) == Rate(4, 30.0)
    assert rate_at(levels, 64) == Rate(16, 50.0)
    assert rate_at([(4, 40.0)], 2) == Rate(4, 20.0, scaled=True)  # scaled down, never up
    assert rate_at([(2, 0.0)], 2) is None


async def test_a_remote_worker_reuses_the_drivers_rate(
    server: ScriptedServer, profiled: tuple[str, Store], tmp_path: Path
) -> None:
    profile_run, store = profiled
    await _one_priced_call(tmp_path, server.base_url, store, "run-d", llm_calls=4)
    driver_rate = _levels(store, profile_run)[4]
    # A newer profile of the same endpoint arrives while the run is going on...
    newer = LevelResult(4, 8, 0, 8000, 1.0, 0.1, 0.2)  # 8,000 tok/s
    save_profile(store, "profile-newer", name="gpu-box", endpoint="gpu-box", model="coder-7b",
                 config={}, results=[newer])  # fmt: skip
    config = load_experiment(tmp_path / "experiment.yaml")
    endpoints = load_endpoint_configs(config, tmp_path)
    table = load_pricing(tmp_path / "pricing.yaml")
    # ...a worker of the running run keeps the driver's rate; a new run takes the newer one.
    [worker] = stored_prices(store, "run-d", endpoints, ["gpu-box"], table).values()
    assert isinstance(worker, GpuPrice) and worker.tokens_per_s == pytest.approx(driver_rate)
    fresh = resolve_price(
        endpoints["gpu-box"], table, concurrency=4, profiles=store_profiles(store)
    )
    assert isinstance(fresh.price, GpuPrice) and fresh.profile_run_id == "profile-newer"
    assert fresh.price.tokens_per_s == 8000
    store.close()

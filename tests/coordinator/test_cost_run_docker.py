"""A whole run's cost side: the editing model over the Anthropic wire with prompt caching,
the relevance model a self-hosted endpoint priced from a profile `agentlab budget profile`
stored; the summary shows the cache saving and where each price came from.

Real Docker engine, real SQLite, the scripted model over real HTTP (both wire formats)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from sqlmodel import col, select

from agentlab.config import load_experiment
from agentlab.coordinator.display import summary_table
from agentlab.coordinator.kinds.swe_gold import gold_rules
from agentlab.coordinator.launch import new_request, run_pipeline
from agentlab.coordinator.report import build_report
from agentlab.llm import ScriptedModel
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store
from agentlab.store.profile_store import endpoint_prices, read_profile
from agentlab.store.tables import LLMCall, Run
from agentlab.tasks.swebench import Dataset

pytestmark = pytest.mark.docker

ONE = ["agentlab-mini__confini-1"]
RETRY = {"max_attempts": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.02}
PRICES = {  # USD per million tokens; the write premium and read discount as Claude's
    "input_per_mtok": 3.0,
    "output_per_mtok": 15.0,
    "cached_per_mtok": 0.3,
    "cache_write_per_mtok": 3.75,
}


def _write(folder: Path, server: ScriptedServer, store_url: str) -> Path:
    endpoints = [
        {
            "type": "anthropic",
            "name": "claude",
            "model": "scripted-gold",
            "base_url": server.root_url,
            "api_key_env": "TEST_ANTHROPIC_KEY",
            "retry": RETRY,
        },
        {
            "type": "openai",
            "name": "gpu-box",
            "model": "scripted-gold",
            "price": "box",
            "base_url": server.base_url,
            "retry": RETRY,
        },
    ]
    (folder / "endpoints.yaml").write_text(yaml.safe_dump(endpoints))
    pricing = {
        "version": "test",
        "models": {
            "scripted-gold": {"kind": "api", **PRICES},
            "box": {"kind": "gpu", "gpu_hour_usd": 2.0, "gpus": 1, "tokens_per_s": 1.0},
        },
    }
    (folder / "pricing.yaml").write_text(yaml.safe_dump(pricing))
    experiment = {
        "run_name": "cost",
        "dataset": {"name": "agentlab-mini", "instances": ONE},
        "endpoints": "endpoints.yaml",
        "models": {
            "default": {"endpoint": "claude", "temperature": 0.0},
            "relevance": {"endpoint": "gpu-box", "temperature": 0.0},
        },
        "sampling": {"k": 3, "n": 1, "test_attempts": 1, "format_fixes": 1},
        "context": {"token_budget": 4000},
        "concurrency": {"llm_calls": 4, "sandboxes": 2},
        "store": store_url,
    }
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment))
    return path


def _profile(endpoints: Path, store_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "agentlab", "budget", "profile", str(endpoints),
            "--name", "gpu-box", "--levels", "1,2,8", "--requests-per-level", "4",
            "--max-tokens", "16", "--store", store_url,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_cache_saving_and_profile_fed_price_in_the_run_summary(
    base_image: str,
    docker_backend: object,
    mini: Dataset,
    store: Store,
    tmp_path: Path,
    run_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-test")
    monkeypatch.setenv("AGENTLAB_PRICING", str(tmp_path / "pricing.yaml"))
    with ScriptedServer(ScriptedModel(gold_rules(mini))) as server:
        path = _write(tmp_path, server, store.url)
        done = await asyncio.to_thread(_profile, tmp_path / "endpoints.yaml", store.url)
        assert done.returncode == 0, done.stderr
        request = new_request(load_experiment(path), path, run_id)
        outcome = await run_pipeline(request, store, pricing=tmp_path / "pricing.yaml")
    assert outcome.status == "finished", outcome

    profile_run = store.call(lambda s: s.exec(select(Run.id).where(Run.kind == "profile")).one())
    rate = {r.concurrency: r.tokens_per_s for r in read_profile(store, profile_run)}[2]
    prices = {p.endpoint: p for p in endpoint_prices(store, run_id)}
    assert prices["gpu-box"].source == "profile" and prices["gpu-box"].level == 2  # 4 > 2, < 8
    assert prices["claude"].source == "pricing.yaml"

    calls = store.call(
        lambda s: s.exec(
            select(LLMCall).where(LLMCall.run_id == run_id).order_by(col(LLMCall.id))
        ).all()
    )
    relevance = [c for c in calls if c.endpoint == "gpu-box"]
    assert relevance and all(
        c.usd == pytest.approx((c.prompt_tokens + c.completion_tokens) / rate * 2.0 / 3600)
        for c in relevance
    )
    editing = [c for c in calls if c.role == "editing"]
    assert len(editing) >= 3
    writes = sum(c.cache_write_tokens for c in calls)
    reads = sum(c.cached_prompt_tokens for c in calls)
    assert writes > 0 and reads > 0  # k = 3 samples: the prefix is written, then read

    report = await build_report(store, run_id, 3, cap_usd=None)
    saved = (
        reads * (PRICES["input_per_mtok"] - PRICES["cached_per_mtok"])
        - writes * (PRICES["cache_write_per_mtok"] - PRICES["input_per_mtok"])
    ) / 1e6
    assert (report.cache.read_tokens, report.cache.write_tokens) == (reads, writes)
    assert report.cache.saved_usd == pytest.approx(saved)
    console = Console(width=240, record=True)
    console.print(summary_table(report, "", outcome.status))
    text = " ".join(console.export_text().split())
    assert f"{reads:,} / {writes:,} tokens" in text and "saved by prompt caching" in text
    assert f"price from profile {profile_run} at concurrency 4" in text
    assert report.usd_per_solved == pytest.approx(report.spent_usd)  # the one problem solved
    assert "cost per solved problem (1)" in text

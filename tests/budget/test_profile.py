"""``agentlab budget profile`` against the scripted server over real HTTP, stored in SQLite.

The server sleeps a fixed 100 ms per reply and every reply is 20 tokens, so the true
throughput at concurrency c is c / 0.1 requests/s. Assertions compare levels with each other
(loose ratios), never against wall-clock figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlab.errors import ConfigError
from agentlab.llm import OpenAIEndpoint, RetryConfig, ScriptedModel
from agentlab.llm.profile import best_tokens_per_s, parse_levels, percentile, profile_endpoint
from agentlab.llm.scripted import Fault
from agentlab.llm.testing import ScriptedServer

REPLY = " ".join(f"w{i}" for i in range(20))  # 20 tokens for the scripted tokenizer
LATENCY_S = 0.1


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(ScriptedModel(default=REPLY), latency_s=LATENCY_S) as srv:
        yield srv


def _endpoint(server: ScriptedServer, name: str = "gpu-box") -> OpenAIEndpoint:
    return OpenAIEndpoint(
        name=name,
        model="coder-7b",
        base_url=server.base_url,
        retry=RetryConfig(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.02),
    )


def _agentlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentlab", *args], capture_output=True, text=True, timeout=120
    )


async def test_throughput_scales_with_concurrency(server: ScriptedServer) -> None:
    results = await profile_endpoint(_endpoint(server), (1, 4), requests_per_level=8, max_tokens=64)
    one, four = results
    assert [r.concurrency for r in results] == [1, 4]
    for r in results:
        assert (r.requests, r.errors, r.completion_tokens) == (8, 0, 8 * 20)
        assert r.p50_s >= LATENCY_S and r.p90_s >= r.p50_s  # each reply sleeps 100 ms
    # Ideal is 4x; more than 2x leaves room for a slow, shared CI machine.
    assert four.requests_per_s > 2 * one.requests_per_s
    assert four.tokens_per_s > 2 * one.tokens_per_s
    assert best_tokens_per_s(results) is four
    # Warm-up plus 2 levels x 8, each request distinct (no server-side reuse), none cached.
    prompts = [r.request.messages[-1].content for r in server.requests if r.request]
    assert len(prompts) == 17 and len(set(prompts)) == 17


async def test_a_failed_request_is_an_error_not_tokens(server: ScriptedServer) -> None:
    server.model.inject(Fault(kind="unauthorized", user=r"\(request 2\.3\)"))
    (level,) = await profile_endpoint(_endpoint(server), (2,), requests_per_level=6, max_tokens=64)
    assert (level.requests, level.errors, level.completion_tokens) == (5, 1, 5 * 20)


def test_levels_and_percentiles() -> None:
    assert parse_levels("4, 1,2,4") == (1, 2, 4)
    for bad in ("", "0,2", "one"):
        with pytest.raises(ConfigError, match="--levels"):
            parse_levels(bad)
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([1.0, 2.0], 0.9) == pytest.approx(1.9)
    assert percentile([], 0.5) == 0.0


def test_cli_stores_one_row_per_level(server: ScriptedServer, tmp_path: Path) -> None:
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text(
        f"- type: openai\n  name: gpu-box\n  model: coder-7b\n  base_url: {server.base_url}\n"
        "- type: scripted\n  name: other\n"
    )
    url = f"sqlite:///{tmp_path}/store.db"
    done = _agentlab(
        "budget", "profile", str(endpoints), "--name", "gpu-box", "--levels", "1,4",
        "--requests-per-level", "8", "--max-tokens", "64", "--store", url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "tokens/s" in out and "now bill gpu-box (coder-7b) from this profile" in out
    assert "at concurrency 4" in out  # the best level is named

    query = (
        "SELECT p.concurrency, p.requests, p.completion_tokens, p.errors, p.tokens_per_s, "
        "p.requests_per_s, p.endpoint, p.model, r.kind, r.status FROM throughput_profile p "
        "JOIN run r ON r.id = p.run_id ORDER BY p.concurrency"
    )
    shown = _agentlab("sql", query, "--store", url, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert [r["concurrency"] for r in rows] == [1, 4]
    for r in rows:
        assert (r["requests"], r["completion_tokens"], r["errors"]) == (8, 160, 0)
        assert (r["endpoint"], r["model"], r["kind"], r["status"]) == (
            "gpu-box",
            "coder-7b",
            "profile",
            "finished",
        )
    assert rows[1]["requests_per_s"] > 2 * rows[0]["requests_per_s"]
    assert rows[0]["tokens_per_s"] == pytest.approx(20 * rows[0]["requests_per_s"])


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("- type: openai\n  name: x\n")  # no model, no base_url
    two = tmp_path / "two.yaml"
    two.write_text("- type: scripted\n  name: a\n- type: scripted\n  name: b\n")
    url = f"sqlite:///{tmp_path}/store.db"
    for args, needle in [
        ([str(broken)], "endpoint config"),
        ([str(two)], "pass --name"),
        ([str(two), "--name", "c"], "no endpoint named 'c'"),
    ]:
        failed = _agentlab("budget", "profile", *args, "--store", url)
        assert failed.returncode == 2, failed.stdout
        assert needle in failed.stderr and "Traceback" not in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1

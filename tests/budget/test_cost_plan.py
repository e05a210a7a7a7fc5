"""The cost model prices tokens, GPU time and sandbox time; the planner respects the budget."""

from __future__ import annotations

import pytest

from agentlab.budget.cost import SandboxPrices, SelfHosted, SpendItem, TokenPrices, breakdown
from agentlab.budget.plan import Pilot, plan
from agentlab.budget.simulate import SHAPES, simulate
from agentlab.errors import ConfigError
from agentlab.types import Usage


def test_token_prices_bill_cached_tokens_at_their_rate() -> None:
    prices = TokenPrices(input_per_mtok=3.0, output_per_mtok=15.0, cached_input_per_mtok=0.3)
    cost = prices.price(
        Usage(prompt_tokens=1_000_000, completion_tokens=100_000, cached_prompt_tokens=500_000)
    )
    assert cost.input_usd == pytest.approx(1.5)
    assert cost.cached_usd == pytest.approx(0.15)
    assert cost.output_usd == pytest.approx(1.5)
    assert cost.usd == pytest.approx(3.15)
    assert cost.cache_saved_usd == pytest.approx(0.5 * (3.0 - 0.3))


def test_token_prices_bill_cache_writes_at_the_write_rate() -> None:
    prices = TokenPrices(
        input_per_mtok=3.0, output_per_mtok=15.0, cached_input_per_mtok=0.3,
        cache_write_per_mtok=3.75,
    )  # fmt: skip
    usage = Usage(prompt_tokens=1_000_000, cached_prompt_tokens=200_000, cache_write_tokens=300_000)
    cost = prices.price(usage)
    assert cost.input_usd == pytest.approx(0.5 * 3.0)  # the 500k fresh tokens
    assert cost.cache_write_usd == pytest.approx(0.3 * 3.75)
    assert cost.usd == pytest.approx(1.5 + 0.2 * 0.3 + 0.3 * 3.75)
    assert cost.cache_saved_usd == pytest.approx(0.2 * (3.0 - 0.3) - 0.3 * (3.75 - 3.0))


def test_self_hosted_and_sandbox_pricing() -> None:
    node = SelfHosted(usd_per_gpu_hour=8.24 / 8, gpus=8, tokens_per_s=9051.0)
    cost = node.price(Usage(prompt_tokens=9051 * 3600, completion_tokens=0))
    assert cost.usd == pytest.approx(8.24)  # one node-hour of tokens costs one node-hour
    assert cost.gpu_seconds == pytest.approx(8 * 3600)
    assert SandboxPrices(usd_per_cpu_hour=0.04).price(1800).usd == pytest.approx(0.02)
    with pytest.raises(ConfigError):
        SelfHosted(usd_per_gpu_hour=1.0, gpus=1, tokens_per_s=0)


def test_breakdown_by_stage_and_role() -> None:
    items = [
        SpendItem("edits", "editor", 2.0),
        SpendItem("tests", "tester", 1.0),
        SpendItem("edits", "tester", 0.5),
    ]
    result = breakdown(items)
    assert result.total == pytest.approx(3.5)
    assert result.by_stage == {"edits": 2.5, "tests": 1.0}
    assert list(result.by_role) == ["editor", "tester"]


def test_plan_picks_an_affordable_configuration_with_interval() -> None:
    out = simulate(SHAPES["codemonkeys"], 120, 8, seed=2)
    pilot = Pilot.from_final(out.correct, 0.5)
    result = plan(pilot, 120 * 0.5 * 12, problems=120)
    best = result.best
    assert best.cost_usd <= 120 * 0.5 * 12
    assert best.predicted.low <= best.predicted.point <= best.predicted.high
    assert all(o.predicted.point <= best.predicted.point for o in result.options)
    richer = plan(pilot, 120 * 0.5 * 60, problems=120).best
    assert richer.coverage.point >= best.coverage.point
    with pytest.raises(ConfigError, match="raise --budget"):
        plan(pilot, 1.0)

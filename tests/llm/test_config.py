"""Endpoint and pricing configs: the shipped files load; bad ones fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.errors import ConfigError
from agentlab.llm import load_endpoints, load_pricing
from agentlab.llm.pricing import ApiPrice, CpuPrice, GpuPrice
from agentlab.types import Usage

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_shipped_pricing_loads_and_prices_each_kind() -> None:
    table = load_pricing(CONFIGS / "pricing.yaml")
    assert table.version
    api = table.price("gpt-4o")
    assert isinstance(api, ApiPrice)
    usage = Usage(
        prompt_tokens=1_000_000, completion_tokens=1_000_000, cached_prompt_tokens=500_000
    )
    cost = api.cost(usage)
    assert cost.usd == pytest.approx(0.5 * 2.5 + 0.5 * 1.25 + 10.0)
    gpu = table.price("qwen2.5-coder-32b-instruct")
    assert isinstance(gpu, GpuPrice)
    # 9,051 tokens on an 8 x 1.03 USD/h node: one second of the node.
    assert gpu.cost(Usage(prompt_tokens=9051)).usd == pytest.approx(8 * 1.03 / 3600)
    assert isinstance(table.price("smollm2-135m-instruct"), CpuPrice)


def test_missing_price_names_the_model() -> None:
    table = load_pricing(CONFIGS / "pricing.yaml")
    with pytest.raises(ConfigError, match="no price for 'gpt-9'"):
        table.price("gpt-9")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("models: {}", "version"),
        ("version: x\nmodels: {a: {kind: api, input_per_mtok: 1}}", "output_per_mtok"),
        ("version: x\nmodels: {a: {kind: tpu, hourly: 1}}", "kind"),
        ("version: [", "not valid YAML"),
    ],
)
def test_bad_pricing_is_one_clear_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "pricing.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle) as info:
        load_pricing(path)
    assert "\n" not in str(info.value)


def test_shipped_model_configs_load() -> None:
    files = sorted((CONFIGS / "models").glob("*.yaml"))
    assert files
    for path in files:
        assert load_endpoints(path)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("- {type: openai, name: a, model: m, base_url: u, colour: red}", "colour"),
        ("- {type: grpc, name: a, model: m}", "type"),
        ("- {type: scripted, name: a}\n- {type: scripted, name: a}", "duplicate"),
        ("42", "expected a list"),
    ],
)
def test_bad_endpoint_config_is_one_clear_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_endpoints(path)


def test_a_real_endpoint_is_never_silently_free() -> None:
    from agentlab.errors import ConfigError
    from agentlab.llm.config import OpenAIEndpoint, ScriptedEndpoint
    from agentlab.llm.pricing import FREE, load_pricing, price_for

    real = OpenAIEndpoint(name="api", model="gpt-4o", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="no pricing table"):
        price_for(real, None)
    assert price_for(ScriptedEndpoint(name="s", model="scripted"), None) == FREE
    table = load_pricing("configs/pricing.yaml")
    assert price_for(real, table) == table.models["gpt-4o"]

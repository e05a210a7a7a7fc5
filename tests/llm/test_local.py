"""The real local model (llama.cpp + SmolLM2-135M) through the same client wrapper."""

from __future__ import annotations

import pytest

from agentlab.llm import LocalEndpoint, open_client
from agentlab.llm.local import find_smollm2_gguf, llama_server_available
from agentlab.llm.pricing import CpuPrice
from agentlab.types import Message

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.slow,
    pytest.mark.skipif(
        not llama_server_available(), reason="needs agentlab[local] (llama-cpp-python[server])"
    ),
]


def test_smollm2_gguf_is_found_in_the_wheel() -> None:
    path = find_smollm2_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


async def test_local_model_answers_and_is_priced() -> None:
    config = LocalEndpoint(name="local-smollm2", n_threads=2, timeout_s=120)
    price = CpuPrice(cpu_hour_usd=0.02, cpus=2, tokens_per_s=100)
    async with open_client(config, price=price) as client:
        response = await client.chat(
            [Message(role="user", content="Write a Python function that adds two numbers.")],
            max_tokens=48,
            temperature=0.0,
            seed=1,
        )
        assert client.ledger.spent_usd > 0
    text = response.choices[0].text
    assert text.strip()
    assert 0 < response.usage.completion_tokens <= 48
    assert response.choices[0].finish_reason in ("stop", "length")

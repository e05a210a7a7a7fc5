"""LLM-layer fixtures: a real scripted HTTP server on 127.0.0.1 and a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlab.llm import LLMClient, OpenAIEndpoint, RetryConfig, ScriptedModel
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.pricing import ApiPrice, CpuPrice, GpuPrice
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store, open_store
from agentlab.store.llm_log import StoreCallRecorder, StoreResponseCache
from agentlab.store.tables import Run

Price = ApiPrice | GpuPrice | CpuPrice
PRICE = ApiPrice(input_per_mtok=1.0, output_per_mtok=2.0)
FAST_RETRY = RetryConfig(max_attempts=4, backoff_base_s=0.01, backoff_max_s=0.05)


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel(default="def solve(): return 42")


@pytest.fixture
def server(model: ScriptedModel) -> Iterator[ScriptedServer]:
    with ScriptedServer(model) as srv:
        yield srv


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path}/store.db")
    st.call(lambda s: s.add(Run(id="run-1", kind="run")))
    try:
        yield st
    finally:
        st.close()


def endpoint(server: ScriptedServer, **kw: object) -> OpenAIEndpoint:
    """An endpoint config pointing at the scripted server."""
    fields: dict[str, object] = {
        "retry": FAST_RETRY,
        "name": "scripted-http",
        "model": "scripted",
        "base_url": server.base_url,
        "timeout_s": 5.0,
    }
    fields.update(kw)
    return OpenAIEndpoint.model_validate(fields)


def http_client(
    server: ScriptedServer, store: Store | None = None, *, pricing: Price = PRICE, **kw: object
) -> LLMClient:
    """An LLMClient over real HTTP to ``server`` priced by ``pricing``, logging to ``store``."""
    config = endpoint(server, **{k: v for k, v in kw.items() if k in OpenAIEndpoint.model_fields})
    extra = {k: v for k, v in kw.items() if k not in OpenAIEndpoint.model_fields}
    return LLMClient(
        OpenAIBackend(config),
        model=config.model,
        endpoint=config.name,
        price=pricing,
        timeout_s=config.timeout_s,
        retry=config.retry,
        limits=config.limits,
        cache=StoreResponseCache(store) if store else None,
        recorder=StoreCallRecorder(store) if store else None,
        **extra,  # type: ignore[arg-type]
    )

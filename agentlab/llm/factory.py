"""Build a ready :class:`LLMClient` from an endpoint config (the backend chosen by ``type``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from agentlab.llm.anthropic import AnthropicBackend
from agentlab.llm.budget import BudgetLedger
from agentlab.llm.client import LLMClient
from agentlab.llm.config import (
    AnthropicEndpoint,
    EndpointConfig,
    LocalEndpoint,
    OpenAIEndpoint,
    ScriptedEndpoint,
)
from agentlab.llm.local import open_local_backend
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.pricing import ApiPrice, CpuPrice, GpuPrice
from agentlab.llm.scripted import ScriptedModel
from agentlab.protocols import CallRecorder, ChatBackend, ResponseCache


@contextlib.asynccontextmanager
async def _backend(config: EndpointConfig) -> AsyncIterator[ChatBackend]:
    if isinstance(config, LocalEndpoint):
        async with open_local_backend(config) as local:
            yield local
        return
    backend: ChatBackend
    if isinstance(config, OpenAIEndpoint):
        backend = OpenAIBackend(config)
    elif isinstance(config, AnthropicEndpoint):
        backend = AnthropicBackend(config)
    else:
        assert isinstance(config, ScriptedEndpoint)
        backend = ScriptedModel(
            default=config.default_reply,
            latency_s=config.latency_s,
            context_tokens=config.context_tokens,
        )
    try:
        yield backend
    finally:
        await backend.aclose()


@contextlib.asynccontextmanager
async def open_client(
    config: EndpointConfig,
    *,
    price: ApiPrice | GpuPrice | CpuPrice,
    ledger: BudgetLedger | None = None,
    cache: ResponseCache | None = None,
    recorder: CallRecorder | None = None,
    replay: bool = True,
) -> AsyncIterator[LLMClient]:
    """An :class:`LLMClient` for ``config``; its backend (and any child process) is closed after."""
    async with _backend(config) as backend:
        yield client_for(
            backend,
            config,
            price=price,
            ledger=ledger,
            cache=cache,
            recorder=recorder,
            replay=replay,
        )


def client_for(
    backend: ChatBackend,
    config: EndpointConfig,
    *,
    price: ApiPrice | GpuPrice | CpuPrice,
    ledger: BudgetLedger | None = None,
    cache: ResponseCache | None = None,
    recorder: CallRecorder | None = None,
    replay: bool = True,
) -> LLMClient:
    """The client wrapper around ``backend``, with ``config``'s name, limits and retries."""
    return LLMClient(
        backend,
        model=config.model,
        endpoint=config.name,
        price=price,
        limits=config.limits,
        retry=config.retry,
        timeout_s=config.timeout_s,
        ledger=ledger,
        cache=cache,
        recorder=recorder,
        # The Messages API has no ``n``: n samples are n requests, each billing the prompt.
        prompt_per_sample=isinstance(config, AnthropicEndpoint),
        replay=replay,
    )

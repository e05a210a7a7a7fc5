"""The LLM layer: thin backends, one fat client wrapper, pricing, budgets, a scripted model.

    backends (one request each)     openai.OpenAIBackend, anthropic.AnthropicBackend,
                                    local.open_local_backend, scripted.ScriptedModel
    client.LLMClient                cache -> budget reserve -> limit -> retries -> settle -> record
    pricing / budget / limiter      the pieces the client composes
    testing.ScriptedServer          the scripted model behind real HTTP, for tests and demos

This package never imports ``agentlab.store``: the cache and the call recorder arrive as
protocols (``agentlab.protocols``), wired by the CLI or coordinator.
"""

from agentlab.llm.budget import BudgetLedger, ComputeMeter
from agentlab.llm.client import LLMClient, request_key
from agentlab.llm.config import (
    AnthropicEndpoint,
    EndpointConfig,
    LimitConfig,
    LocalEndpoint,
    OpenAIEndpoint,
    RetryConfig,
    ScriptedEndpoint,
    load_endpoints,
)
from agentlab.llm.factory import open_client
from agentlab.llm.pricing import PricingTable, load_pricing
from agentlab.llm.scripted import Fault, Rule, ScriptedModel

__all__ = [
    "AnthropicEndpoint",
    "BudgetLedger",
    "ComputeMeter",
    "EndpointConfig",
    "Fault",
    "LLMClient",
    "LimitConfig",
    "LocalEndpoint",
    "OpenAIEndpoint",
    "PricingTable",
    "RetryConfig",
    "Rule",
    "ScriptedEndpoint",
    "ScriptedModel",
    "load_endpoints",
    "load_pricing",
    "open_client",
    "request_key",
]

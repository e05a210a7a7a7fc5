"""One LLM client per endpoint a run uses, and a :class:`Chat` per role over them.

All clients share one :class:`BudgetLedger` (the run-wide hard cap, started at what the run
already spent when it is resumed), the store-backed response cache and call recorder, and the
run's LLM limit (a semaphore around every call, separate from the sandbox limit). Token counts
are tallied here for the progress display.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentlab.agent.chat import Chat, ModelChat
from agentlab.budget.cost import SandboxPrices
from agentlab.config import ExperimentConfig, RoleName, check_endpoint_names
from agentlab.errors import ConfigError
from agentlab.llm import (
    BudgetLedger,
    EndpointConfig,
    LLMClient,
    ScriptedEndpoint,
    ScriptedModel,
    load_endpoints,
    load_pricing,
    open_client,
)
from agentlab.llm.budget import ComputeMeter
from agentlab.llm.factory import client_for
from agentlab.llm.pricing import ApiPrice, CpuPrice, GpuPrice, default_pricing_path, price_for
from agentlab.llm.scripted import Rule
from agentlab.protocols import CallRecorder, ResponseCache
from agentlab.scoring.llm import Generate, ModelRole
from agentlab.types import CallContext, ChatRequest, ChatResponse

Price = ApiPrice | GpuPrice | CpuPrice


@dataclass
class Meter:
    """Tokens and calls so far (for progress); dollars come from the ledger."""

    tokens: int = 0
    calls: int = 0
    in_flight: int = 0


@dataclass
class Models:
    """The run's clients by endpoint name, the role -> endpoint map, the shared pieces."""

    config: ExperimentConfig
    clients: dict[str, LLMClient]
    ledger: BudgetLedger
    limit: asyncio.Semaphore
    meter: Meter = field(default_factory=Meter)
    endpoints: dict[str, EndpointConfig] = field(default_factory=dict)
    sandbox_cpu_hour_usd: float | None = None  # from the pricing table; None = not charged

    def compute_meter(self) -> ComputeMeter | None:
        """What charges the run's sandbox time to its ledger (None when it is unpriced)."""
        if self.sandbox_cpu_hour_usd is None:
            return None
        prices = SandboxPrices(self.sandbox_cpu_hour_usd)
        return ComputeMeter(self.ledger, lambda cpu_s: prices.price(cpu_s).usd)

    def model_names(self) -> str:
        """Which model plays which role, for the output (``editing=scripted ...``)."""
        by_model: dict[str, list[str]] = {}
        for role, m in self.config.roles().items():
            by_model.setdefault(self.clients[m.endpoint].model, []).append(role)
        if len(by_model) == 1:
            return f"{next(iter(by_model))} (every role)"
        return "; ".join(f"{model} ({', '.join(roles)})" for model, roles in by_model.items())

    def _generate(self, client: LLMClient) -> Generate:
        """``client.generate`` under the run's LLM limit, counted for progress."""

        async def generate(request: ChatRequest, context: CallContext) -> ChatResponse:
            async with self.limit:
                self.meter.in_flight += 1
                try:
                    response = await client.generate(request, context)
                finally:
                    self.meter.in_flight -= 1
            self.meter.calls += 1
            self.meter.tokens += response.usage.prompt_tokens + response.usage.completion_tokens
            return response

        return generate

    def scoring_role(self, role: RoleName, run_id: str) -> ModelRole:
        """The model of ``role`` as the scoring layer takes it (selectors, verifiers)."""
        model = self.config.models.for_role(role)
        client = self.clients[model.endpoint]
        return ModelRole(
            self._generate(client),
            client.model,
            role,
            run_id=run_id,
            temperature=model.temperature,
            max_tokens=model.max_tokens,
        )

    def chat(self, role: RoleName, context: CallContext) -> Chat:
        """A :class:`Chat` for ``role`` labelled with ``context`` (run, task, sample)."""
        model = self.config.models.for_role(role)
        client = self.clients[model.endpoint]
        generate = self._generate(client)

        seed = self.config.seed * 100_003 + context.sample
        return ModelChat(
            generate,
            client.model,
            temperature=model.temperature,
            max_tokens=model.max_tokens,
            seed=seed,
            context=context,
        )


def load_endpoint_configs(config: ExperimentConfig, base_dir: Path) -> dict[str, EndpointConfig]:
    """The endpoints named by the experiment config, checked against its roles."""
    found: dict[str, EndpointConfig] = {}
    for rel in config.endpoints:
        for endpoint in load_endpoints(base_dir / rel):
            found[endpoint.name] = endpoint
    check_endpoint_names(config, found)
    return found


@contextlib.asynccontextmanager
async def open_clients(
    endpoints: Mapping[str, EndpointConfig],
    names: Iterable[str],
    *,
    pricing: Path | None = None,
    ledger: BudgetLedger | None = None,
    cache: ResponseCache | None = None,
    recorder: CallRecorder | None = None,
    scripted_rules: Callable[[ScriptedEndpoint], Sequence[Rule]] | None = None,
    replay: bool = False,
    prices: Mapping[str, Price] | None = None,
    cache_prefix: bool = False,
) -> AsyncIterator[dict[str, LLMClient]]:
    """One priced client per endpoint name (the one way agentlab assembles clients).

    ``agentlab run`` and ``agentlab select`` both come through here; every client is closed
    on exit. A scripted endpoint answers with ``scripted_rules`` when given. ``prices``
    (resolved by :mod:`agentlab.coordinator.prices`) overrides the table's per endpoint;
    ``cache_prefix`` marks every request's prefix cacheable.
    """
    pricing = pricing or default_pricing_path()
    table = load_pricing(pricing) if pricing is not None else None
    clients: dict[str, LLMClient] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name in names:
            endpoint = endpoints[name]
            price = prices[name] if prices and name in prices else price_for(endpoint, table)
            if isinstance(endpoint, ScriptedEndpoint) and scripted_rules is not None:
                clients[name] = _scripted_client(
                    endpoint, scripted_rules(endpoint), price, ledger, cache, recorder
                )
                clients[name].replay = replay
                clients[name].cache_prefix = cache_prefix
                continue
            clients[name] = await stack.enter_async_context(
                open_client(
                    endpoint,
                    price=price,
                    ledger=ledger,
                    cache=cache,
                    recorder=recorder,
                    replay=replay,
                )
            )
            clients[name].cache_prefix = cache_prefix
        yield clients


@contextlib.asynccontextmanager
async def open_models(
    config: ExperimentConfig,
    endpoints: dict[str, EndpointConfig],
    *,
    pricing: Path | None,
    spent_usd: float,
    task_spent_usd: Mapping[str, float] | None = None,
    cache: ResponseCache | None,
    recorder: CallRecorder | None,
    scripted_rules: Callable[[ScriptedEndpoint], Sequence[Rule]] | None = None,
    ledger: BudgetLedger | None = None,
    prices: Mapping[str, Price] | None = None,
) -> AsyncIterator[Models]:
    """Open a client for every endpoint a role uses; all are closed on exit.

    ``ledger``: the run's ledger when it lives elsewhere (a remote worker's proxy to the
    driver's); by default a new one from the config and what was spent. ``prices``: the
    run's resolved prices by endpoint (default: the pricing table's)."""
    pricing = pricing or default_pricing_path()
    table = load_pricing(pricing) if pricing is not None else None
    # One child ledger per problem under the run's: budget.per_task_usd is as hard as cap_usd.
    ledger = ledger or BudgetLedger(
        config.budget.cap_usd,
        spent_usd=spent_usd,
        scope_cap_usd=config.budget.per_task_usd,
        scope_spent_usd=task_spent_usd,
    )
    used = sorted({m.endpoint for m in config.roles().values()})
    async with open_clients(
        endpoints,
        used,
        pricing=pricing,
        ledger=ledger,
        cache=cache,
        recorder=recorder,
        scripted_rules=scripted_rules,
        replay=config.cache == "replay",
        prices=prices,
        cache_prefix=config.sampling.cache_prefix(),
    ) as clients:
        if not clients:
            raise ConfigError("models: no role resolves to an endpoint; set models.default")
        limit = asyncio.Semaphore(config.concurrency.llm_calls)
        sandbox_price = table.sandbox_cpu_hour_usd if table is not None else None
        yield Models(
            config, clients, ledger, limit, endpoints=endpoints, sandbox_cpu_hour_usd=sandbox_price
        )


def _scripted_client(
    endpoint: ScriptedEndpoint,
    rules: Sequence[Rule],
    price: Price,
    ledger: BudgetLedger | None,
    cache: ResponseCache | None,
    recorder: CallRecorder | None,
) -> LLMClient:
    model = ScriptedModel(
        list(rules),
        default=endpoint.default_reply,
        latency_s=endpoint.latency_s,
        context_tokens=endpoint.context_tokens,
    )
    return client_for(model, endpoint, price=price, ledger=ledger, cache=cache, recorder=recorder)

"""``agentlab models check CONFIG``: call each configured endpoint once and report.

A ``gpu``/``cpu`` price is fed by the endpoint's stored throughput profile (see
:mod:`agentlab.coordinator.prices`) when a store is given (``--store``, ``$AGENTLAB_STORE``, or
an ``agentlab.db`` in the working directory); each price's source is printed under the table.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agentlab.coordinator.prices import ProfileLookup, resolve_price, store_profiles
from agentlab.errors import AgentlabError
from agentlab.llm import EndpointConfig, load_endpoints, load_pricing, open_client
from agentlab.llm.pricing import (
    FREE,
    ApiPrice,
    CpuPrice,
    GpuPrice,
    PricingTable,
    default_pricing_path,
)
from agentlab.store import open_store
from agentlab.store.db import DEFAULT_URL, Store
from agentlab.types import ChatResponse, Cost, Message

PROMPT = "Reply with the single word OK."

models_app = typer.Typer(help="Check configured LLM endpoints.", no_args_is_help=True)


@dataclass
class Outcome:
    config: EndpointConfig
    priced: bool
    response: ChatResponse | None = None
    cost: Cost | None = None
    reason: str = ""
    source: str = ""  # where the price came from


def _price(
    table: PricingTable | None,
    config: EndpointConfig,
    concurrency: int,
    profiles: ProfileLookup | None,
) -> tuple[ApiPrice | GpuPrice | CpuPrice | None, str]:
    if table is None or config.price_key not in table.models:
        return None, "unpriced"
    try:
        resolved = resolve_price(config, table, concurrency=concurrency, profiles=profiles)
    except AgentlabError as exc:
        return None, f"unpriced: {exc}"
    return resolved.price, resolved.note


async def _check_one(
    config: EndpointConfig,
    table: PricingTable | None,
    prompt: str,
    max_tokens: int,
    *,
    concurrency: int = 1,
    profiles: ProfileLookup | None = None,
) -> Outcome:
    price, source = _price(table, config, concurrency, profiles)
    outcome = Outcome(config, priced=price is not None, source=source)
    try:
        async with open_client(config, price=price or FREE) as client:
            response = await client.chat(
                [Message(role="user", content=prompt)], max_tokens=max_tokens, temperature=0.0
            )
            outcome.response = response
            outcome.cost = client.price.cost(response.usage)
    except AgentlabError as exc:
        outcome.reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    return outcome


def _row(o: Outcome) -> list[str]:
    if o.response is None:
        return [o.config.name, o.config.model, "[red]failed[/]", "", "", "", "", o.reason]
    r = o.response
    rate = f"{r.usage.completion_tokens / r.latency_s:.1f}" if r.latency_s > 0 else "-"
    usd = f"${o.cost.usd:.6f}" if o.cost is not None and o.priced else "unpriced"
    reply = " ".join(r.choices[0].text.split())[:40]
    return [
        o.config.name,
        r.model,
        "[green]ok[/]",
        f"{r.latency_s * 1000:.0f} ms",
        f"{r.usage.prompt_tokens}/{r.usage.completion_tokens}",
        rate,
        usd,
        reply,
    ]


@models_app.command("check")
def check(
    config: Annotated[Path, typer.Argument(help="YAML list of endpoints (configs/models/*.yaml).")],
    pricing: Annotated[
        Path | None, typer.Option(help="Pricing table (default configs/pricing.yaml if present).")
    ] = None,
    prompt: Annotated[str, typer.Option(help="The one message sent to each endpoint.")] = PROMPT,
    max_tokens: Annotated[int, typer.Option(min=1, help="max_tokens of the check call.")] = 16,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="AGENTLAB_STORE",
            help="Store with throughput profiles (default: ./agentlab.db if it exists).",
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(min=1, help="Concurrency a run will use (picks the profile's level)."),
    ] = 1,
) -> None:
    """Call each endpoint once: model, latency, tokens, price per call, or why it failed."""
    endpoints = load_endpoints(config)
    path = pricing or default_pricing_path()
    table = load_pricing(path) if path is not None else None
    st = _profile_store(store)

    async def run_all() -> list[Outcome]:
        profiles = store_profiles(st) if st is not None else None
        return [
            await _check_one(
                e, table, prompt, max_tokens, concurrency=concurrency, profiles=profiles
            )
            for e in endpoints
        ]

    try:
        outcomes = asyncio.run(run_all())
    finally:
        if st is not None:
            st.close()
    out = Table(
        "endpoint",
        "model",
        "status",
        "latency",
        "tokens in/out",
        "tok/s",
        "$/call",
        "reply or reason",
    )
    for o in outcomes:
        out.add_row(*_row(o))
    Console(width=200).print(out)
    if table is not None:
        Console().print(f"[dim]prices: {path} (version {table.version})[/]")
    for o in outcomes:
        Console(width=200).print(f"price of {o.config.name}: {o.source}", highlight=False)
    failed = sum(o.response is None for o in outcomes)
    if failed:
        raise typer.Exit(1)


def _profile_store(url: str | None) -> Store | None:
    if url is None and not os.path.exists("agentlab.db"):
        return None  # do not create a store just to find it empty
    return open_store(url or DEFAULT_URL)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")

"""``agentlab models check CONFIG``: call each configured endpoint once and report."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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


def _price(
    table: PricingTable | None, config: EndpointConfig
) -> ApiPrice | GpuPrice | CpuPrice | None:
    if table is None:
        return None
    return table.models.get(config.price_key)


async def _check_one(
    config: EndpointConfig, table: PricingTable | None, prompt: str, max_tokens: int
) -> Outcome:
    price = _price(table, config)
    outcome = Outcome(config, priced=price is not None)
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
) -> None:
    """Call each endpoint once: model, latency, tokens, price per call, or why it failed."""
    endpoints = load_endpoints(config)
    path = pricing or default_pricing_path()
    table = load_pricing(path) if path is not None else None

    async def run_all() -> list[Outcome]:
        return [await _check_one(e, table, prompt, max_tokens) for e in endpoints]

    outcomes = asyncio.run(run_all())
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
    failed = sum(o.response is None for o in outcomes)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")

"""``agentlab budget``: coverage fits, budget plans, policy simulations, endpoint profiles.

The analysis and plots are in :mod:`agentlab.budget.analysis` and :mod:`agentlab.budget.plot`;
this module loads, calls and prints.

``budget profile`` measures an endpoint with ``agentlab.llm.profile`` and stores the result
with ``agentlab.store.profile_store``; this module only wires the two and prints.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agentlab.budget.analysis import compare_policies, fit_summary, usd_per_sample
from agentlab.budget.fit import SelectionCurve
from agentlab.budget.plan import DEFAULT_SELECTIONS, Pilot, plan
from agentlab.budget.plot import plot_fit
from agentlab.budget.posterior import Interval
from agentlab.errors import ConfigError
from agentlab.llm import EndpointConfig, load_endpoints
from agentlab.llm.profile import LevelResult, best_tokens_per_s, parse_levels, profile_endpoint
from agentlab.store import open_store
from agentlab.store.budget_queries import RunOutcomes, read_run_outcomes
from agentlab.store.profile_store import endpoint_prices, save_profile

budget_app = typer.Typer(help="Coverage fits, budget plans and allocation policies.")
console = Console()

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", envvar="AGENTLAB_STORE", help="Store URL (default sqlite:///agentlab.db)."
    ),
]
UsdOpt = Annotated[
    float | None,
    typer.Option(help="USD per sample; default: the run's LLM spend / samples."),
]


def _fmt(iv: Interval, scale: float = 1.0, digits: int = 3) -> str:
    return (
        f"{iv.point * scale:.{digits}f} [{iv.low * scale:.{digits}f}, {iv.high * scale:.{digits}f}]"
    )


def _load(store: str | None, run_id: str) -> RunOutcomes:
    st = open_store(store)
    try:
        return read_run_outcomes(st, run_id)
    finally:
        st.close()


def _price_notes(store: str | None, run_id: str) -> list[str]:
    """Where ``run_id``'s endpoint prices came from (profile or pricing.yaml)."""
    st = open_store(store)
    try:
        return [f"{p.endpoint}: {p.note}" for p in endpoint_prices(st, run_id)]
    finally:
        st.close()


def _usd_per_sample(run: RunOutcomes, override: float | None, cpu_hour_usd: float) -> float | None:
    count = len(run.instance_ids) * run.samples
    return usd_per_sample(
        run.llm_usd, run.sandbox_seconds, count, override=override, cpu_hour_usd=cpu_hour_usd
    )


@budget_app.command("fit")
def fit_cmd(
    run_id: Annotated[str, typer.Argument(help="The run whose evaluations to fit.")],
    store: StoreOpt = None,
    out: Annotated[str | None, typer.Option(help="Write a PNG plot here.")] = None,
    base: Annotated[str, typer.Option(help="Log base of the power law: 10 or e.")] = "10",
    usd_per_sample: UsdOpt = None,
    cpu_hour_usd: Annotated[float, typer.Option(help="Sandbox price, USD per CPU-hour.")] = 0.0,
) -> None:
    """Fit coverage vs samples for RUN: power law and zero-inflated Beta model, with intervals."""
    run = _load(store, run_id)
    fit = fit_summary(run.resolved, base=base)
    console.print(f"run {run_id}: {fit.problems} problems x {run.samples} samples")
    if fit.law is not None:
        console.print(
            f"power law c(k) = {base}**(a * k**b): a = {_fmt(fit.law.a)}, b = {_fmt(fit.law.b)}"
            " (90%)"
        )
    for name, interval in fit.prior.items():
        console.print(f"prior {name} = {_fmt(interval)}")
    table = Table("k", "coverage (same problems)", "selected, state machine")
    for k, iv, sel in fit.rows:
        table.add_row(str(k), _fmt(iv), _fmt(sel))
    console.print(table)
    if out:
        usd = _usd_per_sample(run, usd_per_sample, cpu_hour_usd)
        plot_fit(out, fit.n, fit.c, fit.posterior, base, fit.efficiency, usd, fit.problems)
        console.print(f"plot written to {out}")


def _parse_selection(text: str) -> SelectionCurve:
    """``name=efficiency[@k][:usd_per_problem]``."""
    try:
        name, rest = text.split("=", 1)
        rest, _, usd = rest.partition(":")
        eff, _, k = rest.partition("@")
        return SelectionCurve(name, (int(k or 10),), (float(eff),), float(usd or 0.0))
    except ValueError as exc:
        raise ConfigError(
            f"--selection {text!r}: use name=efficiency[@k][:usd_per_problem], e.g. vote=0.76@10"
        ) from exc


@budget_app.command("plan")
def plan_cmd(
    pilot: Annotated[str, typer.Option("--pilot", help="The pilot run id.")],
    budget: Annotated[float, typer.Option("--budget", help="Total budget in USD.")],
    store: StoreOpt = None,
    problems: Annotated[int | None, typer.Option(help="Problems in the full run.")] = None,
    usd_per_sample: UsdOpt = None,
    cpu_hour_usd: Annotated[float, typer.Option(help="Sandbox price, USD per CPU-hour.")] = 0.0,
    selection: Annotated[
        list[str] | None, typer.Option(help="name=efficiency[@k][:usd]; repeatable.")
    ] = None,
) -> None:
    """The (k, iterations, selection) with the best predicted score for BUDGET, from a pilot."""
    if budget <= 0:
        raise ConfigError(f"--budget must be > 0 USD, got {budget}")
    run = _load(store, pilot)
    usd = _usd_per_sample(run, usd_per_sample, cpu_hour_usd)
    if usd is None:
        raise ConfigError(f"run {pilot!r} has no recorded spend; pass --usd-per-sample")
    sels = tuple(_parse_selection(s) for s in selection) if selection else DEFAULT_SELECTIONS
    result = plan(Pilot.from_final(run.resolved, usd, selections=sels), budget, problems=problems)
    best = result.best
    console.print(
        f"best for {budget:.2f} USD on {result.problems} problems: k={best.k} samples, "
        f"{best.iterations} iteration(s), selection={best.method}, cost {best.cost_usd:.2f} USD"
    )
    console.print(f"predicted score {_fmt(best.predicted)} (90%), coverage {_fmt(best.coverage)}")
    source = "--usd-per-sample" if usd_per_sample is not None else f"run {pilot}'s recorded spend"
    console.print(f"USD per sample {usd:.6f} from {source}", highlight=False)
    if usd_per_sample is None:
        for note in _price_notes(store, pilot):
            console.print(f"  {note}", highlight=False)


@budget_app.command("simulate")
def simulate_cmd(
    shape_name: Annotated[str, typer.Option("--shape", help="codemonkeys, long_tail or hard.")],
    problems: Annotated[int, typer.Option(help="Problems in the population.")] = 500,
    k: Annotated[int, typer.Option(help="Samples per problem for the uniform baseline.")] = 10,
    false_positive: Annotated[float, typer.Option(help="Verifier false-positive rate.")] = 0.1,
    false_negative: Annotated[float, typer.Option(help="Verifier false-negative rate.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Uniform-k vs adaptive vs oracle at the uniform policy's cost, on a simulated population."""
    rows = compare_policies(shape_name, problems, k, false_positive, false_negative, seed)
    table = Table("policy", "score", "cost USD", "samples/problem", "coverage")
    for r in rows:
        table.add_row(
            r.policy, f"{r.score:.3f}", f"{r.cost:.2f}", f"{r.samples:.2f}", f"{r.coverage:.3f}"
        )
    console.print(table)


def _pick_endpoint(path: str, name: str | None) -> EndpointConfig:
    endpoints = load_endpoints(path)
    if name is None:
        if len(endpoints) > 1:
            names = ", ".join(e.name for e in endpoints)
            raise ConfigError(
                f"endpoint config {path} has several endpoints ({names}); pass --name"
            )
        return endpoints[0]
    for endpoint in endpoints:
        if endpoint.name == name:
            return endpoint
    names = ", ".join(e.name for e in endpoints)
    raise ConfigError(f"endpoint config {path}: no endpoint named {name!r} (have: {names})")


def _level_row(r: LevelResult) -> list[str]:
    return [
        str(r.concurrency),
        str(r.requests),
        str(r.errors),
        str(r.completion_tokens),
        f"{r.seconds:.2f}",
        f"{r.tokens_per_s:.1f}",
        f"{r.requests_per_s:.2f}",
        f"{r.p50_s:.3f}",
        f"{r.p90_s:.3f}",
    ]


@budget_app.command("profile")
def profile_cmd(
    endpoints_yaml: Annotated[str, typer.Argument(help="YAML file of endpoint configs.")],
    name: Annotated[
        str | None, typer.Option(help="Which endpoint in the file (needed if it has several).")
    ] = None,
    levels: Annotated[str, typer.Option(help="Concurrency levels, comma-separated.")] = (
        "1,2,4,8,16"
    ),
    requests_per_level: Annotated[int, typer.Option(help="Requests sent at each level.")] = 32,
    max_tokens: Annotated[int, typer.Option(help="max_tokens of each request.")] = 256,
    store: StoreOpt = None,
) -> None:
    """Measure an endpoint's throughput and latency at several concurrency levels; store it."""
    endpoint = _pick_endpoint(endpoints_yaml, name)
    parsed = parse_levels(levels)
    if requests_per_level < 1 or max_tokens < 1:
        raise ConfigError("--requests-per-level and --max-tokens must be >= 1")
    st = open_store(store)  # opened first, so a bad store URL fails before any request
    try:
        console.print(
            f"profiling {endpoint.name} ({endpoint.model}): {requests_per_level} requests "
            f"of max_tokens={max_tokens} at concurrency {', '.join(map(str, parsed))}"
        )
        results = asyncio.run(
            profile_endpoint(
                endpoint, parsed, requests_per_level=requests_per_level, max_tokens=max_tokens
            )
        )
        run_id = f"profile-{uuid.uuid4().hex[:8]}"
        config = {
            "endpoint": endpoint.model_dump(mode="json"),
            "levels": list(parsed),
            "requests_per_level": requests_per_level,
            "max_tokens": max_tokens,
        }
        save_profile(
            st,
            run_id,
            name=endpoint.name,
            endpoint=endpoint.name,
            model=endpoint.model,
            config=config,
            results=results,
        )
    finally:
        st.close()
    table = Table(
        "concurrency",
        "ok",
        "errors",
        "tokens",
        "seconds",
        "tokens/s",
        "req/s",
        "p50 s",
        "p90 s",
        title=f"{endpoint.name} ({endpoint.model}): completion tokens, wall seconds",
    )
    for r in results:
        table.add_row(*_level_row(r))
    console.print(table)
    console.print(f"stored as run {run_id} (table throughput_profile)")
    best = best_tokens_per_s(results)
    if best is None:
        raise ConfigError(f"endpoint {endpoint.name}: no request succeeded; nothing to price")
    console.print(
        f"pricing: runs on this store now bill {endpoint.name} ({endpoint.model}) from this "
        f"profile, at the highest level not above their concurrency (best: "
        f"{best.tokens_per_s:.1f} tok/s at concurrency {best.concurrency}); it needs a gpu/cpu "
        f"entry {endpoint.price_key!r} in pricing.yaml for the dollars per hour",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(budget_app, name="budget")

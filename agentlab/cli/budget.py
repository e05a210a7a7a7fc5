"""``agentlab budget``: coverage fits, budget plans, policy simulations, endpoint profiles.

``budget profile`` measures an endpoint with ``agentlab.llm.profile`` and stores the result
with ``agentlab.store.profile_store``; this module only wires the two and prints.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from agentlab.budget.fit import SelectionCurve, bootstrap_power_law
from agentlab.budget.passk import coverage_curve, log_spaced_ks
from agentlab.budget.plan import DEFAULT_SELECTIONS, Pilot, plan
from agentlab.budget.policy import AdaptivePolicy, UniformPolicy
from agentlab.budget.posterior import Interval, PriorPosterior
from agentlab.budget.simulate import Verifier, run_policy, shape, simulate
from agentlab.errors import ConfigError
from agentlab.llm import EndpointConfig, load_endpoints
from agentlab.llm.profile import LevelResult, best_tokens_per_s, parse_levels, profile_endpoint
from agentlab.store import open_store
from agentlab.store.budget_queries import RunOutcomes, read_run_outcomes
from agentlab.store.profile_store import save_profile

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


def _usd_per_sample(run: RunOutcomes, override: float | None, cpu_hour_usd: float) -> float | None:
    if override is not None:
        if override <= 0:
            raise ConfigError(f"--usd-per-sample must be > 0, got {override}")
        return override
    total = run.llm_usd + run.sandbox_seconds * cpu_hour_usd / 3600.0
    count = len(run.instance_ids) * run.samples
    return total / count if total > 0 else None


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
    mat = np.asarray(run.resolved, dtype=bool)
    n = np.full(mat.shape[0], mat.shape[1])
    c = mat.sum(axis=1)
    ks = log_spaced_ks(run.samples, 8)
    console.print(f"run {run_id}: {mat.shape[0]} problems x {run.samples} samples")
    if len(ks) >= 2:
        law = bootstrap_power_law(n, c, ks, base=base)
        console.print(
            f"power law c(k) = {base}**(a * k**b): a = {_fmt(law.a)}, b = {_fmt(law.b)} (90%)"
        )
    post = PriorPosterior(n, c)
    for name in ("zero_mass", "alpha", "beta", "pass_at_1"):
        console.print(f"prior {name} = {_fmt(post.parameter_interval(name))}")
    table = Table("k", "coverage (same problems)", "selected, state machine")
    eff = float(DEFAULT_SELECTIONS[2]([10])[0])
    for k in sorted({1, run.samples, 2 * run.samples, 4 * run.samples, 8 * run.samples}):
        iv = post.predict_observed(k)
        sel = Interval(iv.point * eff, iv.low * eff, iv.high * eff)
        table.add_row(str(k), _fmt(iv), _fmt(sel))
    console.print(table)
    if out:
        usd = _usd_per_sample(run, usd_per_sample, cpu_hour_usd)
        plot_fit(out, n, c, post, base, eff, usd, len(run.instance_ids))
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
    if problems < 5 or k < 1:
        raise ConfigError("--problems must be >= 5 and --k >= 1")
    pop = shape(shape_name)
    verifier = Verifier(false_positive, false_negative)
    out = simulate(pop, problems, max(64, 4 * k), verifier, seed)
    uniform = run_policy(UniformPolicy(k), out, float("inf"))
    table = Table("policy", "score", "cost USD", "samples/problem", "coverage")
    rows = [uniform]
    for oracle in (False, True):
        policy = AdaptivePolicy(
            pop.prior,
            sample_usd=pop.sample_usd,
            false_positive=false_positive,
            false_negative=false_negative,
            max_samples=out.correct.shape[1],
            oracle=oracle,
        )
        rows.append(run_policy(policy, out, uniform.cost))
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
        f"pricing: set tokens_per_s: {best.tokens_per_s:.0f} under {endpoint.price_key!r} "
        f"(kind gpu or cpu) in configs/pricing.yaml (best aggregate, at concurrency "
        f"{best.concurrency})"
    )


def plot_fit(
    path: str,
    n: np.ndarray,
    c: np.ndarray,
    post: PriorPosterior,
    base: str,
    efficiency: float,
    usd_per_sample: float | None,
    problems: int,
) -> None:
    """Coverage and selected score vs k (and vs dollars when the cost is known), with bands."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to a file
    import matplotlib.pyplot as plt

    observed = log_spaced_ks(int(n.min()), 8)
    ks = log_spaced_ks(int(n.min()) * 8, 16)
    preds = [post.predict_observed(k) for k in ks]
    mid = np.array([p.point for p in preds])
    low, high = np.array([p.low for p in preds]), np.array([p.high for p in preds])
    panels = 2 if usd_per_sample else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5), squeeze=False)
    xs = [np.asarray(ks, dtype=float)]
    if usd_per_sample:
        xs.append(np.asarray(ks, dtype=float) * usd_per_sample * problems)
    for ax, x, label in zip(axes[0], xs, ["samples per problem k", "USD"], strict=False):
        scale = x[0] / ks[0]
        ax.plot(np.asarray(observed) * scale, coverage_curve(n, c, observed), "o", label="pass@k")
        ax.plot(x, mid, label="coverage, zero-inflated Beta model")
        ax.fill_between(x, low, high, alpha=0.25, label="90% interval")
        ax.plot(x, mid * efficiency, "--", label="selected (state machine)")
        ax.fill_between(x, low * efficiency, high * efficiency, alpha=0.15)
        if len(observed) >= 2:
            law = bootstrap_power_law(n, c, observed, base=base, reps=100)
            ax.plot(x, law.law(ks), ":", label=f"power law, base {base}")
            law_low, law_high = law.band(ks)
            ax.fill_between(x, law_low, law_high, alpha=0.1, color="grey")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("score")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def register(app: typer.Typer) -> None:
    app.add_typer(budget_app, name="budget")

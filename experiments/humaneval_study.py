"""Evidence on real model output: the HumanEval study of docs/results.md.

Runs (or resumes) three `agentlab run`s with the local model, all into one store:

  he-scaling  80 problems x 32 samples, one turn       configs/experiments/humaneval-scaling.yaml
  he-serial1  the same 80 x 1 trajectory of 4 turns   configs/experiments/humaneval-serial.yaml
  he-plan     the run `budget plan` chose for 40 held-back problems, under its hard cap
  he-judge-k8 a re-selection of he-scaling's first 8 samples with the model as judge

then grades every turn of the serial run, runs every sampled completion against the model's
own asserts (one Docker sandbox, results cached), and writes figures, tables and the SQL behind
them to --out. A rerun finishes whatever is missing and repeats nothing stored.

    python experiments/humaneval_study.py [--store URL] [--out DIR] [--orders 50] [--analyse-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml
from evidence import analyses as an
from evidence import data, probes, report

from agentlab.budget.fit import SelectionCurve
from agentlab.budget.plan import Pilot, plan
from agentlab.budget.reserve import cap_reserve
from agentlab.config import load_experiment
from agentlab.coordinator.kinds.humaneval import EXEC_WORST_S
from agentlab.coordinator.reselect import reselect
from agentlab.llm.pricing import default_pricing_path, load_pricing
from agentlab.sandbox import make_provider
from agentlab.scoring.diffs import patch_sha
from agentlab.store import open_store
from agentlab.store.db import Store
from agentlab.tasks import humaneval as he

ROOT = Path(__file__).resolve().parent.parent
SCALING = ROOT / "configs/experiments/humaneval-scaling.yaml"
SERIAL = ROOT / "configs/experiments/humaneval-serial.yaml"
STORE = "sqlite:///experiments/out/evidence.db"
JUDGE_KS = (8,)  # the judge runs top_m calls per problem: one k keeps the study's time down


def ensure_run(
    store: Store, url: str, config: Path, run_id: str, overrides: Sequence[str] = ()
) -> None:
    """Start the run, resume it if it stopped, or leave it if it finished."""
    status = data.run_status(store, run_id)
    if status not in (None, "running", "interrupted", "failed"):
        return  # finished, or stopped by its hard cap: done either way
    cmd = [sys.executable, "-m", "agentlab", "run", "--store", url]
    if status is None:
        cmd += [str(config), *overrides, "--run-id", run_id]
    else:
        cmd += ["--resume", run_id]
    print(f"$ agentlab {' '.join(cmd[3:6])}{' ...' if len(cmd) > 6 else ''}", flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=os.environ.get("AGENTLAB_EVIDENCE_STORE", STORE))
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/out/humaneval")
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--analyse-only", action="store_true", help="Run no model; read the store.")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="The whole study with the scripted model on 10 problems x 8 samples (a plumbing"
        " check in a minute or two; its numbers mean nothing). Use a scratch --store/--out.",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    store = open_store(args.store)
    overrides: list[str] = []
    if args.smoke:
        overrides = [
            "dataset.limit=10",
            "endpoints=../models/scripted.yaml",
            "models.editing.endpoint=scripted",
            "models.testing.endpoint=scripted",
            f"store={args.store}",
        ]
    width = load_experiment(
        SCALING, overrides + (["sampling.k=8"] if args.smoke else [])
    ).sampling.k
    tasks = list(load_experiment(SCALING, overrides).dataset.instances)[
        : 10 if args.smoke else None
    ]
    if not args.analyse_only:
        ensure_run(store, args.store, SCALING, "he-scaling", [*overrides, f"sampling.k={width}"])
        ensure_run(store, args.store, SERIAL, "he-serial1", overrides)
    problems = he.load_problems()
    scaling = data.sampled(store, "he-scaling", tasks)
    serial = data.trajectories(store, "he-serial1")
    out = report.Report(args.out, args.store)
    cache = probes.Cache(args.out / "cache.json")
    asserts = {
        t: probes.asserts_of(
            [tr.tests for (tt, _), tr in serial.items() if tt == t], problems[t].entry_point
        )
        for t in tasks
    }
    grade_items = {
        probes.digest(probes.grading_program(problems[t], c)): probes.grading_program(
            problems[t], c
        )
        for (t, _), tr in serial.items()
        for c in tr.completions
    }
    probe_items = {}
    for i, t in enumerate(tasks):
        for c in scaling.completions[i]:
            program = probes.probe_program(problems[t], c, asserts[t])
            probe_items[probes.digest(program)] = program
    asyncio.run(probes.run_all(cache, grade_items, probe_items))

    # a. scaling -----------------------------------------------------------------------------
    ks = [k for k in (1, 2, 4, 8, 16, 32) if k <= width]
    point, low, high = an.bootstrap_coverage(scaling.resolved, ks)
    seen = width // 4  # fit on 8 of 32 samples, predict 16 and 32
    preds = an.predictions_over_orders(
        scaling.resolved, seen=seen, ks=(width // 2, width), orders=args.orders
    )
    out.scaling(scaling, ks, point, low, high, preds)

    # a2. serial vs parallel at equal cost ---------------------------------------------------
    trajs = [serial[key] for key in sorted(serial) if key[0] in set(tasks)]

    def solved(tr: data.Trajectory, turns: int) -> bool:
        program = probes.grading_program(problems[tr.task_id], tr.completion_at(turns))
        return cache.data.get(f"g:{probes.digest(program)}") == "passed"

    usd_one = float(scaling.usd.mean())
    serial_rows = []
    per_task = {t: [tr for tr in trajs if tr.task_id == t] for t in tasks}
    trajs_per = min(len(v) for v in per_task.values())
    outcomes = np.zeros((len(tasks), trajs_per, 4), dtype=bool)
    usd_turn = np.zeros(4)
    for turns in (1, 2, 3, 4):
        for i, t in enumerate(tasks):
            for j, tr in enumerate(per_task[t][:trajs_per]):
                outcomes[i, j, turns - 1] = solved(tr, turns)
        usd_turn[turns - 1] = float(np.mean([tr.usd_at(turns) for tr in trajs]))
    for turns in (1, 2, 4):
        for k in range(1, trajs_per + 1):
            cov = an.interpolated_coverage(outcomes[:, :, turns - 1], k)
            equal_k = k * usd_turn[turns - 1] / usd_one
            parallel = an.interpolated_coverage(scaling.resolved, equal_k)
            serial_rows.append((turns, k, k * usd_turn[turns - 1], cov, equal_k, parallel))
    marginal = tuple(float(x) for x in np.diff(np.concatenate([[0.0], usd_turn])))
    serial_plan = plan(
        Pilot(outcomes, marginal, selections=(SelectionCurve("random", (1,), (1.0,)),)),
        len(tasks) * seen * usd_one,
        problems=len(tasks),
    )
    parallel_curve = [
        (k * usd_one, an.interpolated_coverage(scaling.resolved, k)) for k in range(1, 9)
    ]
    out.serial(serial_rows, usd_turn, usd_one, serial_plan, trajs, parallel_curve)

    # b. allocation by replay ----------------------------------------------------------------
    def probed(i: int, completion: str) -> list[tuple[bool, str]] | None:
        program = probes.probe_program(problems[tasks[i]], completion, asserts[tasks[i]])
        return cache.data.get(f"p:{probes.digest(program)}")  # type: ignore[return-value]

    probe_of = [[probed(i, c) for c in scaling.completions[i]] for i in range(len(tasks))]
    own = np.array([[bool(r) and all(ok for ok, _ in r or []) for r in row] for row in probe_of])
    outputs = [[tuple(o for _, o in r) if r else () for r in row] for row in probe_of]
    agree = np.zeros_like(own)
    for i, row in enumerate(outputs):
        for j, vec in enumerate(row):
            agree[i, j] = bool(vec) and any(not o.startswith("!") for o in vec) and vec in row[:j]
    folds = (np.arange(0, len(tasks), 2), np.arange(1, len(tasks), 2))
    replay = []
    for name, signal in (
        ("own asserts", own),
        ("output agreement", agree),
        ("none", np.zeros_like(own)),
    ):
        fp, fn = an.measured_verifier(scaling.resolved, signal)
        rows = an.replay_policies(
            scaling.resolved,
            signal,
            scaling.usd,
            uniform_k=width // 2,
            folds=folds,
            signal=name,
            pilot=seen,
        )
        replay.append((name, fp, fn, rows))
    out.replay(replay)

    # c. selection ---------------------------------------------------------------------------
    shas = [[patch_sha(c) for c in row] for row in scaling.completions]
    passes = [
        [frozenset(a for a, (ok, _) in enumerate(r) if ok) if r else frozenset() for r in row]
        for row in probe_of
    ]
    sel_rows = []
    for k in ks:
        codet = np.mean(
            [
                scaling.resolved[i, an.codet_pick(passes[i][:k], outputs[i][:k], shas[i][:k])]
                for i in range(len(tasks))
            ]
        )
        vote = np.mean(
            [scaling.resolved[i, an.majority_pick(shas[i][:k])] for i in range(len(tasks))]
        )
        cov = float(scaling.resolved[:, :k].any(axis=1).mean())
        pass1 = float(scaling.resolved[:, :k].mean())
        sel_rows.append((k, pass1, float(vote), float(codet), cov))
    out.selection(sel_rows, asserts)

    # c2. a verifier the small model serves, by re-selection (no new sample) -------------------
    endpoint = "scripted" if args.smoke else "local-smollm2"
    judge = [
        "selection.methods=[{type: judge, logprobs: true}]",
        f"models.verifier.endpoint={endpoint}",
        "models.verifier.temperature=0",
        "models.verifier.max_tokens=1",
        "selection.top_m=3",
    ]
    judged = []
    for k in [k for k in JUDGE_KS if k <= width]:
        rid = f"he-judge-k{k}"
        if not args.analyse_only and data.run_status(store, rid) != "finished":
            print(f"$ agentlab select --from run:he-scaling --k {k} --run-id {rid} --set ...")
            asyncio.run(
                reselect(
                    store, "he-scaling", k, run_id=rid, provider=make_provider(), overrides=judge
                )
            )
        outcome = report.judged_outcome(store, rid)
        if outcome is not None:
            judged.append((k, rid, outcome))
    out.verifier(judged, "the sampling model")

    # d. planning on held-back problems ------------------------------------------------------
    pilot_idx, held = folds
    pilot_res = scaling.resolved[pilot_idx, : width // 8]
    usd_pilot = float(scaling.usd[pilot_idx, : width // 8].mean())
    pilot_k = width // 8  # 4 of 32 samples per pilot problem
    vote_ks = [k for k in (2, 4, 8) if k <= pilot_k]
    vote_eff = []
    for k in vote_ks:
        picked = np.mean([scaling.resolved[i, an.majority_pick(shas[i][:k])] for i in pilot_idx])
        cov = scaling.resolved[pilot_idx, :k].any(axis=1).mean()
        vote_eff.append(float(picked / cov) if cov else 0.0)
    curves = (SelectionCurve("random", (1,), (1.0,)),) + (
        (SelectionCurve("vote", tuple(vote_ks), tuple(vote_eff)),) if vote_ks else ()
    )
    budget = len(held) * seen * usd_pilot
    # The run's hard cap holds each call's and exec's worst case before it starts, so that
    # much of a cap is never spendable: plan for `budget`, run under `budget + reserve`.
    price = default_pricing_path()
    reserve = cap_reserve(
        in_flight=2,
        max_sample_usd=float(scaling.usd[pilot_idx, :pilot_k].max()),
        sandbox_cpu_hour_usd=load_pricing(price).sandbox_cpu_hour_usd if price else None,
        exec_cpus=2.0,
        exec_worst_s=EXEC_WORST_S,
    )
    chosen = plan(
        Pilot.from_final(pilot_res, usd_pilot, selections=curves),
        budget,
        problems=len(held),
        k_max=64,
    )
    held_tasks = [tasks[i] for i in held]
    if not args.analyse_only:
        config = args.out / "he-plan.yaml"
        base = load_experiment(SCALING, overrides).model_dump(mode="json", exclude_defaults=True)
        base.update(
            run_name="humaneval-planned",
            endpoints=[str((SCALING.parent / e).resolve()) for e in base["endpoints"]],
            store=args.store,
            seed=1,
        )
        base["dataset"]["instances"] = held_tasks
        base["sampling"] = {"k": chosen.best.k, "n": 1}
        base["budget"] = {"cap_usd": budget + reserve}
        base["selection"] = {"enabled": True, "methods": []}
        config.write_text(yaml.safe_dump(base, sort_keys=False))
        ensure_run(store, args.store, config, "he-plan")
    realized = report.planned_outcome(store, "he-plan")
    out.planning(chosen, budget, reserve, usd_pilot, curves, pilot_res, realized, held_tasks)

    fit_error = out.numbers["fit_error_points"]
    result = (
        f"RESULT fit_error_points={fit_error:.2f} interval_hits={out.numbers['interval_hits']:.2f} "
        f"adaptive_cost_ratio={out.numbers['adaptive_cost_ratio']:.2f} "
        f"selected_minus_pass1={out.numbers['selected_minus_pass1']:.1f}"
    )
    out.finish(time.perf_counter() - start, result)
    print(result)
    store.close()


if __name__ == "__main__":
    main()

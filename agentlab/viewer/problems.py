"""Data of a problem's page and of a trajectory's page: seeks on (run, problem[, sample]).

Every query here goes through a unique index whose prefix is (run_id, task_id), or the
(run_id, task_id, sample) index of ``llm_call``, so the cost follows the problem's own rows,
never the run's size. Long texts (a 10 MB command output) are cut to ``CUT`` characters; the
full text is one more request (``turn_text``), served as plain text.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from agentlab.errors import ConfigError
from agentlab.viewer.db import ReadOnlyStore
from agentlab.viewer.runs import NotFoundError, get_run

CUT = 20_000
STAGES = {"relevance": 0, "ranking": 1, "testing": 2, "editing": 3}
EXEC_KEYS = ("run", "original", "patched")


def _sample(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"sample must be a whole number, got {value!r}") from None


def _record(raw: str) -> dict[str, Any]:
    try:
        found = json.loads(raw or "{}")
    except ValueError:
        return {"error": "this step's record is not valid JSON"}
    return found if isinstance(found, dict) else {"value": found}


def _passed(stage: str, rec: dict[str, Any]) -> bool | None:
    """Did the trajectory's own test pass on its patched code (editing steps only)?

    A testing step runs the new test on the original code, where failing is the point, so
    it gets no pass/fail mark; the grid shows its exit code instead.
    """
    run = rec.get("patched") if stage == "editing" else None
    if not isinstance(run, dict):
        return None
    return run.get("exit_code") == 0


def _exit(rec: dict[str, Any]) -> int | None:
    run = rec.get("run")
    return run.get("exit_code") if isinstance(run, dict) else None


def _costs(
    db: ReadOnlyStore, run_id: str, task_id: str, sample: int | None = None
) -> dict[tuple[int, str, int], dict[str, Any]]:
    extra = "" if sample is None else " AND sample = :s"
    out: dict[tuple[int, str, int], dict[str, Any]] = {}
    for r in db.rows(
        "SELECT sample, role, step, COUNT(*) AS calls, SUM(prompt_tokens) AS prompt_tokens,"
        " SUM(completion_tokens) AS completion_tokens, SUM(usd) AS usd FROM llm_call"
        f" WHERE run_id = :r AND task_id = :t{extra} GROUP BY sample, role, step",
        r=run_id,
        t=task_id,
        s=sample,
    ):
        out[(int(r["sample"]), r["role"], int(r["step"]))] = {
            "calls": int(r["calls"]),
            "prompt_tokens": int(r["prompt_tokens"] or 0),
            "completion_tokens": int(r["completion_tokens"] or 0),
            "usd": float(r["usd"] or 0.0),
        }
    return out


def problem_page(db: ReadOnlyStore, run_id: str, task_id: str) -> dict[str, Any]:
    """Sample x turn grid, candidates, the vote matrix with the pick, the hidden tests."""
    get_run(db, run_id)
    trajectories = db.rows(
        "SELECT sample, stage, status, error, attempts FROM trajectory"
        " WHERE run_id = :r AND task_id = :t ORDER BY sample",
        r=run_id,
        t=task_id,
    )
    evaluations = db.rows(
        "SELECT id, sample, model_name, outcome, resolved, patch_applied, error FROM evaluation"
        " WHERE run_id = :r AND instance_id = :t ORDER BY sample",
        r=run_id,
        t=task_id,
    )
    task = db.one(
        "SELECT status, error FROM task WHERE run_id = :r AND task_id = :t", r=run_id, t=task_id
    )
    costs = _costs(db, run_id, task_id)
    grid: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in db.rows(
        "SELECT id, sample, stage, step, action, record_json FROM turn"
        " WHERE run_id = :r AND task_id = :t",
        r=run_id,
        t=task_id,
    ):
        rec = _record(r["record_json"])
        cost = costs.get((int(r["sample"]), r["stage"], int(r["step"])), {})
        grid[int(r["sample"])].append(
            {
                "id": r["id"],
                "stage": r["stage"],
                "step": r["step"],
                "action": r["action"],
                "passed": _passed(r["stage"], rec),
                "exit": _exit(rec),
                "usd": cost.get("usd"),
                "error": rec.get("error"),
            }
        )
    for cells in grid.values():
        cells.sort(key=lambda c: (STAGES.get(c["stage"], 9), c["step"]))
    candidates = db.rows(
        "SELECT c.id, c.source, c.sample, c.status, c.resolved, c.patch_sha, c.usd,"
        " v.votes, v.rank, v.kept FROM candidate c LEFT JOIN candidate_vote v ON"
        " v.candidate_id = c.id WHERE c.run_id = :r AND c.task_id = :t ORDER BY c.source, c.sample",
        r=run_id,
        t=task_id,
    )
    if not trajectories and not evaluations and task is None and not candidates:
        raise NotFoundError(f"problem {task_id!r} is not in run {run_id!r}")
    selections = db.rows(
        "SELECT method, candidate_id, fallback, reason FROM selection"
        " WHERE run_id = :r AND task_id = :t ORDER BY id",
        r=run_id,
        t=task_id,
    )
    votes = db.rows(
        "SELECT candidate_id, test_candidate_id, passed, exit_code, timed_out FROM test_vote"
        " WHERE run_id = :r AND task_id = :t ORDER BY candidate_id, test_candidate_id",
        r=run_id,
        t=task_id,
    )
    tests: dict[int, dict[str, int]] = {}
    if evaluations:
        for r in db.rows(
            "SELECT evaluation_id, COUNT(*) AS total, SUM(CASE WHEN passed THEN 1 ELSE 0 END)"
            " AS passed FROM test_result WHERE evaluation_id IN (SELECT id FROM evaluation"
            " WHERE run_id = :r AND instance_id = :t) GROUP BY evaluation_id",
            r=run_id,
            t=task_id,
        ):
            tests[int(r["evaluation_id"])] = {"total": int(r["total"]), "passed": int(r["passed"])}
    return {
        "run_id": run_id,
        "task_id": task_id,
        "task": task,
        "trajectories": trajectories,
        "grid": [{"sample": s, "cells": grid[s]} for s in sorted(grid)],
        "candidates": candidates,
        "selections": selections,
        "votes": votes,
        "evaluations": [{**e, "tests": tests.get(int(e["id"]))} for e in evaluations],
    }


def _cut(text: Any, path: str) -> dict[str, Any]:
    """The first CUT characters, the full length, and the field's path for ``turn_text``."""
    value = "" if text is None else str(text)
    return {"text": value[:CUT], "length": len(value), "cut": len(value) > CUT, "path": path}


def _exec(run: Any, key: str) -> dict[str, Any] | None:
    if not isinstance(run, dict):
        return None
    return {
        "exit_code": run.get("exit_code"),
        "duration_s": run.get("duration_s"),
        "timed_out": run.get("timed_out"),
        "truncated": run.get("truncated"),
        "stdout": _cut(run.get("stdout"), f"{key}.stdout"),
        "stderr": _cut(run.get("stderr"), f"{key}.stderr"),
    }


def trajectory_page(
    db: ReadOnlyStore, run_id: str, task_id: str, sample_value: Any
) -> dict[str, Any]:
    """Every turn of one sample: messages, edit diff, the test run and its output, tokens, $."""
    get_run(db, run_id)
    sample = _sample(sample_value)
    traj = db.one(
        "SELECT sample, stage, status, error, attempts, updated_at FROM trajectory"
        " WHERE run_id = :r AND task_id = :t AND sample = :s",
        r=run_id,
        t=task_id,
        s=sample,
    )
    if traj is None:
        raise NotFoundError(f"sample {sample} of problem {task_id!r} is not in run {run_id!r}")
    costs = _costs(db, run_id, task_id, sample)
    turns = []
    for r in db.rows(
        "SELECT id, stage, step, action, record_json, created_at FROM turn"
        " WHERE run_id = :r AND task_id = :t AND sample = :s",
        r=run_id,
        t=task_id,
        s=sample,
    ):
        rec = _record(r["record_json"])
        messages = rec.get("messages") or []
        script_key = "script" if rec.get("script") else "test"
        turns.append(
            {
                "id": r["id"],
                "stage": r["stage"],
                "step": r["step"],
                "action": r["action"],
                "created_at": r["created_at"],
                "messages": [
                    {"role": m.get("role", "?"), **_cut(m.get("content"), f"messages.{i}.content")}
                    for i, m in enumerate(messages)
                    if isinstance(m, dict)
                ],
                "diff": _cut(rec.get("diff"), "diff") if rec.get("diff") else None,
                "script": _cut(rec.get(script_key), script_key) if rec.get(script_key) else None,
                "execs": {
                    k: _exec(rec.get(k), k) for k in EXEC_KEYS if isinstance(rec.get(k), dict)
                },
                "error": rec.get("error"),
                "cost": costs.get((sample, r["stage"], int(r["step"]))),
            }
        )
    turns.sort(key=lambda t: (STAGES.get(t["stage"], 9), t["step"]))
    # Calls logged under this sample that no step of it owns (the shared context stage logs
    # its calls under sample 0 while its steps are stored as sample -1).
    owned = {(sample, t["stage"], int(t["step"])) for t in turns}
    other = [
        {"role": role, "step": step, **cost}
        for (_s, role, step), cost in sorted(costs.items())
        if (_s, role, step) not in owned
    ]
    candidate = db.one(
        "SELECT id, status, resolved, patch_sha FROM candidate WHERE run_id = :r AND task_id = :t"
        " AND source = '' AND sample = :s",
        r=run_id,
        t=task_id,
        s=sample,
    )
    return {
        "run_id": run_id,
        "task_id": task_id,
        "trajectory": traj,
        "turns": turns,
        "other_calls": other,
        "candidate": candidate,
    }


def turn_text(db: ReadOnlyStore, turn_id: Any, path: str) -> str:
    """One whole text field of a step record (``messages.0.content``, ``run.stdout``, ...)."""
    row = db.one("SELECT record_json FROM turn WHERE id = :i", i=_sample(turn_id))
    if row is None:
        raise NotFoundError(f"step {turn_id} is not in this store")
    node: Any = _record(row["record_json"])
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise NotFoundError(f"step {turn_id} has no field {path!r}")
    return "" if node is None else str(node)

"""Whole-run aggregates for the run page, and McNemar's exact test for the compare page.

Coverage vs k uses the budget package's estimators (``pass_at_k``, ``coverage_curve``, the
bootstrap power law and the zero-inflated Beta posterior), the same functions behind
``agentlab budget fit``, so the page and the CLI report the same numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from agentlab.budget.fit import bootstrap_power_law
from agentlab.budget.passk import coverage_curve, log_spaced_ks
from agentlab.errors import ConfigError
from agentlab.viewer.db import ReadOnlyStore
from agentlab.viewer.runs import get_run, parse_time

TIME_BUCKETS = 40


def counts(db: ReadOnlyStore, run_id: str) -> tuple[list[str], list[int], list[int]]:
    """Per problem: graded samples ``n`` and resolved ones ``c`` (hidden tests).

    From the run's evaluations; a selection run grades no samples itself, so its pooled
    candidates' stored ``resolved`` flags stand in.
    """
    rows = db.rows(
        "SELECT instance_id, COUNT(*) AS n, SUM(CASE WHEN resolved THEN 1 ELSE 0 END) AS c"
        " FROM evaluation WHERE run_id = :r GROUP BY instance_id ORDER BY instance_id",
        r=run_id,
    ) or db.rows(
        "SELECT task_id AS instance_id, COUNT(*) AS n, SUM(CASE WHEN resolved THEN 1 ELSE 0"
        " END) AS c FROM candidate WHERE run_id = :r AND resolved IS NOT NULL"
        " GROUP BY task_id ORDER BY task_id",
        r=run_id,
    )
    return (
        [r["instance_id"] for r in rows],
        [int(r["n"]) for r in rows],
        [int(r["c"] or 0) for r in rows],
    )


def coverage_block(n: list[int], c: list[int]) -> dict[str, Any]:
    """Observed coverage at log-spaced k, and the power-law fit with its band when it fits."""
    if not n:
        return {"ks": [], "coverage": [], "fit": None, "fit_note": "no graded samples yet"}
    n_arr, c_arr = np.asarray(n), np.asarray(c)
    ks = log_spaced_ks(int(n_arr.min()), 8)
    out: dict[str, Any] = {
        "ks": ks,
        "coverage": [float(v) for v in coverage_curve(n_arr, c_arr, ks)],
        "fit": None,
        "fit_note": "",
    }
    if len(ks) < 2:
        out["fit_note"] = "one sample per problem: no curve to fit"
        return out
    try:
        law = bootstrap_power_law(n_arr, c_arr, ks, reps=100)
    except ConfigError as exc:
        out["fit_note"] = str(exc)
        return out
    low, high = law.band(ks)
    out["fit"] = {
        "a": law.a.point,
        "b": law.b.point,
        "base": law.law.base,
        "curve": [float(v) for v in law.law(ks)],
        "low": [float(v) for v in low],
        "high": [float(v) for v in high],
    }
    return out


def run_stats(db: ReadOnlyStore, run_id: str) -> dict[str, Any]:
    """Coverage, selected vs random pick, cost by stage/model and over time, for one run."""
    run = get_run(db, run_id)
    ids, n, c = counts(db, run_id)
    problems = len(ids)
    coverage = sum(1 for v in c if v > 0) / problems if problems else None
    random_pick = sum(ci / ni for ni, ci in zip(n, c, strict=True)) / problems if problems else None
    selected: dict[str, dict[str, Any]] = {}
    for r in db.rows(
        "SELECT s.method, COUNT(*) AS picks, SUM(CASE WHEN c.resolved THEN 1 ELSE 0 END) AS"
        " resolved FROM selection s LEFT JOIN candidate c ON c.id = s.candidate_id"
        " WHERE s.run_id = :r GROUP BY s.method ORDER BY s.method",
        r=run_id,
    ):
        selected[r["method"]] = {
            "picks": int(r["picks"]),
            "resolved": int(r["resolved"] or 0),
            "score": int(r["resolved"] or 0) / problems if problems else None,
        }
    by_role = db.rows(
        "SELECT role, model, COUNT(*) AS calls, SUM(prompt_tokens) AS prompt_tokens,"
        " SUM(completion_tokens) AS completion_tokens, SUM(usd) AS usd FROM llm_call"
        " WHERE run_id = :r GROUP BY role, model ORDER BY role, model",
        r=run_id,
    )
    return {
        "problems": problems,
        "samples": sum(n),
        "coverage": coverage,
        "random_pick": random_pick,
        "selected": selected,
        "realized": run["realized_score"],
        "predicted": [run["predicted_score"], run["predicted_low"], run["predicted_high"]],
        "curve": coverage_block(n, c),
        "cost_by_role": by_role,
        "cost_over_time": cost_over_time(db, run_id),
        "sandbox_s": float(
            (
                db.one("SELECT SUM(duration_s) AS s FROM sandbox_exec WHERE run_id = :r", r=run_id)
                or {}
            ).get("s")
            or 0.0
        ),
    }


def cost_over_time(db: ReadOnlyStore, run_id: str) -> list[dict[str, Any]]:
    """Cumulative dollars at up to TIME_BUCKETS evenly spaced moments of the run."""
    rows = db.rows(
        "SELECT created_at, usd FROM llm_call WHERE run_id = :r ORDER BY created_at", r=run_id
    )
    if not rows:
        return []
    step = max(1, math.ceil(len(rows) / TIME_BUCKETS))
    start = parse_time(rows[0]["created_at"])
    out, total = [], 0.0
    for i, r in enumerate(rows):
        total += float(r["usd"] or 0.0)
        if (i + 1) % step == 0 or i == len(rows) - 1:
            at = parse_time(r["created_at"])
            minutes = (at - start).total_seconds() / 60 if at and start else None
            out.append(
                {"t": str(r["created_at"]), "minutes": minutes, "calls": i + 1, "usd": total}
            )
    return out


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for discordant pair counts ``b`` and ``c``."""
    total = b + c
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, i) for i in range(min(b, c) + 1)) / 2.0**total
    return min(1.0, 2.0 * tail)


def compare(db: ReadOnlyStore, a: str, b: str) -> dict[str, Any]:
    """Paired outcomes of two runs on their common problems (solved = any sample resolved)."""
    runs = {rid: get_run(db, rid) for rid in (a, b)}
    per: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for rid in (a, b):
        ids, n, c = counts(db, rid)
        for pid, ni, ci in zip(ids, n, c, strict=True):
            per[pid][rid] = {"n": ni, "c": ci, "solved": ci > 0}
        for r in db.rows(
            "SELECT task_id, SUM(usd) AS usd FROM llm_call WHERE run_id = :r GROUP BY task_id",
            r=rid,
        ):
            if r["task_id"] in per and rid in per[r["task_id"]]:
                per[r["task_id"]][rid]["usd"] = float(r["usd"] or 0.0)
        for r in db.rows(
            "SELECT s.task_id, c.resolved FROM selection s LEFT JOIN candidate c ON"
            " c.id = s.candidate_id WHERE s.run_id = :r ORDER BY s.id",
            r=rid,
        ):
            if r["task_id"] in per and rid in per[r["task_id"]]:
                per[r["task_id"]][rid]["selected"] = bool(r["resolved"])
    common = sorted(pid for pid, v in per.items() if a in v and b in v)
    rows = []
    only_a = only_b = 0
    for pid in common:
        ra, rb = per[pid][a], per[pid][b]
        flipped = ra["solved"] != rb["solved"]
        only_a += ra["solved"] and not rb["solved"]
        only_b += rb["solved"] and not ra["solved"]
        rows.append({"task_id": pid, "a": ra, "b": rb, "flipped": flipped})
    rows.sort(key=lambda r: (not r["flipped"], r["task_id"]))
    count = len(common)

    def share(rid: str, key: str) -> float | None:
        if not count or not any(key in per[p][rid] for p in common):
            return None  # e.g. no selection in this run
        return sum(bool(per[p][rid].get(key)) for p in common) / count if count else None

    def usd(rid: str) -> float:
        return float(sum(per[p][rid].get("usd", 0.0) for p in common))

    summary = {
        rid: {
            "name": runs[rid]["name"],
            "coverage": share(rid, "solved"),
            "selected": share(rid, "selected"),
            "usd": usd(rid),
        }
        for rid in (a, b)
    }
    return {
        "a": a,
        "b": b,
        "common": count,
        "only_a": only_a,
        "only_b": only_b,
        "p_value": mcnemar_exact(only_a, only_b),
        "summary": summary,
        "rows": rows[:500],
        "rows_total": len(rows),
    }

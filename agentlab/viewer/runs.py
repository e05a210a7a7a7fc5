"""Data of the runs list and of one run's page, each a bounded number of indexed queries.

The run page itself (``run``), its problem table (``problems``, 50 a page) and its policy
decisions (``decisions``, 20 a page) read only the rows they show. ``stats`` (coverage vs k,
costs by stage/model and over time, selected vs random pick) aggregates the whole run, so it
is its own request, loaded after the page, and cached for runs that can no longer change.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import defaultdict
from typing import Any

from agentlab.errors import ConfigError
from agentlab.viewer.db import ReadOnlyStore, Row

PAGE = 50
DECISIONS_PAGE = 20
STOPS = 50
SORTS = {
    "created": "created_at",
    "name": "name",
    "kind": "kind",
    "status": "status",
    "spent": "spent_usd",
    "score": "realized_score",
}


class NotFoundError(ConfigError):
    """A run, problem or trajectory the page asks for is not in the store."""


def _page(value: Any) -> int:
    try:
        page = int(value or 0)
    except (TypeError, ValueError):
        raise ConfigError(f"page must be a whole number, got {value!r}") from None
    if page < 0:
        raise ConfigError(f"page must be >= 0, got {page}")
    return page


def parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def duration_s(row: Row) -> float | None:
    start, end = parse_time(row.get("created_at")), parse_time(row.get("finished_at"))
    return (end - start).total_seconds() if start and end else None


def models_of(config_json: str) -> list[str]:
    """Endpoints or models a run's config names (for the runs list), at most five."""
    try:
        config = json.loads(config_json or "{}")
    except ValueError:
        return []
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("endpoint", "model", "model_name") and isinstance(value, str):
                    if value and value not in found:
                        found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(config.get("experiment", config))
    return found[:5]


def _in(ids: list[str]) -> tuple[str, dict[str, str]]:
    """An ``IN (...)`` clause over bound parameters (the page's ids, at most PAGE of them)."""
    names = {f"i{n}": value for n, value in enumerate(ids)}
    return "(" + ", ".join(f":{n}" for n in names) + ")", names


def runs_list(db: ReadOnlyStore, params: dict[str, str]) -> dict[str, Any]:
    """One page of runs, filtered by kind/status/text and sorted by a whitelisted column."""
    sort = params.get("sort", "created")
    if sort not in SORTS:
        raise ConfigError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    order = "ASC" if params.get("dir") == "asc" else "DESC"
    page = _page(params.get("page"))
    where = (
        "(:kind = '' OR kind = :kind) AND (:status = '' OR status = :status) AND "
        "(:q = '' OR name LIKE :like OR id LIKE :like)"
    )
    args = {
        "kind": params.get("kind", ""),
        "status": params.get("status", ""),
        "q": params.get("q", ""),
        "like": f"%{params.get('q', '')}%",
    }
    rows = db.rows(
        "SELECT id, kind, name, status, budget_usd, spent_usd, predicted_score, realized_score,"
        f" created_at, finished_at, config_json FROM run WHERE {where}"
        f" ORDER BY {SORTS[sort]} {order}, id LIMIT {PAGE + 1} OFFSET {page * PAGE}",
        **args,
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    ids = [r["id"] for r in rows]
    problems: dict[str, int] = {}
    coverage: dict[str, float] = {}
    if ids:
        clause, names = _in(ids)
        for r in db.rows(
            f"SELECT run_id, COUNT(*) AS n FROM task WHERE run_id IN {clause} GROUP BY run_id",
            **names,
        ):
            problems[r["run_id"]] = int(r["n"])
        for r in db.rows(
            "SELECT run_id, COUNT(DISTINCT instance_id) AS n, COUNT(DISTINCT CASE WHEN resolved"
            f" THEN instance_id END) AS solved FROM evaluation WHERE run_id IN {clause}"
            " GROUP BY run_id",
            **names,
        ):
            problems.setdefault(r["run_id"], int(r["n"]))
            coverage[r["run_id"]] = int(r["solved"]) / max(int(r["n"]), 1)
        rest = [i for i in ids if i not in coverage]  # selection runs: pooled candidates
        if rest:
            clause, names = _in(rest)
            for r in db.rows(
                "SELECT run_id, COUNT(DISTINCT task_id) AS n, COUNT(DISTINCT CASE WHEN resolved"
                f" THEN task_id END) AS solved FROM candidate WHERE run_id IN {clause}"
                " AND resolved IS NOT NULL GROUP BY run_id",
                **names,
            ):
                problems.setdefault(r["run_id"], int(r["n"]))
                coverage[r["run_id"]] = int(r["solved"]) / max(int(r["n"]), 1)
    out = []
    for r in rows:
        out.append(
            {
                **{k: v for k, v in r.items() if k != "config_json"},
                "models": models_of(r["config_json"]),
                "problems": problems.get(r["id"], 0),
                "coverage": coverage.get(r["id"]),
                "duration_s": duration_s(r),
            }
        )
    return {"runs": out, "page": page, "more": more, "sort": sort, "dir": order.lower()}


def get_run(db: ReadOnlyStore, run_id: str) -> Row:
    row = db.one("SELECT * FROM run WHERE id = :r", r=run_id)
    if row is None:
        raise NotFoundError(
            f"run {run_id!r} is not in this store; see the runs list or "
            '`agentlab sql "select id, name from run"`'
        )
    return row


def run_page(db: ReadOnlyStore, run_id: str) -> dict[str, Any]:
    """The run's own row and config summary: one primary-key lookup."""
    row = get_run(db, run_id)
    try:
        config = json.loads(row.pop("config_json") or "{}")
    except ValueError:
        config = {}
    experiment = config.get("experiment", config)
    return {
        "run": {**row, "duration_s": duration_s(row), "models": models_of(json.dumps(config))},
        "sampling": experiment.get("sampling", {}),
        "policy": (experiment.get("budget") or {}).get("policy", {}),
        "dataset": (experiment.get("dataset") or {}).get("name", ""),
    }


def problems_page(
    db: ReadOnlyStore, run_id: str, page_value: Any, size_value: Any = None
) -> dict[str, Any]:
    """One page of the run's problems with samples, resolved, cost and the selected pick."""
    get_run(db, run_id)
    page = _page(page_value)
    size = min(_page(size_value) or PAGE, PAGE)
    rows = db.rows(
        "SELECT task_id, status FROM task WHERE run_id = :r ORDER BY task_id"
        f" LIMIT {size + 1} OFFSET {page * size}",
        r=run_id,
    )
    if not rows:  # an eval run has evaluations, not tasks
        rows = db.rows(
            "SELECT DISTINCT instance_id AS task_id, 'done' AS status FROM evaluation"
            f" WHERE run_id = :r ORDER BY instance_id LIMIT {size + 1} OFFSET {page * size}",
            r=run_id,
        ) or db.rows(  # a selection run has pooled candidates only
            "SELECT DISTINCT task_id, 'done' AS status FROM candidate"
            f" WHERE run_id = :r ORDER BY task_id LIMIT {size + 1} OFFSET {page * size}",
            r=run_id,
        )
    more = len(rows) > size
    rows = rows[:size]
    ids = [r["task_id"] for r in rows]
    stats: dict[str, dict[str, Any]] = defaultdict(dict)
    if ids:
        clause, names = _in(ids)
        for r in db.rows(
            "SELECT task_id, COUNT(*) AS samples, SUM(CASE WHEN status = 'done' THEN 1 ELSE 0"
            f" END) AS done FROM trajectory WHERE run_id = :r AND task_id IN {clause}"
            " GROUP BY task_id",
            r=run_id,
            **names,
        ):
            stats[r["task_id"]].update(samples=int(r["samples"]), done=int(r["done"] or 0))
        for r in db.rows(
            "SELECT instance_id, COUNT(*) AS graded, SUM(CASE WHEN resolved THEN 1 ELSE 0 END)"
            f" AS resolved FROM evaluation WHERE run_id = :r AND instance_id IN {clause}"
            " GROUP BY instance_id",
            r=run_id,
            **names,
        ):
            stats[r["instance_id"]].update(graded=int(r["graded"]), resolved=int(r["resolved"]))
        for r in db.rows(  # a selection run's pooled candidates carry their grades
            "SELECT task_id, COUNT(*) AS graded, SUM(CASE WHEN resolved THEN 1 ELSE 0 END)"
            f" AS resolved FROM candidate WHERE run_id = :r AND task_id IN {clause}"
            " AND resolved IS NOT NULL GROUP BY task_id",
            r=run_id,
            **names,
        ):
            if "graded" not in stats[r["task_id"]]:
                stats[r["task_id"]].update(graded=int(r["graded"]), resolved=int(r["resolved"]))
        for r in db.rows(
            "SELECT task_id, SUM(usd) AS usd FROM llm_call WHERE run_id = :r AND task_id IN"
            f" {clause} GROUP BY task_id",
            r=run_id,
            **names,
        ):
            stats[r["task_id"]]["usd"] = float(r["usd"] or 0.0)
        for r in db.rows(
            "SELECT s.task_id, s.method, c.resolved FROM selection s LEFT JOIN candidate c ON"
            f" c.id = s.candidate_id WHERE s.run_id = :r AND s.task_id IN {clause}",
            r=run_id,
            **names,
        ):
            stats[r["task_id"]].setdefault("selected", {})[r["method"]] = r["resolved"]
    problems = [{**r, **stats.get(r["task_id"], {})} for r in rows]
    return {"problems": problems, "page": page, "more": more, "size": size}


def _as_json(db: ReadOnlyStore, column: str) -> str:
    """A text column as JSON for the database's JSON functions (Postgres needs the cast)."""
    return column if db.dialect == "sqlite" else f"{column}::json"


def decisions_page(db: ReadOnlyStore, run_id: str, page_value: Any) -> dict[str, Any]:
    """One page of the policy's decisions: round, how many items scheduled and stopped.

    The counts come from the database's JSON functions, so no round's JSON (which lists every
    live problem) is parsed in Python; the stops themselves are ``decision_stops``.
    """
    get_run(db, run_id)
    page = _page(page_value)
    items, stops = _as_json(db, "items_json"), _as_json(db, "stops_json")
    rows = db.rows(
        f"SELECT round, policy, digest, stop_all, created_at, json_array_length({items})"
        f" AS scheduled, (SELECT COUNT(*) FROM json_each({stops})) AS stopped"
        " FROM policy_decision WHERE run_id = :r ORDER BY round"
        f" LIMIT {DECISIONS_PAGE + 1} OFFSET {page * DECISIONS_PAGE}",
        r=run_id,
    )
    return {"decisions": rows[:DECISIONS_PAGE], "page": page, "more": len(rows) > DECISIONS_PAGE}


def decision_stops(db: ReadOnlyStore, run_id: str, round_value: Any) -> dict[str, Any]:
    """The problems one round stopped, and why (the first STOPS of them)."""
    get_run(db, run_id)
    rnd = _page(round_value)
    rows = db.rows(
        f"SELECT j.key AS task_id, j.value AS reason FROM policy_decision d,"
        f" json_each({_as_json(db, 'd.stops_json')}) j WHERE d.run_id = :r AND d.round = :n"
        f" LIMIT {STOPS + 1}",
        r=run_id,
        n=rnd,
    )
    return {"round": rnd, "stops": rows[:STOPS], "more": len(rows) > STOPS}


class StatsCache:
    """Whole-run aggregates, kept for runs that are over (their rows no longer change)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        with self._lock:
            return self._done.get(key)

    def put(self, key: tuple[str, str], value: dict[str, Any]) -> None:
        with self._lock:
            if len(self._done) > 64:
                self._done.clear()
            self._done[key] = value

"""One dispatcher from (kind, params) to a JSON page, a plot or a text: the server and the
static report both go through it, so the two show the same data.

Errors an agentlab user can act on (unknown run, bad parameter, old schema) become a
one-line message with a 4xx status; anything else a 500 with a one-line summary. A page
never shows a traceback.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from agentlab.errors import AgentlabError
from agentlab.viewer import plots, problems, runs, stats
from agentlab.viewer.db import ReadOnlyStore, StoreSchemaError

log = logging.getLogger(__name__)
FINISHED = {"finished", "failed", "interrupted"}


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes


def _json(status: int, data: Any) -> Reply:
    return Reply(status, "application/json", json.dumps(data, default=str).encode())


def _need(params: dict[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not params.get(n)]
    if missing:
        raise runs.NotFoundError(f"this page needs the parameter(s) {', '.join(missing)}")
    return [params[n] for n in names]


class Api:
    """The viewer's pages over one read-only store."""

    def __init__(self, db: ReadOnlyStore) -> None:
        self.db = db
        self.cache = runs.StatsCache()

    def stats(self, run_id: str) -> dict[str, Any]:
        """Whole-run aggregates; cached once the run is over (its rows are final)."""
        row = runs.get_run(self.db, run_id)
        key = (run_id, f"{row['status']}|{row['finished_at']}|{row['spent_usd']}")
        found = self.cache.get(key) if row["status"] in FINISHED else None
        if found is None:
            found = stats.run_stats(self.db, run_id)
            if row["status"] in FINISHED:
                self.cache.put(key, found)
        return found

    def data(self, kind: str, params: dict[str, str]) -> Any:
        """The JSON-ready data of one page part."""
        db = self.db
        if kind == "meta":
            return {"store": db.url, "schema_version": db.schema_version}
        db.check_schema()
        if kind == "runs":
            return runs.runs_list(db, params)
        if kind == "run":
            return runs.run_page(db, *_need(params, "run"))
        if kind == "problems":
            return runs.problems_page(
                db, _need(params, "run")[0], params.get("page"), params.get("size")
            )
        if kind == "decisions":
            return runs.decisions_page(db, _need(params, "run")[0], params.get("page"))
        if kind == "stops":
            run_id, rnd = _need(params, "run", "round")
            return runs.decision_stops(db, run_id, rnd)
        if kind == "stats":
            return self.stats(*_need(params, "run"))
        if kind == "problem":
            return problems.problem_page(db, *_need(params, "run", "task"))
        if kind == "trajectory":
            return problems.trajectory_page(db, *_need(params, "run", "task", "sample"))
        if kind == "compare":
            return stats.compare(db, *_need(params, "a", "b"))
        raise runs.NotFoundError(f"no page {kind!r}")

    def handle(self, kind: str, params: dict[str, str]) -> Reply:
        """Answer one request; errors become a one-line message, never a traceback."""
        try:
            if kind == "text":
                turn, path = _need(params, "turn", "path")
                text = problems.turn_text(self.db, turn, path)
                return Reply(200, "text/plain; charset=utf-8", text.encode())
            if kind in ("coverage.svg", "cost.svg"):
                self.db.check_schema()
                data = self.stats(*_need(params, "run"))
                svg = plots.coverage_svg(data) if kind == "coverage.svg" else plots.cost_svg(data)
                return Reply(200, "image/svg+xml", svg.encode())
            return _json(200, self.data(kind, params))
        except StoreSchemaError as exc:
            return _json(409, {"error": str(exc)})
        except runs.NotFoundError as exc:
            return _json(404, {"error": str(exc)})
        except AgentlabError as exc:
            return _json(400, {"error": str(exc)})
        except Exception as exc:  # one line for the page; the server logs the rest
            log.exception("viewer page %s %s failed", kind, params)
            first = (str(exc).splitlines() or [""])[0][:300]
            return _json(500, {"error": f"internal error: {type(exc).__name__}: {first}"})

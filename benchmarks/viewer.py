"""Viewer server time per page vs run size (issue 15, item 3).

Builds two SQLite stores through the store's own tables: a run of 1,000 trajectories
(10 problems x 100 samples) and one of 100,000 (1,000 problems x 100 samples), each
trajectory with two turns, two LLM calls, a candidate and a graded evaluation, plus 30
policy rounds whose JSON lists every live problem. Serves each
with the real viewer server on loopback and times, over HTTP, the run page (the run's row,
its first 10 problems and 20 policy rounds: what it needs before its lazy parts) and a problem
page (a 100-sample problem's grid, candidates, votes and hidden tests). The baseline is the
1k store, measured in the same run; the ratio of medians must stay <= 2.

The run's whole-run aggregates (coverage vs k, cost by stage and over time) are a separate,
lazily loaded request that reads every row of the run; its first (uncached) time is printed
as a diagnostic and is expected to grow with the run.

Run: python benchmarks/viewer.py   (a few minutes on 2 cores, most of it building stores)
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from agentlab.store import open_store
from agentlab.store.run_tables import CandidateRow, PolicyDecision, Trajectory, Turn
from agentlab.store.tables import Evaluation, LLMCall, Run, Task
from agentlab.viewer.api import Api
from agentlab.viewer.db import ReadOnlyStore
from agentlab.viewer.server import make_server

SAMPLES = 100
REPEATS = 25
ROUNDS = 30
CHUNK = 20_000


def _record(step: int, passed: bool) -> str:
    return json.dumps({
        "step": step, "messages": [{"role": "assistant", "content": "edit " * 40}],
        "action": "EDIT", "reply": "edit", "diff": "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        "patched": {"exit_code": 0 if passed else 1, "stdout": "ok " * 50, "stderr": "",
                    "duration_s": 0.2, "timed_out": False, "oom_killed": False,
                    "truncated": False},
    })


def build(path: Path, problems: int) -> str:
    """A store with one finished run of ``problems`` x SAMPLES trajectories."""
    url = f"sqlite:///{path}"
    st = open_store(url)
    run_id = "bench"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    st.call(lambda s: s.add(Run(id=run_id, kind="run", name="bench", status="finished",
                                spent_usd=0.0, created_at=start,
                                finished_at=start + timedelta(hours=1))))
    rows: dict[type, list[dict[str, object]]] = {
        Task: [], Trajectory: [], Turn: [], LLMCall: [], CandidateRow: [], Evaluation: [],
        PolicyDecision: [],
    }
    # An adaptive policy's rounds: each schedules one more sample of every live problem and
    # stops a tenth of them, so a round's JSON grows with the run like a real one's.
    live = [f"problem-{p:05d}" for p in range(problems)]
    for rnd in range(ROUNDS):
        stop = live[: max(1, len(live) // 10)]
        live = live[len(stop) :]
        rows[PolicyDecision].append({
            "run_id": run_id, "round": rnd, "policy": "adaptive", "digest": "",
            "state_json": json.dumps({t: {"samples": rnd} for t in live}),
            "items_json": json.dumps([[t, rnd] for t in live]),
            "stops_json": json.dumps({t: "agreement reached" for t in stop}),
            "stop_all": False,
        })
    records = [_record(1, True), _record(1, False)]
    for p in range(problems):
        task = f"problem-{p:05d}"
        rows[Task].append({"run_id": run_id, "task_id": task, "status": "done"})
        for s in range(SAMPLES):
            ok = (p * 7 + s) % 5 == 0
            rows[Trajectory].append({"run_id": run_id, "task_id": task, "sample": s,
                                     "stage": "done", "status": "done", "attempts": 1})
            for step in range(2):
                rows[Turn].append({"run_id": run_id, "task_id": task, "sample": s,
                                   "stage": "editing", "step": step, "action": "EDIT",
                                   "record_json": records[0 if ok else 1]})
                rows[LLMCall].append({"run_id": run_id, "role": "editing", "task_id": task,
                                      "sample": s, "step": step, "model": "m",
                                      "prompt_tokens": 500, "completion_tokens": 80,
                                      "usd": 0.001, "created_at": start})
            rows[CandidateRow].append({"run_id": run_id, "task_id": task, "sample": s,
                                       "patch": "diff", "status": "final", "resolved": ok})
            rows[Evaluation].append({"run_id": run_id, "instance_id": task, "sample": s,
                                     "outcome": "resolved" if ok else "unresolved",
                                     "resolved": ok, "patch_applied": True,
                                     "report_json": "{}"})
    with st.engine.begin() as conn:
        for table, items in rows.items():
            for i in range(0, len(items), CHUNK):
                conn.execute(insert(table), items[i : i + CHUNK])  # type: ignore[arg-type]
    st.close()
    return url


def _get(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as resp:
        resp.read()
        assert resp.status == 200
    return time.perf_counter() - t0


def measure(url: str) -> dict[str, float]:
    """Median seconds per page over HTTP, and the first (uncached) whole-run aggregate."""
    db = ReadOnlyStore(url)
    server = make_server(Api(db), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/api/"
    try:
        pages = {
            # The same content on both stores: the 1k store has only 10 problems, so its
            # first page shows 10 rows; the 100k store's page is asked for 10 rows too.
            "run": [f"{base}run?run=bench", f"{base}problems?run=bench&page=0&size=10",
                    f"{base}decisions?run=bench&page=0"],
            "run_default_page": [f"{base}run?run=bench", f"{base}problems?run=bench&page=0",
                                 f"{base}decisions?run=bench&page=0"],
            "problem": [f"{base}problem?run=bench&task=problem-00003"],
            "trajectory": [f"{base}trajectory?run=bench&task=problem-00003&sample=7"],
        }
        out: dict[str, float] = {}
        for name, urls in pages.items():
            for u in urls:
                _get(u)  # warm the connection pool and the page cache
            times = [sum(_get(u) for u in urls) for _ in range(REPEATS)]
            out[name] = statistics.median(times)
        out["stats_first"] = _get(f"{base}stats?run=bench")
        return out
    finally:
        server.shutdown()
        server.server_close()
        db.close()


def main() -> None:
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for problems in (10, 1000):
            t0 = time.perf_counter()
            url = build(Path(tmp) / f"s{problems}.db", problems)
            size = problems * SAMPLES
            print(f"built {size:,} trajectories in {time.perf_counter() - t0:.1f} s", flush=True)
            results[size] = measure(url)
    print(f"\n{'trajectories':>12} {'run page ms':>12} {'(50 rows) ms':>13} {'problem ms':>11}"
          f" {'trajectory ms':>14} {'aggregates (first) ms':>22}")
    for size, r in results.items():
        print(f"{size:>12,} {1000 * r['run']:>12.2f} {1000 * r['run_default_page']:>13.2f}"
              f" {1000 * r['problem']:>11.2f} {1000 * r['trajectory']:>14.2f}"
              f" {1000 * r['stats_first']:>22.1f}")
    print("run page: the run's row, its first 10 problems and policy decisions; (50 rows): the "
          "default page, 10 rows on the 1k store (it has 10 problems) and 50 on the 100k one")
    small, big = results[1000], results[100_000]
    ratio = max(big["run"] / small["run"], big["problem"] / small["problem"])
    print(f"\nrun page ratio {big['run'] / small['run']:.2f}, problem page ratio "
          f"{big['problem'] / small['problem']:.2f} (target <= 2)")
    print(f"RESULT page_time_ratio_100k_vs_1k={ratio:.2f} "
          f"run_page_ms_100k={1000 * big['run']:.2f} "
          f"problem_page_ms_100k={1000 * big['problem']:.2f}")


if __name__ == "__main__":
    main()

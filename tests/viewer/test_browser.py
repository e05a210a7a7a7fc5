"""The viewer in a real browser over a store made by a real `agentlab run`.

Clicks from the runs list into a run, a problem, a trajectory and a compare page, and checks
the numbers shown against SQL over the same store; screenshots land in test-artifacts/viewer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentlab.viewer.stats import mcnemar_exact
from tests.viewer.conftest import PROBLEMS, REPO, ready, serve, shot

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _sql(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute(query, args).fetchall()


def _cell(page: Any, key: str) -> str:
    return str(page.locator(f'[data-k="{key}"]').first.inner_text()).strip()


def _plots_drawn(page: Any) -> None:
    """Wait until every plot on the page has loaded (each is its own request)."""
    page.wait_for_function(
        "[...document.querySelectorAll('img.plot')].every(i => i.complete && i.naturalWidth > 0)"
        " && document.querySelectorAll('img.plot').length === 2",
        timeout=60_000,
    )


def _usd(value: float) -> str:
    return f"${value:.4f}"


def test_click_through_a_real_run(real_store: str, page: Any) -> None:
    with serve(real_store) as base:
        page.goto(base)
        ready(page)
        rows = page.locator("tr[data-run]")
        assert rows.count() == 3
        (spent,) = _sql(real_store, "select spent_usd from run where id = 'view-a'")[0]
        row = page.locator('tr[data-run="view-a"]')
        assert row.locator('[data-k="problems"]').inner_text() == str(len(PROBLEMS))
        assert row.locator('[data-k="spent"]').inner_text().startswith(_usd(spent))
        shot(page, "1-runs")

        row.get_by_role("link", name="view-a").click()
        ready(page)
        assert page.locator("h1").inner_text() == "Run view-a"
        assert _cell(page, "spent") == _usd(spent)
        solved = _sql(
            real_store,
            "select count(distinct instance_id) from evaluation where run_id = 'view-a' "
            "and resolved",
        )[0][0]
        assert _cell(page, "coverage") == f"{100 * solved / len(PROBLEMS):.1f}%"
        _plots_drawn(page)
        by_role = dict(_sql(
            real_store,
            "select role, sum(usd) from llm_call where run_id = 'view-a' group by role",
        ))
        for role, usd in by_role.items():
            cell = page.locator(f'tr[data-role="{role}"] [data-k="usd"]')
            assert cell.inner_text() == _usd(usd)
        shot(page, "2-run")

        task = PROBLEMS[1]
        page.get_by_role("link", name=task).click()
        ready(page)
        assert page.locator("h1").inner_text() == f"Problem {task}"
        outcomes = _sql(
            real_store,
            "select sample, outcome from evaluation where run_id = 'view-a' and instance_id = ? "
            "order by sample",
            task,
        )
        shown = page.locator("tr[data-eval]")
        assert shown.count() == len(outcomes) == 2
        for i, (_sample, outcome) in enumerate(outcomes):
            assert shown.nth(i).locator('[data-k="outcome"]').inner_text() == outcome
        assert page.locator('tr[data-sample="0"] .cell').count() == _sql(
            real_store,
            "select count(*) from turn where run_id = 'view-a' and task_id = ? and sample = 0",
            task,
        )[0][0]
        shot(page, "3-problem")

        page.get_by_role("link", name="sample 0").click()
        ready(page)
        turns, tokens, usd = _sql(
            real_store,
            "select (select count(*) from turn where run_id = 'view-a' and task_id = ?1 and "
            "sample = 0), sum(prompt_tokens + completion_tokens), sum(usd) from llm_call "
            "where run_id = 'view-a' and task_id = ?1 and sample = 0",
            task,
        )[0]
        assert _cell(page, "turns") == str(turns)
        assert _cell(page, "tokens") == str(tokens)
        assert _cell(page, "usd") == _usd(usd)
        assert page.locator("section.turn").count() == turns
        assert page.locator(".diff .add").count() > 0  # the edit shows as a diff
        shot(page, "4-trajectory")

        # A stable deep link to one step: open it fresh and land on that step.
        link = page.locator("section.turn").last.locator("a.deeplink")
        href = link.get_attribute("href")
        page.goto(base + href)
        ready(page)
        step = href.rsplit("/", 1)[1]
        assert page.locator(f"#step-{step}").get_attribute("class") == "turn target"

        # view-b ran the adaptive policy: its rounds, and one round's stops on demand.
        page.goto(base + "#/run/view-b")
        ready(page)
        rounds = _sql(
            real_store,
            "select round, json_array_length(items_json), stops_json from policy_decision "
            "where run_id = 'view-b' order by round",
        )
        assert rounds and page.locator("tr[data-round]").count() == len(rounds)
        _plots_drawn(page)
        for rnd, scheduled, _stops in rounds:
            row = page.locator(f'tr[data-round="{rnd}"]')
            assert row.locator('[data-k="scheduled"]').inner_text() == str(scheduled)
        stopped = [(rnd, json.loads(stops)) for rnd, _n, stops in rounds if json.loads(stops)]
        if stopped:
            rnd, stops = stopped[0]
            page.locator(f'tr[data-round="{rnd}"] button.stops').click()
            page.wait_for_function(
                f"!document.querySelector('tr[data-round=\"{rnd}\"] button.stops')"
            )
            text = page.locator(f'tr[data-round="{rnd}"]').inner_text()
            assert all(task in text for task in stops)
        shot(page, "2b-run-decisions")

        page.goto(base)
        ready(page)
        page.locator('tr[data-run="view-a"] input[type=checkbox]').check()
        page.locator('tr[data-run="view-b"] input[type=checkbox]').check()
        page.locator("#compare").click()
        ready(page)
        assert _cell(page, "common") == str(len(PROBLEMS))
        sets = {
            run: {r[0] for r in _sql(
                real_store,
                "select distinct instance_id from evaluation where run_id = ? and resolved", run,
            )}
            for run in ("view-a", "view-b")
        }
        only_a, only_b = sets["view-a"] - sets["view-b"], sets["view-b"] - sets["view-a"]
        assert _cell(page, "only_a") == str(len(only_a))
        assert _cell(page, "only_b") == str(len(only_b))
        assert _cell(page, "p_value") == f"{mcnemar_exact(len(only_a), len(only_b)):.4f}"
        assert page.locator("tr[data-task]").count() == len(PROBLEMS)
        flipped = page.locator("tr.flipped")
        assert flipped.count() == len(only_a | only_b)  # and they come first:
        for i in range(flipped.count()):
            assert page.locator("tr[data-task]").nth(i).get_attribute("class") == "flipped"
        shot(page, "5-compare")


def test_static_report_opens_without_a_server(
    real_store: str, page: Any, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "agentlab", "report", "view-a", "--html", str(out),
         "--store", real_store],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url.rsplit("/data/", 1)[-1])
            if "/data/" in r.url else None)
    page.goto((out / "index.html").as_uri())
    ready(page)
    assert page.locator("h1").inner_text() == "Run view-a"
    _plots_drawn(page)
    # Shards load on demand: the run page fetched its own parts, no problem or trajectory.
    assert sorted(n.split("~3f")[0] for n in loaded) == [
        "cost.svg", "coverage.svg", "decisions", "problems", "run", "stats"
    ]
    assert len(list((out / "data").glob("trajectory~3f*.js"))) == 4
    (spent,) = _sql(real_store, "select spent_usd from run where id = 'view-a'")[0]
    assert _cell(page, "spent") == _usd(spent)
    page.get_by_role("link", name=PROBLEMS[0]).click()
    ready(page)
    page.get_by_role("link", name="sample 1").click()
    ready(page)
    assert page.locator("section.turn").count() == _sql(
        real_store,
        "select count(*) from turn where run_id = 'view-a' and task_id = ? and sample = 1",
        PROBLEMS[0],
    )[0][0]
    shot(page, "6-static-report-trajectory")


def test_vote_matrix_marks_the_chosen_candidate(real_store: str, page: Any) -> None:
    task = PROBLEMS[0]
    votes = _sql(
        real_store,
        "select candidate_id, test_candidate_id, passed from test_vote where run_id = 'view-sel' "
        "and task_id = ?",
        task,
    )
    (chosen,) = _sql(
        real_store,
        "select candidate_id from selection where run_id = 'view-sel' and task_id = ?",
        task,
    )[0]
    assert votes, "the selection run voted"
    with serve(real_store) as base:
        page.goto(base + "#/?kind=select")
        ready(page)
        assert page.locator("tr[data-run]").count() == 1
        page.get_by_role("link", name="view-sel").click()
        ready(page)
        picked_ok = _sql(
            real_store,
            "select count(*) from selection s join candidate c on c.id = s.candidate_id "
            "where s.run_id = 'view-sel' and s.method = 'vote' and c.resolved",
        )[0][0]
        assert _cell(page, "selected_vote") == f"{100 * picked_ok / len(PROBLEMS):.1f}%"
        page.get_by_role("link", name=task).click()
        ready(page)
        heat = page.locator("#votes")
        cells: dict[tuple[Any, Any], list[bool]] = {}
        for candidate, test, passed in votes:
            cells.setdefault((candidate, test), []).append(bool(passed))
        assert heat.locator("td.v1").count() == sum(all(v) for v in cells.values())
        assert heat.locator("td.v0").count() == sum(not any(v) for v in cells.values())
        assert heat.locator("td.vmix").count() == sum(
            any(v) and not all(v) for v in cells.values()
        )
        marked = heat.locator("th.chosen")
        assert marked.count() == 1
        assert marked.inner_text().startswith(f"#{chosen} ")
        shot(page, "7-vote-matrix")

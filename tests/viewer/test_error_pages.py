"""Pages that must stay clear under bad input: an unknown run, an empty store, a store of an
older schema, a 10 MB command output. Real SQLite stores, the real server, a real browser."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from agentlab.store import open_store
from agentlab.store.run_tables import Trajectory, Turn
from agentlab.store.tables import Run, Task
from tests.viewer.conftest import ready, serve, shot

BIG = 10 * 1024 * 1024


def _no_trace(page: Any) -> None:
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and 'File "' not in body


def test_unknown_run_and_empty_store(tmp_path: Path, page: Any) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()  # the schema, no runs
    with serve(url) as base:
        page.goto(base)
        ready(page)
        assert "has no runs yet" in page.locator("#empty").inner_text()
        shot(page, "error-empty-store")
        page.goto(base + "#/run/no-such-run")
        ready(page)
        assert "'no-such-run' is not in this store" in page.locator("#error").inner_text()
        page.goto(base + "#/problem/no-such-run/x")
        ready(page)
        assert "is not in this store" in page.locator("#error").inner_text()
        page.goto(base + "#/traj/no-such-run/x/notanumber")
        ready(page)
        assert page.locator("#error").count() == 1
        _no_trace(page)
        shot(page, "error-unknown-run")


def test_older_schema_gets_a_clear_page(tmp_path: Path, page: Any) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    st = open_store(url)
    # What an agentlab of schema 2 left behind: no (run, problem, sample) index on llm_call.
    st.call(lambda s: s.exec(text("DROP INDEX ix_llm_call_run_task")))  # type: ignore[call-overload]
    st.call(lambda s: s.exec(  # type: ignore[call-overload]
        text("UPDATE schema_info SET value = '2' WHERE key = 'schema_version'")
    ))
    st.close()
    with serve(url) as base:
        page.goto(base)
        ready(page)
        message = page.locator("#error").inner_text()
        assert "schema version 2, older than this agentlab's" in message
        assert "migrate it once" in message
        _no_trace(page)
        shot(page, "error-old-schema")


def test_a_10mb_command_output_is_cut_and_expandable(tmp_path: Path, page: Any) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    st = open_store(url)
    output = ("x" * 99 + "\n") * (BIG // 100)
    record = {
        "step": 0, "messages": [{"role": "assistant", "content": "run it"}],
        "decision": "WRITE", "reply": "run it", "script": "print('x' * 10**7)",
        "run": {"exit_code": 0, "stdout": output, "stderr": "", "duration_s": 1.5,
                "timed_out": False, "oom_killed": False, "truncated": False},
        "fixes": 0, "error": None,
    }

    def write(session: Any) -> None:
        session.add(Run(id="big", kind="run", name="big", status="finished"))
        session.flush()
        session.add(Task(run_id="big", task_id="p1", status="done"))
        session.add(Trajectory(run_id="big", task_id="p1", sample=0, stage="done", status="done"))
        session.add(Turn(run_id="big", task_id="p1", sample=0, stage="testing", step=0,
                         action="WRITE", record_json=json.dumps(record)))

    st.call(write)
    st.close()
    with serve(url) as base:
        page.goto(base + "#/traj/big/p1/0")
        ready(page)
        page.locator("summary", has_text="stdout").click()  # collapsed: it was cut
        note = page.locator(".turn").first.inner_text()
        assert f"showing 20000 of {len(output)} characters" in note
        full = page.locator("a.full").first.get_attribute("href")
        with urllib.request.urlopen(base + full, timeout=60) as resp:  # what the link opens
            assert len(resp.read().decode()) == len(output)
        _no_trace(page)
        shot(page, "error-10mb-output")


@pytest.mark.parametrize("kind", ["runs", "run", "problem"])
def test_api_errors_are_one_line_json(tmp_path: Path, kind: str) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()
    with serve(url) as base:
        try:
            urllib.request.urlopen(f"{base}api/{kind}?run=nope&task=x&sort=bogus", timeout=30)
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
            assert exc.code in (400, 404)
            assert "\n" not in body["error"] and body["error"]
        else:
            pytest.fail("an unknown run or sort was answered with 200")

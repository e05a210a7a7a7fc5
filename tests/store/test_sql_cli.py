"""``agentlab sql`` as a user runs it: a real process, a real store."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from agentlab.store import open_store
from agentlab.store.tables import Run


def _agentlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentlab", *args], capture_output=True, text=True, timeout=120
    )


def test_sql_cli_select_delete_and_formats(store_url: str) -> None:
    store = open_store(store_url)
    store.call(lambda s: s.add(Run(id="run-a", kind="eval", name="first")))
    store.close()

    shown = _agentlab("sql", "SELECT id, kind, name FROM run", "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert "run-a" in shown.stdout and "1 row(s)" in shown.stdout

    refused = _agentlab("sql", "DELETE FROM run", "--store", store_url)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "read-only" in refused.stderr
    assert "Traceback" not in refused.stderr

    sneaky = _agentlab("sql", "COMMIT; DELETE FROM run", "--store", store_url)
    assert sneaky.returncode == 2
    assert sneaky.stderr.count("\n") == 1 and "one statement" in sneaky.stderr

    as_csv = _agentlab("sql", "SELECT id, name FROM run", "--store", store_url, "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [["id", "name"], ["run-a", "first"]]

    as_json = _agentlab("sql", "SELECT id FROM run", "--store", store_url, "-f", "json")
    assert json.loads(as_json.stdout) == [{"id": "run-a"}]

    still = _agentlab("sql", "SELECT count(*) AS n FROM run", "--store", store_url, "-f", "json")
    assert json.loads(still.stdout) == [{"n": 1}]


def test_sql_table_prints_values_verbatim(store_url: str) -> None:
    """A stored JSON list such as [true] is data, not rich markup (it once printed as nothing)."""
    store = open_store(store_url)
    store.call(lambda s: s.add(Run(id="run-b", kind="run", name='{"resolved":[true]} [bold]x')))
    store.close()
    shown = _agentlab("sql", "SELECT name FROM run", "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert '{"resolved":[true]} [bold]x' in shown.stdout

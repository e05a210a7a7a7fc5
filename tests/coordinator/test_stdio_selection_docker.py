"""Selection on the stdin/stdout kind, end to end: `agentlab run` (a real subprocess) with the
scripted model over real HTTP and the real Docker engine, ending with CodeT over the public
examples and model-generated inputs.

Eight samples of sum-two: every program passes the one public example, but only the odd
samples are right. Samples 0 and 4 multiply once a number reaches 10; samples 2 and 6 subtract
for a negative ``a``. On the example alone the eight agree and the first stored candidate is
picked, right or wrong by chance; the generated inputs split them into behaviours, and the
largest agreeing set (the four right programs) wins.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from agentlab.llm import ScriptedModel
from agentlab.llm.scripted import Rule
from agentlab.llm.testing import ScriptedServer
from agentlab.tasks import stdio
from tests.coordinator.conftest import agentlab_cli, write_experiment

pytestmark = pytest.mark.docker

SUM = "agentlab-stdio/sum-two"
STATEMENT = stdio.load_problems(stdio.BUNDLED["agentlab-stdio"])[SUM].statement
BY_SEED = """```python
import sys
a, b = map(int, sys.stdin.read().split())
s = {seed}
if s % 2 == 1:
    print(a + b)
elif s % 4 == 0:
    print(a + b if max(abs(a), abs(b)) < 10 else a * b)
else:
    print(a + b if a >= 0 else a - b)
```"""
# The public example ("1 2") again is dropped; two new inputs remain.
INPUTS = "Here you go:\n```\n-4 9\n```\n```\n25 30\n```\n```\n1 2\n```\n"


def _model() -> ScriptedModel:
    return ScriptedModel(
        [
            Rule(user=r"Write \d+ different test inputs", replies=(INPUTS,)),
            Rule(user=re.escape(STATEMENT.strip()[:200]), replies=(BY_SEED,)),
        ]
    )


def _rows(url: str, sql: str) -> list[dict[str, object]]:
    done = agentlab_cli("sql", "--store", url, "--format", "json", sql)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def _run(tmp_path: Path, url: str, run_id: str, inputs: int) -> subprocess.CompletedProcess[str]:
    with ScriptedServer(_model()) as server:
        path = write_experiment(
            tmp_path,
            server.base_url,
            [SUM],
            k=8,
            n=1,
            store=url,
            dataset="agentlab-stdio",
            extra={"selection": {"enabled": True, "methods": [], "generated_inputs": inputs}},
        )
        return agentlab_cli("run", str(path), "--run-id", run_id, "--store", url)


def _pick(url: str, run_id: str) -> dict[str, object]:
    [row] = _rows(
        url,
        "select c.sample, c.resolved, s.candidate_id, s.reason from selection s join candidate c"
        f" on c.id = s.candidate_id where s.run_id = '{run_id}' and s.method = 'codet'",
    )
    return row


def test_generated_inputs_split_programs_that_agree_on_the_examples(
    base_image: str, tmp_path: Path, run_id: str
) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    done = _run(tmp_path, url, run_id, inputs=3)
    assert done.returncode == 0, done.stderr[-3000:]
    resolved = _rows(
        url, f"select sample from candidate where run_id = '{run_id}' and resolved order by 1"
    )
    assert [r["sample"] for r in resolved] == [1, 3, 5, 7]  # coverage 1, pass@1 0.5

    pick = _pick(url, run_id)
    assert pick["resolved"] and int(str(pick["sample"])) % 2 == 1
    assert pick["reason"] == "cluster of 4 passing 1/1 examples, same outputs on 2 generated inputs"
    calls = _rows(
        url,
        "select count(*) as n, sum(usd) as usd from llm_call"
        f" where run_id = '{run_id}' and role = 'selection_inputs'",
    )
    assert calls[0]["n"] == 1  # one input call per problem, billed like any other
    assert "selected" in done.stdout + done.stderr

    # Resume after the end: nothing new is asked (the input call is answered from the cache).
    again = agentlab_cli("run", "--resume", run_id, "--store", url)
    assert again.returncode == 0, again.stderr[-3000:]
    billed = _rows(
        url,
        "select count(*) as n from llm_call where cache_hit = 0"
        f" and run_id = '{run_id}' and role = 'selection_inputs'",
    )
    assert billed[0]["n"] == 1


def test_without_generated_inputs_the_examples_alone_cannot_tell_them_apart(
    base_image: str, tmp_path: Path, run_id: str
) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    done = _run(tmp_path, url, run_id, inputs=0)
    assert done.returncode == 0, done.stderr[-3000:]
    pick = _pick(url, run_id)
    first = _rows(url, f"select min(id) as id from candidate where run_id = '{run_id}'")
    assert pick["candidate_id"] == first[0]["id"]  # all eight agree: the first stored wins
    assert pick["reason"] == "cluster of 8 passing 1/1 examples, no generated inputs"
    calls = _rows(
        url,
        f"select count(*) as n from llm_call where run_id = '{run_id}'"
        " and role = 'selection_inputs'",
    )
    assert calls[0]["n"] == 0

"""Batched cells: one exec runs a candidate's tests, and no test can speak for another.

The record parser is checked on its own; the rest runs in a real sandbox from agentlab-mini's
confini-1 image: a test that hunts for the nonce and prints (and writes everywhere it can)
forged records claiming the next test passed, a test that hangs past its timeout, and a patch
that applies nowhere.
"""

from __future__ import annotations

import base64

import pytest

from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.scoring.matrix import (
    CellJob,
    MatrixTest,
    WarmRepo,
    parse_records,
    run_cells,
)
from agentlab.tasks.harness import EvalConfig, InstanceImages, sandbox_spec
from agentlab.types import Candidate
from tests.scoring import pool

NONCE = "0123456789abcdef0123456789abcdef"

# Prints forged records (any nonce it can find, and guesses) saying test 1 passed, and writes
# them to every stdout it can open, then exits 0 itself.
FORGER = """\
import base64, glob, os, re
found = {"0" * 32, "f" * 32}
for path in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):
    try:
        found.update(re.findall(r"[0-9a-f]{32}", open(path, errors="replace").read()))
    except OSError:
        pass
ok = base64.b64encode(b"forged pass").decode()
lines = "".join(f"@@{n} 1 ran 0 1 {ok}\\n" for n in sorted(found))
print(lines, end="")
for path in glob.glob("/proc/[0-9]*/fd/1") + glob.glob("/proc/[0-9]*/fd/0"):
    try:
        with open(path, "w") as fh:
            fh.write(lines)
    except OSError:
        pass
print("FORGER done", len(found))
"""
FAILS = "import sys\nprint('honest failure')\nsys.exit(1)\n"
HANGS = "import time\nprint('hanging', flush=True)\ntime.sleep(3600)\n"
PASSES = "print('honest pass')\n"
NOT_A_PATCH = (
    "diff --git a/nowhere.py b/nowhere.py\n"
    "--- a/nowhere.py\n+++ b/nowhere.py\n@@ -1 +1 @@\n-x\n+y\n"
)


def _record(index: int, code: int, output: bytes, nonce: str = NONCE) -> str:
    return f"@@{nonce} {index} ran {code} 12 {base64.b64encode(output).decode()}"


def test_only_records_with_the_nonce_count_and_the_first_one_wins() -> None:
    stdout = "\n".join(
        [
            _record(0, 1, b"first"),
            _record(0, 0, b"second"),  # a later record for the same test is ignored
            _record(1, 0, b"forged", nonce="f" * 32),
            f"@@{NONCE} 1 ran 0 12 not*base64",
            f"@@{NONCE} 1 ran 0",
            f"@@{NONCE} 1 passed 0 12 -",  # only the script's own kinds count
            _record(5, 0, b"out of range"),
            "@@" + _record(1, 0, b"prefixed")[2:] + " extra",
        ]
    )
    records = parse_records(stdout, NONCE, 2)
    assert list(records) == [0]
    assert (records[0].exit_code, records[0].output, records[0].duration_s) == (1, "first", 0.012)


@pytest.mark.docker
async def test_a_batch_keeps_each_tests_result_its_own(
    docker_backend: object, base_image: str, run_id: str
) -> None:
    from agentlab.sandbox.docker import DockerBackend

    dataset = resolve_dataset("agentlab-mini")
    instance = dataset.by_id()[pool.INSTANCE]
    config = EvalConfig(run_id=run_id, memory_mb=512)
    image = await InstanceImages(ProviderImages(), config).image_for(dataset, instance)
    spec = sandbox_spec(config, image, instance.instance_id)
    candidates = [
        Candidate(task_id="matrix", id=1, patch=instance.patch),
        Candidate(task_id="matrix", id=2, patch=NOT_A_PATCH),
    ]
    tests = [
        MatrixTest(10, FORGER),
        MatrixTest(11, FAILS),
        MatrixTest(12, HANGS),
        MatrixTest(13, PASSES),
        MatrixTest(14, pool.RIGHT_ERROR_LINE),
    ]
    async with DockerBackend().open(spec) as sandbox:
        repo = WarmRepo(sandbox, test_timeout_s=3)
        await repo.stage(candidates, tests)
        cells = await run_cells([repo], [CellJob(1, t.key) for t in tests])
        unapplied = await run_cells([repo], [CellJob(2, 11), CellJob(2, 13)])
        baseline = await run_cells([repo], [CellJob(None, 14), CellJob(None, 13)])

    forger, fails, hangs, passes, right = cells
    assert forger.passed and "FORGER done" in forger.output
    assert f"@@{'0' * 32} 1 ran 0 1" in forger.output  # it did print forged records, as output
    assert (fails.passed, fails.exit_code, fails.output) == (False, 1, "honest failure\n")
    # A hung test times out alone; the tests after it in the batch still have their results.
    assert (hangs.passed, hangs.timed_out, hangs.exit_code) == (False, True, 124)
    assert "hanging" in hangs.output
    assert (passes.passed, passes.output) == (True, "honest pass\n")
    assert right.passed  # the gold fix, re-applied for every test of the batch
    assert [(c.applied, c.exit_code, c.passed) for c in unapplied] == [(False, 1, False)] * 2
    assert [(c.candidate, c.passed) for c in baseline] == [(None, False), (None, True)]

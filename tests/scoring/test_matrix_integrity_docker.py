"""A test's exit code never means "not applied", and a killed batch casts no vote (real engine).

On agentlab-mini's confini-1: a generated test that exits 97 (the old "patch did not apply"
code) against the gold patch must leave the gold candidate applied and ranked; a batch killed
as a whole (here: root kills the batch script mid-run, as an engine failure would) gives
``error`` cells, and on the no-patch baseline those must not make a test "fails without
patch", i.e. valid.
"""

from __future__ import annotations

import asyncio

import pytest

from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.scoring import votes
from agentlab.scoring.matrix import CellJob, MatrixTest, WarmRepo, run_cells
from agentlab.tasks.harness import EvalConfig, InstanceImages, sandbox_spec
from agentlab.types import Candidate
from tests.scoring import pool

pytestmark = pytest.mark.docker

EXITS_97 = "import sys\nsys.exit(97)\n"
SLOW = "import time\ntime.sleep(30)\n"


async def test_exit_97_is_a_failed_test_and_a_killed_batch_is_an_error(
    docker_backend: object, base_image: str, run_id: str
) -> None:
    from agentlab.sandbox.docker import DockerBackend

    dataset = resolve_dataset("agentlab-mini")
    instance = dataset.by_id()[pool.INSTANCE]
    config = EvalConfig(run_id=run_id, memory_mb=512)
    image = await InstanceImages(ProviderImages(), config).image_for(dataset, instance)
    spec = sandbox_spec(config, image, instance.instance_id)
    tests = [MatrixTest(20, EXITS_97), MatrixTest(21, SLOW), MatrixTest(22, pool.RIGHT_ERROR_LINE)]
    async with DockerBackend().open(spec) as sandbox:
        repo = WarmRepo(sandbox, test_timeout_s=60)
        await repo.stage([Candidate(task_id="matrix", id=1, patch=instance.patch)], tests)
        cells = await run_cells([repo], [CellJob(1, 20), CellJob(1, 22)])

        async def kill_batch() -> None:
            # Wait until the slow test runs, then kill the whole batch from outside.
            await sandbox.exec(
                [
                    "bash",
                    "-c",
                    "until pgrep -f 'test_2[1].py'; do sleep 0.2; done; "
                    "pkill -KILL -f 'batch[.]sh'; pkill -KILL -U 65534; true",
                ],
                timeout=120,
            )

        killed, _ = await asyncio.gather(
            run_cells([repo], [CellJob(None, 21), CellJob(None, 22)]), kill_batch()
        )

    exits_97, right = cells
    assert (exits_97.applied, exits_97.passed, exits_97.error) == (True, False, False)
    assert right.passed
    assert votes.not_applied(cells) == set()
    assert [c.error for c in killed] == [True, True]
    verdict = votes.verdicts([*killed, *cells])
    assert not verdict[21].valid and not verdict[22].valid  # no baseline verdict: no vote
    assert votes.count_votes([*killed, *cells], verdict) == {1: 0}

"""Warm-container reuse cannot let one candidate change another's grade (real engine).

A current-format agentlab-mini instance (spans-2, unittest) is graded in harness mode, where
the tests run as root: the strongest position a candidate can grade from. Two hostile
candidates carry the gold fix plus a test module that, as root,

- A: leaves a daemon that keeps corrupting the repository once its tests are done, and files in
  ``/tmp`` (a conftest), ``/var/tmp``, ``/dev/shm``, ``/root``, ``/`` and untracked files in
  the repository: all of it removable, so the reset removes it and the container is reused;
- B: plants a ``.pth`` in site-packages that swaps ``bisect_right`` for ``bisect_left`` in every
  later Python process (which breaks the gold fix): not removable with certainty, so the reset
  must see it and discard the container.

Controls show each hostile would change the next candidate's grade if nothing were reset.
"""

from __future__ import annotations

import pytest

from agentlab.coordinator.kinds.swe_data import ProviderImages
from agentlab.tasks import grading
from agentlab.tasks.current import run_current
from agentlab.tasks.harness import EvalConfig, InstanceImages, evaluate, sandbox_spec
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, SWEInstance
from agentlab.tasks.warm import WarmContainers
from tests.tasks.current_data import current_dataset

pytestmark = [pytest.mark.docker, pytest.mark.slow]

IID = "agentlab-mini__spans-2"
NAMESPACE = "agentlab-warm"

LEFTOVERS = """import os, subprocess
subprocess.Popen(
    ["bash", "-c", "while kill -0 %d 2>/dev/null; do sleep 0.05; done; while true; do "
     "echo 'raise SystemExit(3)' >> /testbed/spans/intervalset.py; sleep 0.05; done"
     % os.getpid()],
    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
for path in ("/tmp/conftest.py", "/var/tmp/evil.py", "/dev/shm/evil", "/root/.evil",
             "/evil", "/var/tmp/*", "/testbed/spans/planted.py", "/testbed/conftest.py"):
    with open(path, "w") as fh:
        fh.write("raise SystemExit(4)\\n")
os.makedirs("/testbed/spans/__pycache__", exist_ok=True)
"""
SITE_PTH = """import os
with open("/usr/local/lib/python3.11/dist-packages/zz_evil.pth", "w") as fh:
    fh.write("import bisect; bisect.bisect_right = bisect.bisect_left\\n")
"""


def _hostile(gold: str, payload: str) -> str:
    lines = payload.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    new = (
        "diff --git a/tests/test_zz_hostile.py b/tests/test_zz_hostile.py\n"
        "new file mode 100644\n--- /dev/null\n+++ b/tests/test_zz_hostile.py\n"
        f"@@ -0,0 +1,{len(lines)} @@\n{body}"
    )
    return gold + ("" if gold.endswith("\n") else "\n") + new


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """spans-2 in the current format, its image built from the bundle and tagged locally."""
    return current_dataset((IID,), NAMESPACE, tmp_path_factory.mktemp("warm"))


def _pred(inst: SWEInstance, patch: str, name: str) -> Prediction:
    return Prediction(instance_id=inst.instance_id, model_name=name, patch=patch)


async def _present(image: str) -> str:
    return image


async def test_hostile_then_good_in_a_warm_container(
    data: Dataset, docker_backend: object, run_id: str
) -> None:
    from agentlab.sandbox.docker import DockerBackend

    assert isinstance(docker_backend, DockerBackend)
    inst = data.instances[0]
    cfg = EvalConfig(run_id=run_id, strict=False, timeout=300)
    images = InstanceImages(ProviderImages(), cfg, _present)
    good = _pred(inst, inst.patch, "good")
    fresh = await evaluate(docker_backend, images, data, inst, good, cfg)
    assert fresh.grade.outcome == grading.RESOLVED

    warm = WarmContainers(docker_backend)
    try:
        # A: everything it leaves is removed; the container is reused for the good one.
        hostile = await evaluate(
            docker_backend, images, data, inst, _pred(inst, _hostile(inst.patch, LEFTOVERS), "a"),
            cfg, warm,
        )  # fmt: skip
        assert hostile.logs.run_log.startswith("container: fresh"), hostile.logs.run_log
        assert "warm reset: verified; container kept" in hostile.logs.run_log
        after = await evaluate(docker_backend, images, data, inst, good, cfg, warm)
        assert after.logs.run_log.startswith("container: warm, reset verified"), after.logs.run_log
        assert after.grade.outcome == fresh.grade.outcome
        assert after.grade.statuses == fresh.grade.statuses
        # B: the .pth in site-packages is seen; the container is discarded, the next is fresh.
        planted = await evaluate(
            docker_backend, images, data, inst, _pred(inst, _hostile(inst.patch, SITE_PTH), "b"),
            cfg, warm,
        )  # fmt: skip
        assert planted.logs.run_log.startswith("container: warm"), planted.logs.run_log
        assert "container discarded" in planted.logs.run_log
        assert "zz_evil.pth" in planted.logs.run_log
        again = await evaluate(docker_backend, images, data, inst, good, cfg, warm)
        assert again.logs.run_log.startswith("container: fresh"), again.logs.run_log
        assert again.grade.statuses == fresh.grade.statuses
        assert (warm.fresh, warm.reused, warm.discarded) == (2, 2, 1)
    finally:
        await warm.aclose()


@pytest.mark.parametrize("payload", [LEFTOVERS, SITE_PTH], ids=["leftovers", "site-pth"])
async def test_each_hostile_would_change_the_next_grade_without_a_reset(
    data: Dataset, docker_backend: object, run_id: str, payload: str
) -> None:
    """The control: the same two candidates in one container with no reset between them."""
    from agentlab.sandbox.docker import DockerBackend

    assert isinstance(docker_backend, DockerBackend)
    inst = data.instances[0]
    cfg = EvalConfig(run_id=run_id, strict=False, timeout=300)
    spec = sandbox_spec(cfg, inst.image, inst.instance_id)
    async with docker_backend.open(spec) as sandbox:
        first = await run_current(
            sandbox, inst, _pred(inst, _hostile(inst.patch, payload), "h"), cfg
        )
        assert first.grade.outcome == grading.RESOLVED  # the hostile itself carries the fix
        # Only the tree is put back (as a naive reuse would); what lives outside it stays.
        await sandbox.exec(["bash", "-c", "sleep 0.5; cd /testbed && git reset -q --hard "
                            "&& git clean -fdq && sleep 0.5"])  # fmt: skip
        second = await run_current(sandbox, inst, _pred(inst, inst.patch, "good"), cfg)
    assert second.grade.outcome != grading.RESOLVED

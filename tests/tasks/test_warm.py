"""Warm reuse only ever resets containers: on the process backend a reset would kill the
host's processes, so there every candidate gets a fresh sandbox and no reset runs."""

from __future__ import annotations

from pathlib import Path

from agentlab.coordinator.sandboxes import SandboxPool
from agentlab.sandbox.process import ProcessBackend
from agentlab.tasks import grading
from agentlab.tasks.eval_records import EvalResult
from agentlab.tasks.grading import Grade
from agentlab.tasks.warm import Snapshot, WarmContainers, containerized, reset_script
from agentlab.types import SandboxSpec


def test_only_docker_backends_are_reset() -> None:
    process = ProcessBackend()
    assert not containerized(process)
    assert not containerized(SandboxPool(process, limit=1))
    assert not WarmContainers(process).enabled


async def test_process_backend_candidates_get_fresh_sandboxes(tmp_path: Path) -> None:
    warm = WarmContainers(ProcessBackend())
    seen: list[str] = []

    async def work(sandbox: object) -> EvalResult:
        seen.append(getattr(sandbox, "id", ""))
        return EvalResult(Grade(grading.RESOLVED))

    spec = SandboxSpec(image="none", workdir="/")
    for _ in range(2):
        result = await warm.run(spec, "inst", work)
        assert "container" not in result.logs.run_log  # no snapshot, no reset
    assert len(set(seen)) == 2
    assert (warm.fresh, warm.reused) == (0, 0)


def test_the_reset_refuses_to_run_outside_a_docker_init_container() -> None:
    snap = Snapshot("1.0", ("7",), "@@state\ndir / 755 0 0\ndir /opt 755 0 0\ndir /opt/agentlab "
                    "755 0 0\ndir /root 700 0 0\ndir /var 755 0 0\ndir /var/tmp 1777 0 0\n",
                    (), "abc")  # fmt: skip
    script = reset_script(snap)
    guard = script.index("docker-init")
    assert guard < script.index("kill -9") and guard < script.index("rm -rf")

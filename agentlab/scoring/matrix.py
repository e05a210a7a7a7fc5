"""The test-vote matrix, run in warm sandboxes: one container per worker, reset between runs.

A problem's container starts once from its instance image. Every patch and every test is
written into it up front; after that each cell (one test against one candidate, or against no
patch) is a single exec of a small script that kills whatever the previous run left behind,
resets the repository (``git reset --hard && git clean -fdx``), applies the patch with the
harness's three fallbacks, and runs the test. The harness's way, a fresh container per run,
pays a container start per cell; this pays one exec (see ``benchmarks/selection_matrix.py``).

A test is a Python script (exit 0 = the issue is fixed), run as the trajectories run it:
from the repository root with the repository on ``PYTHONPATH``. Its process tree is found
afterwards by an environment marker and killed, so a daemon a test started cannot outlive it.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from agentlab.protocols import Sandbox

SCRATCH = "/var/tmp/agentlab-vote"  # not /tmp: the engine's archive API cannot see a tmpfs
APPLY_FAILED = 97  # the cell script's exit code when no apply command took the patch
OUTPUT_TAIL = 4000  # characters of a test's output kept per cell
_MARK = "AGENTLAB_VOTE_CELL"
_APPLY = (
    "git apply --verbose",
    "git apply --verbose --reject",
    "patch --batch --fuzz=5 -p1 -i",
)


@dataclass(frozen=True)
class MatrixCandidate:
    """A distinct change to run (``key`` is the representative candidate's id)."""

    key: int
    patch: str


@dataclass(frozen=True)
class MatrixTest:
    """A distinct generated test (``key`` is the id of a candidate that wrote it)."""

    __test__ = False  # not a pytest test class, despite the name

    key: int
    script: str


@dataclass(frozen=True)
class Cell:
    """One run of one test against one candidate (``candidate`` None: no patch)."""

    candidate: int | None
    test: int
    attempt: int
    passed: bool
    exit_code: int
    timed_out: bool = False
    applied: bool = True
    duration_s: float = 0.0
    output: str = ""  # the tail of the test's stdout and stderr


@dataclass(frozen=True)
class CellJob:
    candidate: int | None
    test: int
    attempt: int = 0


def cell_script(repo_dir: str, python: str, timeout_s: float) -> str:
    """The bash script one cell runs: ``cell.sh PATCH|- TEST``."""
    # One grep over every process's environment (not one per process): this runs twice per
    # cell, so its cost is most of a cell's fixed overhead.
    kill = (
        f"for f in $(grep -lsz '{_MARK}=1' /proc/[0-9]*/environ); do "
        "p=${f#/proc/}; kill -9 ${p%/environ} 2>/dev/null; done"
    )
    reset = "git reset -q --hard HEAD && git clean -q -fdx"
    lines = ["#!/bin/bash", kill, f"cd {shlex.quote(repo_dir)} || exit 98", reset]
    lines.append('if [ "$1" != "-" ]; then')
    lines.append("  ok=0")
    for cmd in _APPLY:
        lines.append(
            f'  if [ $ok = 0 ]; then {cmd} "$1" >/dev/null 2>&1 && ok=1 || {{ {reset}; }}; fi'
        )
    lines.append(f"  [ $ok = 1 ] || exit {APPLY_FAILED}")
    lines.append("fi")
    lines.append(
        f"{_MARK}=1 PYTHONPATH={shlex.quote(repo_dir)} PYTHONDONTWRITEBYTECODE=1 "
        f'timeout -k 2 {timeout_s:g} {python} "$2" 2>&1'
    )
    lines += ["code=$?", kill, "exit $code"]
    return "\n".join(lines) + "\n"


class WarmRepo:
    """A repository in one long-lived sandbox, where matrix cells run one exec each."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        repo_dir: str = "/testbed",
        python: str = "python3",
        test_timeout_s: float = 60.0,
    ) -> None:
        self.sandbox = sandbox
        self.repo_dir = repo_dir
        self.python = python
        self.test_timeout_s = test_timeout_s

    async def stage(
        self, candidates: Sequence[MatrixCandidate], tests: Sequence[MatrixTest]
    ) -> None:
        """Write every patch, test and the cell script into the sandbox."""
        await self.sandbox.write_file(
            f"{SCRATCH}/cell.sh",
            cell_script(self.repo_dir, self.python, self.test_timeout_s),
            mode=0o755,
        )
        for cand in candidates:
            await self.sandbox.write_file(self._patch(cand.key), _with_newline(cand.patch))
        for test in tests:
            await self.sandbox.write_file(self._test(test.key), test.script)

    async def add_test(self, test: MatrixTest) -> None:
        """Stage one more test (e.g. one the selection model wrote)."""
        await self.sandbox.write_file(self._test(test.key), test.script)

    def _patch(self, key: int) -> str:
        return f"{SCRATCH}/patch_{key}.diff"

    def _test(self, key: int) -> str:
        return f"{SCRATCH}/test_{key}.py"

    async def run(self, job: CellJob) -> Cell:
        """Reset, apply the candidate's patch, run the test: one exec."""
        patch = "-" if job.candidate is None else self._patch(job.candidate)
        result = await self.sandbox.exec(
            ["bash", f"{SCRATCH}/cell.sh", patch, self._test(job.test)],
            timeout=self.test_timeout_s + 60,
        )
        applied = result.exit_code != APPLY_FAILED
        timed_out = result.timed_out or result.exit_code == 124
        return Cell(
            candidate=job.candidate,
            test=job.test,
            attempt=job.attempt,
            passed=result.exit_code == 0 and not timed_out,
            exit_code=result.exit_code,
            timed_out=timed_out,
            applied=applied,
            duration_s=result.duration_s,
            output=(result.stdout + result.stderr)[-OUTPUT_TAIL:],
        )


def plan(
    candidates: Sequence[MatrixCandidate],
    tests: Sequence[MatrixTest],
    *,
    baseline_repeats: int = 2,
    repeats: int = 1,
) -> list[CellJob]:
    """Every test against every candidate (``repeats`` times) and no patch (``baseline_repeats``).

    The no-patch column runs more than once because it is what tells a flaky test: a test that
    cannot agree with itself on unchanged code gets no vote. Jobs are grouped by candidate.
    """
    jobs = [CellJob(None, t.key, a) for a in range(baseline_repeats) for t in tests]
    jobs += [CellJob(c.key, t.key, a) for c in candidates for a in range(repeats) for t in tests]
    return jobs


async def run_cells(repos: Sequence[WarmRepo], jobs: Sequence[CellJob]) -> list[Cell]:
    """Run ``jobs`` over the warm repos, one worker per sandbox; results in job order.

    Each worker takes the next job when it is free, so a slow cell does not hold up the rest.
    The workers are the sandboxes themselves, so the caller's sandbox limit is the parallelism.
    """
    if not repos:
        raise ValueError("run_cells needs at least one warm sandbox")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(jobs)):
        queue.put_nowait(index)
    results: list[Cell | None] = [None] * len(jobs)

    async def worker(repo: WarmRepo) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            results[index] = await repo.run(jobs[index])

    async with asyncio.TaskGroup() as group:
        for repo in repos:
            group.create_task(worker(repo))
    return [cell for cell in results if cell is not None]


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"

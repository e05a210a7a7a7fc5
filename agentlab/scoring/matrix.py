"""The test-vote matrix, run in warm sandboxes: one container per worker, reset between runs.

A problem's container starts once from its instance image. Every patch and every test is
written into it up front; after that each cell (one test against one candidate, or against no
patch) is a single exec of a small script that kills whatever the previous run left behind,
resets the repository (``git reset --hard && git clean -ffdx``), applies the patch with the
harness's three fallbacks, and runs the test. The harness's way, a fresh container per run,
pays a container start per cell; this pays one exec (see ``benchmarks/selection_matrix.py``).

A test is a Python script (exit 0 = the issue is fixed), run as the trajectories run it:
from the repository root with the repository on ``PYTHONPATH``.

The container outlives every cell, so no cell may change what a later one sees. Tests (and the
candidate code they import) run as ``nobody`` under the eval harness's ulimits, with ``HOME``
in a scratch directory: they can write the worktree but not ``.git``, site-packages, ``/usr``
or ``/etc``. Between cells root kills every process of that user and empties ``/tmp``,
``/dev/shm``, ``/run/lock`` and the home directory; ``git clean -ffdx`` also removes nested
repositories. Root runs git with fsmonitor and hooks off and GNU ``patch`` with ``.git`` moved
aside (see ``agentlab.tasks.scripts``, whose rules these repeat: the two packages do not import
each other). ``/var/tmp`` is left alone: state a test keeps there on purpose is what makes it
flaky, and nothing loads code from it unasked.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from agentlab.errors import SandboxError
from agentlab.protocols import Sandbox

SCRATCH = "/var/tmp/agentlab-vote"  # not /tmp: the engine's archive API cannot see a tmpfs
HOME = f"{SCRATCH}/home"  # the test's HOME, emptied before and after every cell
APPLY_FAILED = 97  # the cell script's exit code when no apply command took the patch
OUTPUT_TAIL = 4000  # characters of a test's output kept per cell
NOBODY = 65534
MAX_USER_PROCS = 128  # the eval harness's strict-mode limits
MAX_FILE_KB = 256 * 1024
GIT = "git -c core.fsmonitor=false -c core.hooksPath=/dev/null"
_WIPED = ("/tmp", "/dev/shm", "/run/lock")


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


def cell_script(repo_dir: str, python: str, timeout_s: float, uid: int = NOBODY) -> str:
    """The bash script one cell runs: ``cell.sh PATCH|- TEST``."""
    repo = shlex.quote(repo_dir)
    reset = f"{GIT} reset -q --hard HEAD && {GIT} clean -q -ffdx"
    # GNU patch writes any path a diff names, .git/config included: .git waits outside.
    patch = (
        f'{{ mv -T .git {repo}.git-saved && {{ patch --batch --fuzz=5 -p1 -i "$1"; r=$?; '
        f"rm -rf .git; mv -T {repo}.git-saved .git; [ $r = 0 ]; }}; }}"
    )
    applies = (f'{GIT} apply --verbose "$1"', f'{GIT} apply --verbose --reject "$1"', patch)
    lines = ["#!/bin/bash", _cleanup(uid), f"cd {repo} || exit 98", reset]
    lines.append('if [ "$1" != "-" ]; then')
    lines.append("  ok=0")
    for cmd in applies:
        lines.append(f"  if [ $ok = 0 ]; then {cmd} >/dev/null 2>&1 && ok=1 || {{ {reset}; }}; fi")
    lines.append(f"  [ $ok = 1 ] || exit {APPLY_FAILED}")
    lines.append("fi")
    lines += _hand_over(repo, uid)
    inner = f'ulimit -u {MAX_USER_PROCS}; ulimit -f {MAX_FILE_KB}; exec {python} "$0" 2>&1'
    lines.append(
        f"timeout -k 2 {timeout_s:g} setpriv --reuid={uid} --regid={uid} --clear-groups "
        "--no-new-privs "
        f"env HOME={HOME} PYTHONNOUSERSITE=1 PYTHONPATH={repo} PYTHONDONTWRITEBYTECODE=1 "
        f"GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0={repo} "
        f'bash -c {shlex.quote(inner)} "$2"'
    )
    lines += ["code=$?", _cleanup(uid), "exit $code"]
    return "\n".join(lines) + "\n"


def _cleanup(uid: int) -> str:
    """Kill every process of ``uid`` (the loop catches ones forked while pkill scanned) and
    empty the places it could write outside the repository."""
    # -U: the real uid, which nothing the test starts can change.
    return (
        f"for _ in 1 2 3 4 5 6 7 8; do pkill -KILL -U {uid} || break; sleep 0.1; done; "
        f"find {' '.join(_WIPED)} -xdev -mindepth 1 -delete 2>/dev/null; rm -rf {HOME}"
    )


def _hand_over(repo: str, uid: int) -> list[str]:
    """The worktree (not ``.git``, not the top directory: see :func:`prepare_script`) becomes
    ``uid``'s, and so does a fresh HOME."""
    return [
        f"find {repo} -mindepth 1 -path {repo}/.git -prune -o ! -user {uid} "
        f"-exec chown -h {uid}:{uid} {{}} +",
        f"mkdir -m 0700 {HOME} && chown {uid}:{uid} {HOME}",
    ]


def prepare_script(repo_dir: str) -> str:
    """Run once per sandbox, as root, before any cell: ``.git`` becomes root's and read-only to
    others, and the repository's top directory root's and sticky, so the user the tests run as
    can neither write ``.git`` nor rename it away and plant a repository of its own. Root's git
    keeps it so (its umask is 022), and the staged tests and patches stay read-only."""
    repo = shlex.quote(repo_dir)
    return (
        f"chown root:root {repo} && chmod 1777 {repo} && chown -R root:root {repo}/.git && "
        f"chmod -R go-w {repo}/.git && mkdir -p {SCRATCH} && chmod 0755 {SCRATCH}"
    )


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
        """Lock down ``.git``; write every patch, test and the cell script into the sandbox."""
        done = await self.sandbox.exec(["bash", "-c", prepare_script(self.repo_dir)])
        if not done.ok:
            raise SandboxError(f"could not prepare {self.repo_dir}: {done.stdout}{done.stderr}")
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

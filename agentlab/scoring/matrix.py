"""The test-vote matrix, run in warm sandboxes: one container per worker, reset between runs.

A problem's container starts once from its instance image. Every patch and every test is
written into it up front; after that a candidate's tests run as one batch, a single exec of a
small script that, for each test in turn, resets the repository (``git reset --hard && git
clean -ffdx``), applies the patch (the harness's three fallbacks; the first test finds which
one takes it), runs the test, kills whatever it left behind, and prints one result record.
The harness's way, a fresh container per run, pays a container start per cell; this pays one
exec per candidate (see ``benchmarks/selection_matrix.py``).

A test is a Python script (exit 0 = the issue is fixed), run as the trajectories run it:
from the repository root with the repository on ``PYTHONPATH``.

The container outlives every cell, so no cell may change what a later one sees. Tests (and the
candidate code they import) run as ``nobody`` under the eval harness's ulimits, with ``HOME``
in a scratch directory: they can write the worktree but not ``.git``, site-packages, ``/usr``
or ``/etc``. Between cells root kills every process of that user and empties ``/tmp``,
``/dev/shm``, ``/run/lock`` and the home directory; ``git clean -ffdx`` also removes nested
repositories. A test's output goes to a root-owned file, and its record reaches the host
base64-encoded and tagged with a per-exec nonce it cannot read, so no test can speak for
another. Root runs git with fsmonitor and hooks off and GNU ``patch`` with ``.git`` moved
aside (see ``agentlab.tasks.scripts``, whose rules these repeat: the two packages do not import
each other). ``/var/tmp`` is left alone: state a test keeps there on purpose is what makes it
flaky, and nothing loads code from it unasked.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from agentlab.errors import SandboxError
from agentlab.protocols import Sandbox
from agentlab.types import Candidate, ExecResult

SCRATCH = "/var/tmp/agentlab-vote"  # not /tmp: the engine's archive API cannot see a tmpfs
HOME = f"{SCRATCH}/home"  # the test's HOME, emptied before and after every cell
# A record's kind says what happened; a test's own exit code can never mean "not applied".
RAN = "ran"
NOT_APPLIED = "noapply"
OUTPUT_TAIL = 4000  # characters of a test's output kept per cell
NOBODY = 65534
MAX_USER_PROCS = 128  # the eval harness's strict-mode limits
MAX_FILE_KB = 256 * 1024
GIT = "git -c core.fsmonitor=false -c core.hooksPath=/dev/null"
_WIPED = ("/tmp", "/dev/shm", "/run/lock")


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
    # No verdict: the batch died as a whole (engine failure, exec killed). Casts no vote.
    error: bool = False


@dataclass(frozen=True)
class CellJob:
    candidate: int | None
    test: int
    attempt: int = 0


def batch_script(repo_dir: str, python: str, timeout_s: float, uid: int = NOBODY) -> str:
    """The bash script one batch runs: ``batch.sh PATCH|- TEST...``, with a nonce on stdin.

    Per test: reset the repository, apply the patch (the first test finds which of the three
    fallbacks takes it; the rest reuse that one), hand the worktree over, run the test as
    ``uid`` with its output in a root-owned file, clean up, then print one record
    ``@@NONCE INDEX KIND EXIT MS BASE64-OUTPUT-TAIL`` (KIND: ``ran`` or ``noapply``, written
    by the script, never derived from what the test did). The test's output never reaches the exec's
    stdout, and the nonce (read before any test runs, never exported) is out of its reach, so
    no test can forge another test's record.
    """
    repo = shlex.quote(repo_dir)
    reset = f"{GIT} reset -q --hard HEAD && {GIT} clean -q -ffdx"
    # GNU patch writes any path a diff names, .git/config included: .git waits outside.
    patch = (
        f'{{ mv -T .git {repo}.git-saved && {{ patch --batch --fuzz=5 -p1 -i "$p"; r=$?; '
        f"rm -rf .git; mv -T {repo}.git-saved .git; [ $r = 0 ]; }}; }}"
    )
    out = f"{SCRATCH}/out"
    tail = f"tail -c {OUTPUT_TAIL} {out} | base64 -w0"  # base64: no newline, no forged record
    failed = f"emit $i {NOT_APPLIED} 1 0 -"
    first = "apply_$k >/dev/null 2>&1 && { m=$k; break; }"  # the first fallback that takes it
    inner = f'ulimit -u {MAX_USER_PROCS}; ulimit -f {MAX_FILE_KB}; exec {python} "$0" 2>&1'
    return "\n".join(
        [
            "#!/bin/bash",
            'read -r nonce && [ -n "$nonce" ] || exit 98  # never exported: tests cannot see it',
            'emit() { printf "@@%s %s %s %s %s %s\\n" "$nonce" "$@"; }',
            f'apply_1() {{ {GIT} apply --verbose "$p"; }}',
            f'apply_2() {{ {GIT} apply --verbose --reject "$p"; }}',
            f"apply_3() {{ {patch}; }}",
            # One cleanup up front (a batch killed from outside skipped its last one), then
            # one after each test: the next test's reset and hand-over follow it directly.
            _cleanup(uid),
            f"cd {repo} || exit 98",
            "p=$1; shift; m=0; i=-1",
            'for t in "$@"; do',
            "  i=$((i+1))",
            f"  {reset}",
            '  if [ "$p" != "-" ]; then',
            "    if [ $m = 0 ]; then",
            f"      for k in 1 2 3; do {first}; {reset}; done",
            # Nothing takes the patch: every test of the batch gets the apply-failed record.
            f'      [ $m = 0 ] && {{ for _ in "$@"; do {failed}; i=$((i+1)); done; exit 0; }}',
            f"    else apply_$m >/dev/null 2>&1 || {{ {failed}; continue; }}",
            "    fi",
            "  fi",
            *(f"  {line}" for line in _hand_over(repo, uid)),
            "  s=$(date +%s%N)",
            f"  timeout -k 2 {timeout_s:g} setpriv --reuid={uid} --regid={uid} --clear-groups "
            "--no-new-privs "
            f"env HOME={HOME} PYTHONNOUSERSITE=1 PYTHONPATH={repo} PYTHONDONTWRITEBYTECODE=1 "
            f"GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0={repo} "
            f'bash -c {shlex.quote(inner)} "$t" >{out} 2>&1 </dev/null',
            "  code=$? e=$(date +%s%N)",
            f"  {_cleanup(uid)}",
            f'  emit $i {RAN} $code $(( (e - s) / 1000000 )) "$({tail})"',
            "done",
            "",
        ]
    )


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

    async def stage(self, candidates: Sequence[Candidate], tests: Sequence[MatrixTest]) -> None:
        """Lock down ``.git``; write every patch, test and the batch script into the sandbox.

        ``candidates`` are stored ones, one per distinct change (its representative): each
        patch is staged under the candidate's ``id``, which names it in the cells."""
        done = await self.sandbox.exec(["bash", "-c", prepare_script(self.repo_dir)])
        if not done.ok:
            raise SandboxError(f"could not prepare {self.repo_dir}: {done.stdout}{done.stderr}")
        await self.sandbox.write_file(
            f"{SCRATCH}/batch.sh",
            batch_script(self.repo_dir, self.python, self.test_timeout_s),
            mode=0o755,
        )
        for cand in candidates:
            await self.sandbox.write_file(self._patch(cand.stored_id), _with_newline(cand.patch))
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
        return (await self.run_batch([job]))[0]

    async def run_batch(self, jobs: Sequence[CellJob]) -> list[Cell]:
        """Run several tests against one candidate (or no patch) in one exec.

        Every test still gets a reset worktree, the patch, a fresh HOME, its own timeout and a
        full cleanup; what is shared is the exec round trip and finding the apply command. A
        test without a record (the exec died or timed out as a whole) comes back as an
        ``error`` cell, which casts no vote.
        """
        candidates = {job.candidate for job in jobs}
        if len(candidates) != 1:
            raise ValueError("a batch runs tests against exactly one candidate")
        candidate = jobs[0].candidate
        patch = "-" if candidate is None else self._patch(candidate)
        nonce = secrets.token_hex(16)
        result = await self.sandbox.exec(
            ["bash", f"{SCRATCH}/batch.sh", patch, *(self._test(j.test) for j in jobs)],
            timeout=len(jobs) * (self.test_timeout_s + 5) + 60,
            stdin=nonce + "\n",
        )
        records = parse_records(result.stdout, nonce, len(jobs))
        return [_cell(job, records.get(i), result) for i, job in enumerate(jobs)]


@dataclass(frozen=True)
class _Record:
    kind: str
    exit_code: int
    duration_s: float
    output: str


def parse_records(stdout: str, nonce: str, count: int) -> dict[int, _Record]:
    """The batch's result records, by test index. Only lines carrying this exec's nonce
    count, the first one per index wins, and anything malformed is ignored."""
    records: dict[int, _Record] = {}
    tag = f"@@{nonce} "
    for line in stdout.splitlines():
        if not line.startswith(tag):
            continue
        fields = line[len(tag) :].split(" ")
        if len(fields) != 5 or fields[1] not in (RAN, NOT_APPLIED):
            continue
        try:
            index, code, millis = int(fields[0]), int(fields[2]), int(fields[3])
            raw = b"" if fields[4] == "-" else base64.b64decode(fields[4], validate=True)
        except ValueError:
            continue
        if 0 <= index < count and index not in records:
            text = raw.decode("utf-8", errors="replace")[-OUTPUT_TAIL:]
            records[index] = _Record(fields[1], code, millis / 1000, text)
    return records


def _cell(job: CellJob, record: _Record | None, result: ExecResult) -> Cell:
    if record is None:
        # The exec ended before this test's record: an infrastructure failure, not a verdict
        # on the test or the candidate.
        tail = (result.stdout + result.stderr)[-OUTPUT_TAIL:]
        return Cell(
            candidate=job.candidate,
            test=job.test,
            attempt=job.attempt,
            passed=False,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            output=f"no result from the batch (exit {result.exit_code}): {tail}",
            error=True,
        )
    return Cell(
        candidate=job.candidate,
        test=job.test,
        attempt=job.attempt,
        passed=record.kind == RAN and record.exit_code == 0,
        exit_code=record.exit_code,
        timed_out=record.kind == RAN and record.exit_code == 124,
        applied=record.kind != NOT_APPLIED,
        duration_s=record.duration_s,
        output=record.output,
    )


def plan(
    candidates: Sequence[Candidate],
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
    jobs += [
        CellJob(c.stored_id, t.key, a) for c in candidates for a in range(repeats) for t in tests
    ]
    return jobs


async def run_cells(repos: Sequence[WarmRepo], jobs: Sequence[CellJob]) -> list[Cell]:
    """Run ``jobs`` over the warm repos, one worker per sandbox; results in job order.

    Consecutive jobs on the same candidate and attempt run as one batch (one exec), capped so
    there are batches enough for every sandbox. Each worker takes the next batch when it is
    free, so a slow batch does not hold up the rest. The workers are the sandboxes
    themselves, so the caller's sandbox limit is the parallelism.
    """
    if not repos:
        raise ValueError("run_cells needs at least one warm sandbox")
    queue: asyncio.Queue[list[int]] = asyncio.Queue()
    for batch in _batches(jobs, max(1, -(-len(jobs) // len(repos)))):
        queue.put_nowait(batch)
    results: list[Cell | None] = [None] * len(jobs)

    async def worker(repo: WarmRepo) -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            cells = await repo.run_batch([jobs[i] for i in batch])
            for index, cell in zip(batch, cells, strict=True):
                results[index] = cell

    async with asyncio.TaskGroup() as group:
        for repo in repos:
            group.create_task(worker(repo))
    return [cell for cell in results if cell is not None]


def _batches(jobs: Sequence[CellJob], cap: int) -> list[list[int]]:
    """Indices of runs of consecutive jobs sharing candidate and attempt, at most ``cap`` long."""
    batches: list[list[int]] = []
    for index, job in enumerate(jobs):
        last = batches[-1] if batches else None
        if (
            last is not None
            and len(last) < cap
            and (jobs[last[0]].candidate, jobs[last[0]].attempt) == (job.candidate, job.attempt)
        ):
            last.append(index)
        else:
            batches.append([index])
    return batches


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"

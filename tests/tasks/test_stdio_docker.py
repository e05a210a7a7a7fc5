"""The stdin/stdout runner on the real Docker engine: verdicts, limits, isolation, reaping."""

from __future__ import annotations

import pytest

from agentlab.protocols import Sandbox
from agentlab.tasks import stdio

pytestmark = pytest.mark.docker

PROBLEMS = stdio.load_problems(stdio.BUNDLED["agentlab-stdio"])
SUM = [stdio.Case(input="1 2\n", output="3\n"), stdio.Case(input="-5 3\n", output="-2\n")]
LIMITS = stdio.Limits(time_limit_s=1.0, memory_limit_mb=128, wall_factor=2.0)


async def _verdicts(sb: Sandbox, programs: dict[str, str], cases: list[stdio.Case]) -> dict:
    results = await stdio.run_cases(sb, programs, cases, LIMITS)
    return {k: [r.verdict for r in v] for k, v in results.items()}


async def test_each_verdict(stdio_sandbox: Sandbox) -> None:
    programs = {
        "ok": "a, b = map(int, input().split())\nprint(a + b)\n",
        "spaces": "a, b = map(int, input().split())\nprint('  ', a + b, '\\n\\n')\n",
        "wrong": "a, b = map(int, input().split())\nprint(a - b)\n",
        "crash": "raise ValueError('no')\n",
        "memory": "blob = bytearray(512 * 1024 * 1024)\nprint(3)\n",
        "spin": "while True:\n    pass\n",
        "sleep": "import time\ntime.sleep(60)\n",
    }
    assert await _verdicts(stdio_sandbox, programs, SUM) == {
        "ok": ["accepted", "accepted"],
        "spaces": ["accepted", "accepted"],  # compared token-wise
        "wrong": ["wrong answer"],  # stops at the first failing case
        "crash": ["runtime error"],
        "memory": ["memory limit"],
        "spin": ["time limit"],
        "sleep": ["time limit"],  # the wall-clock kill catches a program using no CPU
    }


async def test_output_digests_and_feedback_are_reported(stdio_sandbox: Sandbox) -> None:
    cases = [stdio.Case(input="4\n"), stdio.Case(input="5\n", output="25\n")]
    program = "import sys\nn = int(input())\nprint(n * n)\nprint('note', file=sys.stderr)\n"
    results = await stdio.run_cases(stdio_sandbox, {"sq": program}, cases, LIMITS)
    first, second = results["sq"]
    assert first.verdict == "ran" and first.output_sha == stdio.digest("16")
    assert second.verdict == "accepted" and second.stdout_head == "25\n"
    assert second.stderr_tail == "note\n" and second.exit_code == 0


async def test_programs_cannot_read_answers_or_each_other(stdio_sandbox: Sandbox) -> None:
    snoop = (
        "import glob, os\n"
        "found = []\n"
        "for path in glob.glob('/opt/agentlab/*') + glob.glob('/tmp/*/*'):\n"
        "    try:\n"
        "        found.append(open(path).read()[:20])\n"
        "    except OSError:\n"
        "        pass\n"
        "print(len([f for f in found if 'expected' in f or '1 2' in f]))\n"
    )
    cases = [stdio.Case(input="1 2\n", output="0\n")]
    verdicts = await _verdicts(stdio_sandbox, {"snoop": snoop, "other": "print(0)"}, cases)
    assert verdicts == {"snoop": ["accepted"], "other": ["accepted"]}


async def test_timed_out_programs_and_their_children_are_reaped(stdio_sandbox: Sandbox) -> None:
    forker = "import os, time\nif os.fork() == 0:\n    time.sleep(600)\ntime.sleep(600)\n"
    verdicts = await _verdicts(stdio_sandbox, {"forker": forker}, SUM)
    assert verdicts == {"forker": ["time limit"]}
    left = await stdio_sandbox.exec(["sh", "-c", "ps -eo user:20,args | grep -v root || true"])
    assert "python3" not in left.stdout, left.stdout


async def test_a_quadratic_solution_times_out_on_the_large_case(stdio_sandbox: Sandbox) -> None:
    problem = PROBLEMS["agentlab-stdio/lis-length"]
    naive = (
        "import sys\n"
        "d = list(map(int, sys.stdin.read().split()))[1:]\n"
        "best = [1] * len(d)\n"
        "for i in range(len(d)):\n"
        "    for j in range(i):\n"
        "        if d[j] < d[i] and best[j] + 1 > best[i]:\n"
        "            best[i] = best[j] + 1\n"
        "print(max(best))\n"
    )
    results = await stdio.run_cases(
        stdio_sandbox,
        {"naive": naive, "reference": problem.reference or ""},
        problem.hidden,
        stdio.Limits.of(problem),
    )
    assert [r.verdict for r in results["naive"]][-1] == "time limit"
    assert all(r.verdict == "accepted" for r in results["naive"][:-1])
    assert stdio.accepted(results["reference"], problem.hidden)

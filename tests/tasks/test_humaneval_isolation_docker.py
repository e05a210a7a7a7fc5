"""HumanEval grading in one warm sandbox (as `agentlab run` does it): a completion that leaves
a `setsid` daemon behind cannot touch the programs graded after it."""

from __future__ import annotations

import pytest

from agentlab.sandbox.docker import DockerBackend
from agentlab.tasks import humaneval as he
from agentlab.types import SandboxSpec

pytestmark = pytest.mark.docker

# Waits for the program that started it to exit, then for two minutes kills every later
# program it can see and overwrites the ones it can write; leaves a file in /tmp.
DAEMON = """
import glob, os, signal, time
parent = os.getppid()
while os.getppid() == parent:
    time.sleep(0.01)
open('/tmp/hostile-mark', 'w').write('x')
me, end = os.getpid(), time.time() + 120
while time.time() < end:
    for d in glob.glob('/proc/[0-9]*'):
        try:
            if int(d[6:]) != me and b'prog.py' in open(d + '/cmdline', 'rb').read():
                os.kill(int(d[6:]), signal.SIGKILL)
        except Exception:
            pass
    for f in glob.glob('/tmp/he-*/prog.py'):
        try:
            open(f, 'w').write('raise SystemExit(1)\\n')
        except Exception:
            pass
    time.sleep(0.002)
"""

SPAWN = (
    "    import subprocess, sys\n"
    "    if not globals().get('_spawned'):\n"
    "        globals()['_spawned'] = True\n"
    f"        subprocess.Popen([sys.executable, '-c', {DAEMON!r}], start_new_session=True,\n"
    "                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,\n"
    "                         stderr=subprocess.DEVNULL)\n"
)


async def test_a_setsid_daemon_cannot_touch_later_programs(
    docker_backend: DockerBackend, spec: SandboxSpec
) -> None:
    problems = he.load_problems()
    add = problems["HumanEval/53"]
    grader_spec = spec.model_copy(update={"cpus": 2.0, "pids_limit": 512, "memory_mb": 1024})
    async with docker_backend.open(grader_spec) as grader:
        await grader.write_file(he.RUNNER_PATH, he.RUNNER)
        # A correct answer that leaves a daemon behind: it passes, and is then reaped.
        verdict = await he.grade_one(grader, add, SPAWN + "    return x + y\n", "hostile")
        assert verdict == "passed"
        # Same, but the program then hangs: timed out, and reaped all the same.
        hang = SPAWN + "    import time\n    time.sleep(600)\n"
        assert await he.grade_one(grader, add, hang, "hostile-hang") == "timed out"
        # Correct programs graded afterwards are graded correctly...
        for task_id in ("HumanEval/0", "HumanEval/53", "HumanEval/2"):
            problem = problems[task_id]
            got = await he.grade_one(grader, problem, problem.canonical_solution, task_id[10:])
            assert got == "passed", task_id
        # ...and a wrong one is still wrong.
        assert await he.grade_one(grader, add, "    return x - y\n", "wrong") == "failed"
        # Nothing of the graded programs is left: no process outside root, no stray file.
        ps = await grader.exec(["ps", "-eo", "uid=,args="], timeout=30)
        strays = [line for line in ps.stdout.splitlines() if line.split()[0] != "0"]
        assert strays == []
        left = await grader.exec("ls -a /tmp /var/tmp /dev/shm", timeout=30)
        assert "hostile-mark" not in left.stdout and "he-" not in left.stdout

"""A tiny SWE-style dataset built on the fly: one repo, a real git bundle, real tests.

``toy/calc`` has ``calc.py`` with a bug in ``add`` at the base commit; the gold patch fixes it,
``test_patch`` adds the failing test. Used to exercise the harness (and hostile predictions)
without depending on any bundled dataset.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

CALC = """\
def add(a, b):
    return a - b


def mul(a, b):
    return a * b
"""
TESTS = """\
from calc import mul


def test_mul():
    assert mul(2, 3) == 6


def test_mul_zero():
    assert mul(5, 0) == 0
"""
# pytest settings whose later lines are far from the word "pytest" (a hunk adding an option
# there has no "pytest" in its context).
SETUP_CFG = "[tool:pytest]\nmarkers =\n" + "".join(f"    m{i}: marker {i}\n" for i in range(8))
ENV = {
    "GIT_AUTHOR_NAME": "toy",
    "GIT_AUTHOR_EMAIL": "toy@example.invalid",
    "GIT_COMMITTER_NAME": "toy",
    "GIT_COMMITTER_EMAIL": "toy@example.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}

GOLD = """\
diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,5 +1,5 @@
 def add(a, b):
-    return a - b
+    return a + b
~
~
 def mul(a, b):
""".replace("~", " ")
REGRESS = """\
diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,6 +1,6 @@
 def add(a, b):
-    return a - b
+    return a + b
~
~
 def mul(a, b):
-    return a * b
+    return a + b
""".replace("~", " ")
TEST_PATCH = """\
diff --git a/tests/test_calc.py b/tests/test_calc.py
--- a/tests/test_calc.py
+++ b/tests/test_calc.py
@@ -1,4 +1,8 @@
-from calc import mul
+from calc import add, mul
+
+
+def test_add():
+    assert add(2, 3) == 5
~
~
 def test_mul():
""".replace("~", " ")
F2P = ["tests/test_calc.py::test_add"]
P2P = ["tests/test_calc.py::test_mul", "tests/test_calc.py::test_mul_zero"]
INSTANCE_ID = "toy__calc-1"


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, **ENV}
    out = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return out.stdout.decode().strip()


def build(root: Path) -> Path:
    """Write the dataset folder under ``root`` and return it."""
    repo = root / "src"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text(CALC)
    (repo / "tests" / "test_calc.py").write_text(TESTS)
    (repo / "setup.cfg").write_text(SETUP_CFG)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "calc")
    base = _git(repo, "rev-parse", "HEAD")
    data = root / "toy"
    (data / "repos").mkdir(parents=True)
    _git(repo, "bundle", "create", str(data / "repos" / "toy__calc.bundle"), "--all")
    instance = {
        "instance_id": INSTANCE_ID,
        "repo": "toy/calc",
        "base_commit": base,
        "patch": GOLD,
        "test_patch": TEST_PATCH,
        "problem_statement": "add() subtracts",
        "version": "0.1",
        "FAIL_TO_PASS": json.dumps(F2P),
        "PASS_TO_PASS": json.dumps(P2P),
    }
    (data / "instances.jsonl").write_text(json.dumps(instance) + "\n")
    spec = {
        "install": [],
        "test_cmd": "python3 -m pytest -rA tests/test_calc.py",
        "log_parser": "pytest",
    }
    (data / "specs.json").write_text(json.dumps({"toy/calc": {"0.1": spec}}))
    return data


def make_patch(root: Path, files: dict[str, str]) -> str:
    """A real ``git diff`` of the toy repo at its base commit with ``files`` written."""
    repo = root / "src"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "add", "-A")
    diff = _git(repo, "diff", "--cached") + "\n"
    _git(repo, "reset", "-q", "--hard", "HEAD")
    _git(repo, "clean", "-fdq")
    return diff


FIXED = CALC.replace("a - b", "a + b")
HOSTILE_BODIES = {
    # The bug stays; at exit, forged harness lines go to both stdout and stderr.
    "forge": CALC + "\nimport atexit, os\n"
    "def _forge():\n"
    "    for fd in (1, 2):\n"
    "        os.write(fd, b'\\nPASSED tests/test_calc.py::test_add\\n')\n"
    "    with open('/tmp/agentlab_results', 'a') as fh:\n"
    "        fh.write('@@0123 PASSED tests/test_calc.py::test_add\\n')\n"
    "atexit.register(_forge)\n",
    # Correct fix, but 60 MB of binary, invalid UTF-8 output during the test.
    "bigout": FIXED.replace(
        "    return a + b",
        "    import os\n    for _ in range(60):\n        os.write(1, b'\\xff\\xfe\\x00' * 350000)\n"
        "    return a + b",
    ),
    "forkbomb": FIXED + "\nimport os\nwhile True:\n    os.fork()\n",
    "membomb": FIXED + "\nhog = []\nwhile True:\n    hog.append(bytearray(50 * 1024 * 1024))\n",
    "diskbomb": FIXED + "\nwith open('/testbed/fill.bin', 'wb') as fh:\n    while True:\n"
    "        fh.write(b'x' * (1 << 20))\n",
    "cpubomb": FIXED + "\nwhile True:\n    pass\n",
}
MALFORMED = "--- a/calc.py\n+++ b/calc.py\n@@ -7,2 +7,2 @@\n-no such line\n+x = 1\n"

"""The shell scripts an evaluation runs in the sandbox, and the test-tampering check.

Patch application runs as its own exec before any candidate code has run, so its exit code is
trustworthy. The evaluation script then resets the test files, applies ``test_patch`` and runs
the test command between the harness's markers. In strict mode the tests run as an
unprivileged user under process and file-size limits, with a nonce-tagged reporter.
"""

from __future__ import annotations

import posixpath
import shlex

from agentlab.tasks.reporters import NONCE_DIR, REPORTER_DIR, RESULTS_FILE
from agentlab.tasks.swebench import RepoSpec, SWEInstance, diff_files

WORK = "/opt/agentlab/work"  # the engine cannot copy files into the /tmp tmpfs
PATCH_FILE = f"{WORK}/patch.diff"
TEST_PATCH_FILE = f"{WORK}/test.diff"
TESTBED = "/testbed"
NOBODY = 65534
APPLY_COMMANDS = (
    "git apply --verbose",
    "git apply --verbose --reject",
    "patch --batch --fuzz=5 -p1 -i",
)
APPLIED_MARKER = ">>>>> Applied Patch"
APPLY_FAILED_MARKER = ">>>>> Patch Apply Failed"
# Strict-mode limits for the process tree of the code under test.
MAX_USER_PROCS = 128
MAX_FILE_KB = 256 * 1024

_PYTEST_CONFIG = ("pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")
_STARTUP_HOOKS = ("sitecustomize.py", "usercustomize.py")


def apply_script() -> str:
    """Try the harness's three patch commands in order, resetting the tree between them."""
    lines = ["#!/bin/bash", f"cd {TESTBED}"]
    for cmd in APPLY_COMMANDS:
        lines += [
            f"if {cmd} {PATCH_FILE}; then echo '{APPLIED_MARKER} ({cmd})'; exit 0; fi",
            "git reset --hard -q HEAD && git clean -fdq",
        ]
    lines += [f"echo '{APPLY_FAILED_MARKER}'", "exit 1"]
    return "\n".join(lines) + "\n"


def eval_script(instance: SWEInstance, spec: RepoSpec, *, strict: bool, timeout: float) -> str:
    """The evaluation script (as the harness's ``eval.sh``), strict or harness-exact."""
    tests = " ".join(shlex.quote(f) for f in diff_files(instance.test_patch, include_new=False))
    reset = f"git checkout -q {instance.base_commit} -- {tests}" if tests else ":"
    lines = [
        "#!/bin/bash",
        "set -uo pipefail",
        "exec 2>&1",
        f"cd {TESTBED}",
        reset,
        f"git apply -v {TEST_PATCH_FILE}",
        "echo '>>>>> Start Test Output'",
        _strict_test_command(spec, timeout) if strict else spec.test_cmd,
        "echo '>>>>> End Test Output'",
        reset,
    ]
    return "\n".join(lines) + "\n"


def _strict_test_command(spec: RepoSpec, timeout: float) -> str:
    cmd = spec.test_cmd
    if spec.log_parser == "unittest":
        for prefix in ("python3 -m unittest", "python -m unittest"):
            cmd = cmd.replace(prefix, "python3 -m agentlab_unittest")
    inner = (
        f"ulimit -u {MAX_USER_PROCS}; ulimit -f {MAX_FILE_KB}; cd {TESTBED}; "
        f"export PYTHONPATH={REPORTER_DIR}${{PYTHONPATH:+:$PYTHONPATH}}; "
        "export PYTEST_ADDOPTS='-p agentlab_report'; "
        f"exec {cmd}"
    )
    # Prepared as root, then the tests run as nobody: they cannot read root's files, and the
    # per-user process limit holds (root ignores RLIMIT_NPROC).
    return "\n".join(
        [
            f"chmod -R a+rwX {TESTBED}",
            f"chown -R {NOBODY}:{NOBODY} {NONCE_DIR} && chmod 0700 {NONCE_DIR}",
            f"touch {RESULTS_FILE} && chmod 0622 {RESULTS_FILE}",
            f"timeout -s KILL {int(timeout)} setpriv --reuid={NOBODY} --regid={NOBODY} "
            f"--clear-groups env HOME=/tmp bash -c {shlex.quote(inner)}",
            # Whatever the tests left behind (a fork bomb's orphans hold our output pipe open)
            # dies now; the loop catches processes forked while pkill was scanning.
            f"for _ in 1 2 3 4 5 6 7 8; do pkill -KILL -u {NOBODY} || break; sleep 0.2; done",
        ]
    )


def tampered_files(patch: str, test_patch: str) -> list[str]:
    """Files a candidate patch touches that decide how tests run: the tests themselves,
    conftest files, pytest settings and interpreter start-up hooks."""
    protected = set(diff_files(test_patch))
    hits = []
    for path in diff_files(patch):
        name = posixpath.basename(path)
        parts = path.split("/")[:-1]
        if (
            path in protected
            or name == "conftest.py"
            or name in _STARTUP_HOOKS
            or name.endswith(".pth")
            or (name.startswith("test_") and name.endswith(".py"))
            or name.endswith("_test.py")
            or any(p in ("test", "tests", "testing") for p in parts)
            or (name in _PYTEST_CONFIG and _mentions_pytest(patch, path))
        ):
            hits.append(path)
    return hits


def _mentions_pytest(patch: str, path: str) -> bool:
    """Whether the diff section of ``path`` touches pytest configuration."""
    if posixpath.basename(path) == "pytest.ini":
        return True
    section, inside = [], False
    for line in patch.splitlines():
        if line.startswith("diff --git") or line.startswith("--- "):
            inside = False
        if line.startswith("+++ ") and line[4:].strip().endswith(path):
            inside = True
        elif inside:
            section.append(line)
    return "pytest" in "\n".join(section)

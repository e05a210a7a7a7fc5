"""The shell scripts an evaluation runs in the sandbox, and the test-tampering check.

Patch application runs as its own exec before any candidate code has run, so its exit code is
trustworthy. The evaluation script then resets the test files, applies ``test_patch`` and runs
the test command between the harness's markers. In strict mode the tests run as an
unprivileged user under process and file-size limits, with a nonce-tagged reporter.

Root runs git in a tree the candidate wrote, so ``.git`` is the trust boundary: the code under
test can write the whole worktree but never ``.git`` (root-owned, read-only to others, and the
root-owned ``/testbed`` is sticky so it cannot be renamed away and replaced), GNU ``patch``
runs with ``.git`` moved aside (it writes any path a diff names, ``.git/config`` included), and
every git root runs goes through :data:`GIT` with fsmonitor and hooks switched off anyway.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from agentlab.tasks.reporters import NONCE_DIR, REPORTER_DIR, RESULTS_FILE
from agentlab.tasks.swebench import RepoSpec, SWEInstance, diff_files
from agentlab.tasks.tamper import record_status
from agentlab.tasks.tamper import tampered_files as tampered_files

WORK = "/opt/agentlab/work"  # the engine cannot copy files into the /tmp tmpfs
PATCH_FILE = f"{WORK}/patch.diff"
TEST_PATCH_FILE = f"{WORK}/test.diff"
TESTBED = "/testbed"
NOBODY = 65534
# Every git command root runs: a planted core.fsmonitor or hook must never execute as root.
GIT = "git -c core.fsmonitor=false -c core.hooksPath=/dev/null"
APPLY_COMMANDS = (
    "git apply --verbose",
    "git apply --verbose --reject",
    "patch --batch --fuzz=5 -p1 -i",
)
# Lets the code under test read the root-owned repository (git refuses a foreign-owned one).
NOBODY_GIT_ENV = f"GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0={TESTBED}"
APPLIED_MARKER = ">>>>> Applied Patch"
APPLY_FAILED_MARKER = ">>>>> Patch Apply Failed"
# Strict-mode limits for the process tree of the code under test.
MAX_USER_PROCS = 128
MAX_FILE_KB = 256 * 1024

STATUS_BEFORE = f"{WORK}/status.before"


def guarded_apply(cmd: str, patch: str, repo: str = TESTBED) -> str:
    """One of :data:`APPLY_COMMANDS` as root runs it on ``patch``: git with fsmonitor and hooks
    off; GNU patch (which writes any path a diff names, ``.git/config`` included, even spelled
    ``"b/\\056git/config"``) with ``.git`` moved aside and whatever it made at ``.git`` removed."""
    if cmd.startswith("git "):
        return f"{GIT} {cmd[4:]} {patch}"
    saved = f"{repo}.git-saved"  # same filesystem: a rename, not a copy
    return (
        f"{{ mv -T {repo}/.git {saved} && {{ {cmd} {patch}; r=$?; rm -rf {repo}/.git; "
        f"mv -T {saved} {repo}/.git; [ $r = 0 ]; }}; }}"
    )


def apply_script() -> str:
    """Try the harness's three patch commands in order, resetting the tree between them."""
    lines = ["#!/bin/bash", f"cd {TESTBED}", record_status(TESTBED, STATUS_BEFORE)]
    for cmd in APPLY_COMMANDS:
        applied = f"echo '{APPLIED_MARKER} ({cmd})'; exit 0"
        lines += [
            f"if {guarded_apply(cmd, PATCH_FILE)}; then {applied}; fi",
            f"{GIT} reset --hard -q HEAD && {GIT} clean -ffdq",
        ]
    lines += [f"echo '{APPLY_FAILED_MARKER}'", "exit 1"]
    return "\n".join(lines) + "\n"


def eval_script(instance: SWEInstance, spec: RepoSpec, *, strict: bool, timeout: float) -> str:
    """The evaluation script (as the harness's ``eval.sh``), strict or harness-exact."""
    tests = " ".join(shlex.quote(f) for f in diff_files(instance.test_patch, include_new=False))
    reset = f"{GIT} checkout -q {instance.base_commit} -- {tests}" if tests else ":"
    lines = [
        "#!/bin/bash",
        "set -uo pipefail",
        "exec 2>&1",
        f"cd {TESTBED}",
        reset,
        f"{GIT} apply -v {TEST_PATCH_FILE}",
        "echo '>>>>> Start Test Output'",
        _strict_test_command(spec, timeout) if strict else spec.test_cmd,
        *([] if strict else ["SWEBENCH_TEST_EXIT_CODE=$?"]),
        "echo '>>>>> End Test Output'",
        # The harness's exit-code line: it refuses results a failing test command printed.
        *([] if strict else ['echo ">>>>> Test Exit Code: $SWEBENCH_TEST_EXIT_CODE"']),
        reset,
    ]
    return "\n".join(lines) + "\n"


def _strict_test_command(spec: RepoSpec, timeout: float) -> str:
    cmd = spec.test_cmd
    if spec.log_parser == "unittest":
        for prefix in ("python3 -m unittest", "python -m unittest"):
            cmd = cmd.replace(prefix, "python3 -m agentlab_unittest")
    return "\n".join(unprivileged(cmd, spec.pytest_plugins, timeout))


def unprivileged(
    cmd: str, plugins: Sequence[str], timeout: float, *, cwd: str | None = TESTBED
) -> list[str]:
    """Root's lines that run ``cmd`` as ``nobody`` under the strict limits, with the reporter
    loaded and pytest's plugin autoloading off (only the reporter and ``plugins`` load); the
    lines end with ``$?`` set to ``cmd``'s exit status. ``cwd=None``: root's directory."""
    inner = (
        f"ulimit -u {MAX_USER_PROCS}; ulimit -f {MAX_FILE_KB}; "
        + (f"cd {cwd}; " if cwd else "")
        + "; ".join(strict_env(plugins))
        + f"; exec {cmd}"
    )
    # Prepared as root, then the tests run as nobody: they cannot read root's files, and the
    # per-user process limit holds (root ignores RLIMIT_NPROC).
    return [
        *worktree_for(TESTBED, NOBODY),
        f"chown -R {NOBODY}:{NOBODY} {NONCE_DIR} && chmod 0700 {NONCE_DIR}",
        f"touch {RESULTS_FILE} && chmod 0622 {RESULTS_FILE}",
        f"timeout -s KILL {int(timeout)} setpriv --reuid={NOBODY} --regid={NOBODY} "
        f"--clear-groups --no-new-privs env HOME=/tmp {NOBODY_GIT_ENV} "
        f"bash -c {shlex.quote(inner)}",
        "agentlab_rc=$?",
        # Whatever the tests left behind (a fork bomb's orphans hold our output pipe open)
        # dies now; the loop catches processes forked while pkill was scanning. -U: the
        # real uid, which a setuid program the tests start does not change.
        f"for _ in 1 2 3 4 5 6 7 8; do pkill -KILL -U {NOBODY} || break; sleep 0.2; done",
        "(exit $agentlab_rc)",
    ]


def strict_env(plugins: Sequence[str]) -> list[str]:
    """Shell lines loading the reporter into the tests that follow, with pytest's plugin
    autoloading off: any ``pytest11`` entry point on ``sys.path`` (``/testbed``'s included)
    would load otherwise; only the reporter and ``plugins`` (the repo's spec names them) do.
    Values set before (an environment's activation) are kept after ours."""
    addopts = " ".join(f"-p {p}" for p in ("agentlab_report", *plugins))
    return [
        f"export PYTHONPATH={REPORTER_DIR}${{PYTHONPATH:+:$PYTHONPATH}}",
        "export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1",
        f'export PYTEST_ADDOPTS="{addopts}${{PYTEST_ADDOPTS:+ $PYTEST_ADDOPTS}}"',
    ]


def worktree_for(repo: str, uid: int) -> list[str]:
    """Root's commands that hand ``repo``'s worktree to ``uid`` and keep ``.git`` from it.

    Everything but ``.git`` becomes ``uid``'s (symlinks themselves, never their targets);
    ``.git`` is root's and read-only to others; ``repo`` itself stays root's with the sticky
    bit, so ``uid`` can add and remove its own entries but cannot rename ``.git`` away and put
    a repository of its own (with a ``core.fsmonitor`` of its choosing) in its place.
    """
    return [
        f"find {repo} -mindepth 1 -path {repo}/.git -prune -o ! -user {uid} "
        f"-exec chown -h {uid}:{uid} {{}} +",
        f"chown root:root {repo} && chmod 1777 {repo}",
        # Only what needs it: a warm container's reset sees any .git inode whose ctime moved.
        f"find {repo}/.git \\( ! -user 0 -o ! -group 0 \\) -exec chown -h root:root {{}} + && "
        f"find {repo}/.git ! -type l -perm /022 -exec chmod go-w {{}} +",
    ]

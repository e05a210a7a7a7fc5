"""Evaluating a current-format instance: its own eval script, in its own image.

The instance names its image (pulled when missing, or renamed by ``--namespace``), carries its
``eval_script`` and names its log parser. The patch is applied with the harness's fallbacks
(:func:`agentlab.tasks.scripts.apply_script`), ``image_assets`` are staged and restored just
before the test-output marker (as the harness does), the script runs with stderr folded into
stdout (the harness reads one stream), and the log is graded with the named parser by the
harness's rules. The grading mode is recorded per instance in ``run_instance.log``.

Strict mode, where the script's test command is pytest or ``python -m unittest``: the lines
between the markers move to their own file, which root runs as ``nobody`` exactly as the
older format's strict mode runs its tests (:func:`agentlab.tasks.scripts.unprivileged`: the
worktree handed over but not ``.git``, ``ulimit -u``/``-f``, ``timeout -s KILL``, leftover
processes killed), with the nonce reporter loaded and ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` plus
``-p`` for the reporter and the plugins the repo's spec names (when the dataset has a spec).
This happens at the end marker, after the script's ``conda activate`` whose exported
environment it keeps. An image without ``setpriv`` runs them as root (the log says so). The
grade comes from the nonce-tagged results file, not the printed log (mode ``strict``). Other
runners (Django's runtests, sympy's bin/test, jest, go test, ...) are graded with the harness's
parser (mode ``harness-parser``) after strict mode's tamper checks (before and after the patch
applies).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import urllib.request
from collections.abc import Sequence

from agentlab.protocols import Sandbox
from agentlab.tasks import grading, log_parsers, reporters, scripts, tamper
from agentlab.tasks.eval_records import EvalConfig, EvalLogs, EvalResult, stage_files
from agentlab.tasks.grading import Grade
from agentlab.tasks.harness_rules import EXIT_CODE_MARKER, EXIT_CODE_VAR
from agentlab.tasks.log_parsers import END_MARKER, START_MARKER
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import SWEInstance

ASSETS_DIR = "/opt/agentlab/image_assets"
HARNESS_MODE = "harness-parser"
TESTS_FILE = f"{scripts.WORK}/tests.sh"
ROOT_NOTE = "agentlab: no setpriv in this image: the tests run as root"
STRICT_MODE = "strict"
_UNITTEST = ("python -m unittest", "python3 -m unittest")


def test_lines(instance: SWEInstance) -> list[str]:
    """The eval script's lines between the output markers: its test command."""
    lines = instance.eval_script.split("\n")
    start = next((n for n, line in enumerate(lines) if START_MARKER in line), None)
    end = next((n for n, line in enumerate(lines) if END_MARKER in line), None)
    return [] if start is None or end is None else lines[start + 1 : end]


# Lines before the start marker that set up the environment the tests run in (and nothing
# else: no git, no test patch, no installs).
_ENV_LINE = re.compile(r"^\s*(source\s|\.\s|conda\s+activate\b|cd\s|export\s)")
_HEREDOC = re.compile(r"<<-?\s*'?\"?(\w+)")


def environment_lines(instance: SWEInstance) -> list[str]:
    """The eval script's environment setup (``source``/``conda activate``/``cd``/``export``
    before the start marker), for running other tests the way the eval script runs its own."""
    out: list[str] = []
    heredoc: str | None = None
    for line in instance.eval_script.split("\n"):
        if heredoc is not None:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if START_MARKER in line:
            break
        opened = _HEREDOC.search(line)
        if opened:
            heredoc = opened.group(1)
            continue
        if _ENV_LINE.match(line):
            out.append(line.strip())
    return out


def workdir(instance: SWEInstance) -> str:
    """Where the eval script runs its tests: its last ``cd`` before them (else /testbed)."""
    dirs = [
        line.split(None, 1)[1] for line in environment_lines(instance) if line.startswith("cd ")
    ]
    target = dirs[-1].strip() if dirs else scripts.TESTBED
    return target if target.startswith("/") else scripts.TESTBED


def strict_runner(instance: SWEInstance) -> str | None:
    """``pytest`` or ``unittest`` when the nonce reporter can run the script's tests."""
    body = "\n".join(test_lines(instance))
    if "pytest" in body:
        return "pytest"
    if any(cmd in body for cmd in _UNITTEST):
        return "unittest"
    return None


def test_file(instance: SWEInstance, runner: str) -> str:
    """Strict mode: the script's test command (the lines between its markers) as its own
    file, run as ``nobody``; unittest through the strict runner with the script's interpreter."""
    lines = test_lines(instance)
    if runner == "unittest":
        for cmd in _UNITTEST:
            lines = [
                line.replace(cmd, cmd.replace("-m unittest", "-m agentlab_unittest"))
                for line in lines
            ]
    return "\n".join(["#!/bin/bash", *lines]) + "\n"


def strict_block(plugins: Sequence[str], timeout: float) -> list[str]:
    """Root's lines running :func:`test_file` as ``nobody`` with the strict limits, the
    reporter and plugin autoloading off; as root (said in the log) if the image lacks
    ``setpriv``. ``$?`` ends as the test command's exit status."""
    run = f"bash {TESTS_FILE}"
    return [
        "if command -v setpriv >/dev/null 2>&1; then",
        *scripts.unprivileged(run, plugins, timeout, cwd=None),
        "else",
        f"echo '{ROOT_NOTE}'",
        *scripts.strict_env(plugins),
        run,
        "fi",
    ]


def official_image(instance: SWEInstance, namespace: str | None) -> str:
    """The instance's image; ``namespace`` replaces the registry namespace it names."""
    if not namespace or "/" not in instance.image:
        return instance.image
    return f"{namespace}/{instance.image.split('/', 1)[1]}"


def prepare_script(
    instance: SWEInstance,
    restore: list[str],
    strict_runner: str | None = None,
    *,
    plugins: Sequence[str] = (),
    timeout: float = 1800.0,
) -> str:
    """The instance's eval script with the harness's two additions: the test command's exit
    code recorded after the end marker, and asset-restore commands before the start marker;
    with ``strict_runner``, the test command replaced by :func:`strict_block`."""
    lines = instance.eval_script.strip().split("\n")
    out: list[str] = []
    inside = False
    for line in lines:
        if START_MARKER in line:
            out += [*restore, line]
            restore, inside = [], True
            continue
        if END_MARKER in line:
            inside = False
            if strict_runner:
                out += strict_block(plugins, timeout)
            out += [f"{EXIT_CODE_VAR}=$?", line, f'echo "{EXIT_CODE_MARKER}: ${EXIT_CODE_VAR}"']
            continue
        if inside and strict_runner:
            continue  # in test_file, run as nobody
        out.append(line)
    return "\n".join(out + restore) + "\n"


def _fetch(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            data: bytes = resp.read()
            return data
    except (OSError, ValueError):
        return None


async def stage_assets(sandbox: Sandbox, instance: SWEInstance) -> tuple[list[str], str]:
    """Copy the instance's ``image_assets`` in; the restore commands and a log line."""
    restore: list[str] = []
    notes = ""
    for key in ("test_patch", "patch"):
        for entry in instance.image_assets.get(key) or []:
            path, url = entry.get("path"), entry.get("url")
            if not path:
                continue
            data = await asyncio.to_thread(_fetch, url) if url else None
            if data is None:
                notes += f"asset {path}: not available from {url!r}\n"
                continue
            flat = path.replace("/", "__")
            await sandbox.write_file(f"{ASSETS_DIR}/{flat}", data)
            restore.append(f"mkdir -p $(dirname {path}) && cp {ASSETS_DIR}/{flat} {path}")
    return restore, notes


async def run_current(
    sandbox: Sandbox,
    instance: SWEInstance,
    prediction: Prediction,
    config: EvalConfig,
    plugins: Sequence[str] = (),
) -> EvalResult:
    """Apply the patch, run the instance's eval script and grade with its parser.
    ``plugins``: pytest plugins strict mode loads (autoloading is off), from the repo's spec."""
    patch = prediction.patch or ""
    runner = strict_runner(instance) if config.strict else None
    restore, notes = await stage_assets(sandbox, instance)
    script = prepare_script(instance, restore, runner, plugins=plugins, timeout=config.timeout)
    mode = STRICT_MODE if runner else HARNESS_MODE
    logs = EvalLogs(patch=patch, eval_sh=script, run_log=f"grading: {mode}\n" + notes)
    nonce = secrets.token_hex(16)
    files = {
        scripts.PATCH_FILE: (patch if patch.endswith("\n") else patch + "\n", 0o644),
        f"{scripts.WORK}/apply.sh": (scripts.apply_script(), 0o644),
        f"{scripts.WORK}/eval.sh": (script, 0o644),
    }
    if runner:
        files |= {
            TESTS_FILE: (test_file(instance, runner), 0o644),
            f"{reporters.REPORTER_DIR}/agentlab_report.py": (reporters.PYTEST_PLUGIN, 0o644),
            f"{reporters.REPORTER_DIR}/agentlab_unittest.py": (reporters.UNITTEST_RUNNER, 0o644),
            reporters.NONCE_FILE: (nonce, 0o400),
        }
    await stage_files(sandbox, files)
    applied = await sandbox.exec(["bash", f"{scripts.WORK}/apply.sh"], timeout=300)
    logs.run_log += applied.stdout + applied.stderr
    if not applied.ok:
        return EvalResult(Grade(grading.PATCH_FAILED, detail="patch failed to apply"), logs)
    if config.strict:  # the same post-apply check as the older format's strict mode
        touched = await tamper.applied_tampering(
            sandbox, scripts.TESTBED, scripts.STATUS_BEFORE, instance.test_patch
        )
        if touched:
            detail = f"applied patch changed test files or test configuration: {', '.join(touched)}"
            logs.run_log = f"TAMPERED: {detail}\n" + logs.run_log
            return EvalResult(Grade(grading.TAMPERED, patch_applied=True, detail=detail), logs)
    ran = await sandbox.exec(
        ["bash", "-c", f"bash {scripts.WORK}/eval.sh 2>&1"], timeout=config.timeout + 60
    )
    logs.test_output = ran.stdout + ran.stderr
    logs.run_log += f"tests: exit={ran.exit_code} timed_out={ran.timed_out} " + (
        f"seconds={ran.duration_s:.2f}\n"
    )
    if ran.timed_out:
        grade = Grade(grading.ERROR, patch_applied=True, detail="tests timed out")
        return EvalResult(grade, logs, tests_s=ran.duration_s)
    if runner:
        raw = await sandbox.exec(["head", "-c", str(8 * 1024 * 1024), reporters.RESULTS_FILE])
        grade = grading.grade(instance, log_parsers.parse_tagged(raw.stdout, nonce))
    else:
        grade = grading.harness_grade(instance, instance.log_parser, logs.test_output)
    logs.test_results = "".join(f"{s} {t}\n" for t, s in grade.statuses.items())
    return EvalResult(grade, logs, tests_s=ran.duration_s)

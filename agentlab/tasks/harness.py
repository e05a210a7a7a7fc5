"""Evaluating one prediction on one SWE instance, in a sandbox from its cached image.

:func:`evaluate` is the whole per-instance story: count an empty patch, refuse a tampering one
(strict mode), get the instance image, then in a fresh sandbox apply the patch (three
fallbacks), run the evaluation script and grade the parsed log. Infrastructure failures
(:class:`SandboxError`: engine errors, a dying sandbox, an exec that never returns) are retried
on a fresh sandbox and, if they persist, end as ``error`` -- never as ``unresolved``.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from agentlab.errors import SandboxError
from agentlab.protocols import Sandbox, SandboxBackend
from agentlab.tasks import grading, hacking, log_parsers, reporters, scripts, tamper
from agentlab.tasks.current import official_image, run_current
from agentlab.tasks.eval_records import EvalConfig, EvalLogs, EvalResult, stage_files
from agentlab.tasks.grading import Grade
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, RepoSpec, SWEInstance, namespace_image
from agentlab.tasks.warm import WarmContainers
from agentlab.types import SandboxSpec

RESULTS_CAP_BYTES = 8 * 1024 * 1024
_BUNDLE = "/opt/agentlab/repo.bundle"


class ImageBuilder(Protocol):
    """Builds (or finds) a derived image: parent + files + commands, content-hash tagged."""

    async def __call__(
        self,
        *,
        parent: str,
        commands: Sequence[str],
        files: Mapping[str, str],
        network: bool,
        name: str,
    ) -> str: ...


class ImagePresence(Protocol):
    """Makes sure a named image is present (pulling it if a registry has it); returns it."""

    async def __call__(self, image: str) -> str: ...


class InstanceImages:
    """Env image per repo+version, instance image per instance: built once, then cached.
    A current-format instance names its own image: ``present`` makes sure it is there."""

    def __init__(
        self, build: ImageBuilder, config: EvalConfig, present: ImagePresence | None = None
    ) -> None:
        self._build = build
        self._present = present
        self._config = config
        self._locks: dict[str, asyncio.Lock] = {}
        self._done: dict[str, str] = {}

    async def _once(self, key: str, make: ImageBuilderCall) -> str:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # concurrent instances of one repo wait for a single build
            if key not in self._done:
                self._done[key] = await make()
            return self._done[key]

    async def image_for(self, dataset: Dataset, instance: SWEInstance) -> str:
        """The image to evaluate ``instance`` in (prebuilt when a namespace is set)."""
        if instance.is_current_format:
            name = official_image(instance, self._config.namespace)
            present = self._present
            if present is None:
                return name
            return await self._once(f"image:{name}", lambda: present(name))
        if self._config.namespace:
            return namespace_image(self._config.namespace, instance.instance_id)
        spec = dataset.spec_for(instance)
        env = await self._once(
            f"env:{instance.repo}@{instance.version}",
            lambda: self._env_image(dataset, instance, spec),
        )
        install = [f"cd {scripts.TESTBED} && git checkout -q -f {instance.base_commit}"]
        install += [f"cd {scripts.TESTBED} && {cmd}" for cmd in spec.install]
        return await self._once(
            f"inst:{instance.instance_id}",
            lambda: self._build(
                parent=env, commands=install, files={}, network=False, name="instance"
            ),
        )

    async def _env_image(self, dataset: Dataset, instance: SWEInstance, spec: RepoSpec) -> str:
        source = dataset.source_for(instance)
        files: dict[str, str] = {}
        if isinstance(source, Path):
            # Image files are text: the bundle travels base64-encoded and is decoded in place.
            files[_BUNDLE + ".b64"] = base64.b64encode(source.read_bytes()).decode()
            clone = (
                f"base64 -d {_BUNDLE}.b64 > {_BUNDLE} && git clone -q {_BUNDLE} "
                f"{scripts.TESTBED} && rm -f {_BUNDLE} {_BUNDLE}.b64"
            )
        else:
            clone = f"git clone -q {source} {scripts.TESTBED}"
        commands = [clone, *(f"cd {scripts.TESTBED} && {c}" for c in spec.pre_install)]
        return await self._build(
            parent=self._config.base_image,
            commands=commands,
            files=files,
            network=not isinstance(source, Path),
            name="env",
        )


class ImageBuilderCall(Protocol):
    async def __call__(self) -> str: ...


def sandbox_spec(config: EvalConfig, image: str, instance_id: str) -> SandboxSpec:
    """Limits for one evaluation sandbox, labelled with the run and instance."""
    return SandboxSpec(
        image=image,
        run_id=config.run_id,
        cpus=config.cpus,
        memory_mb=config.memory_mb,
        pids_limit=config.pids_limit,
        workdir=scripts.TESTBED,
        ttl_s=config.timeout * 2 + 600,
        labels={"agentlab.instance_id": instance_id[:200]},
    )


async def evaluate(
    backend: SandboxBackend,
    images: InstanceImages,
    dataset: Dataset,
    instance: SWEInstance,
    prediction: Prediction,
    config: EvalConfig,
    warm: WarmContainers | None = None,
) -> EvalResult:
    """Grade one prediction; infrastructure failures are retried, then reported as error.
    With ``warm``, in a container kept warm for this instance (reset and verified after each
    candidate, see :mod:`agentlab.tasks.warm`); else in a fresh one."""
    started = time.monotonic()
    logs = EvalLogs(patch=prediction.patch or "")
    if prediction.is_empty:
        return EvalResult(Grade(grading.EMPTY_PATCH, patch_exists=False), logs)
    if config.strict:
        touched = scripts.tampered_files(prediction.patch or "", instance.test_patch)
        if touched:
            detail = f"patch changes test files or test configuration: {', '.join(touched)}"
            logs.run_log = f"TAMPERED: {detail}\n"
            return EvalResult(Grade(grading.TAMPERED, detail=detail), logs)
        reasons = config.detect_hacking and hacking.suspicious(
            prediction.patch or "", instance.test_patch
        )
        if reasons:
            detail = "; ".join(reasons)
            logs.run_log = f"SUSPICIOUS: {detail}\n"
            return EvalResult(Grade(grading.SUSPICIOUS, detail=detail), logs)
    error = ""
    for attempt in range(1, config.retries + 1):
        try:
            image = await images.image_for(dataset, instance)
            spec = sandbox_spec(config, image, instance.instance_id)

            async def grade_in(sandbox: Sandbox) -> EvalResult:
                if instance.is_current_format:
                    known = dataset.specs.get((instance.repo, instance.version))
                    plugins = known.pytest_plugins if known else ()
                    return await run_current(sandbox, instance, prediction, config, plugins)
                spec_ = dataset.spec_for(instance)
                return await run_in_sandbox(sandbox, instance, spec_, prediction, config)

            if warm is not None:
                result = await warm.run(spec, instance.instance_id, grade_in)
            else:
                async with backend.open(spec) as sandbox:
                    result = await grade_in(sandbox)
            result.attempts = attempt
            result.duration_s = time.monotonic() - started
            return result
        except SandboxError as exc:
            error = f"attempt {attempt}: {exc.__class__.__name__}: {exc}"
            logs.run_log += error + "\n"
    grade = Grade(grading.ERROR, detail=error)
    return EvalResult(grade, logs, attempts=config.retries, duration_s=time.monotonic() - started)


async def run_in_sandbox(
    sandbox: Sandbox,
    instance: SWEInstance,
    spec: RepoSpec,
    prediction: Prediction,
    config: EvalConfig,
) -> EvalResult:
    """Apply the patch, run the evaluation script and grade, in one open sandbox."""
    patch = prediction.patch or ""
    script = scripts.eval_script(instance, spec, strict=config.strict, timeout=config.timeout)
    logs = EvalLogs(patch=patch, eval_sh=script)
    nonce = secrets.token_hex(16)
    files = {
        scripts.PATCH_FILE: (_ensure_newline(patch), 0o644),
        scripts.TEST_PATCH_FILE: (_ensure_newline(instance.test_patch), 0o644),
        f"{scripts.WORK}/apply.sh": (scripts.apply_script(), 0o644),
        f"{scripts.WORK}/eval.sh": (script, 0o644),
    }
    if config.strict:
        files |= {
            f"{reporters.REPORTER_DIR}/agentlab_report.py": (reporters.PYTEST_PLUGIN, 0o644),
            f"{reporters.REPORTER_DIR}/agentlab_unittest.py": (reporters.UNITTEST_RUNNER, 0o644),
            reporters.NONCE_FILE: (nonce, 0o400),
        }
    await stage_files(sandbox, files)
    applied = await sandbox.exec(["bash", f"{scripts.WORK}/apply.sh"], timeout=300)
    logs.run_log = applied.stdout + applied.stderr
    if not applied.ok:
        return EvalResult(Grade(grading.PATCH_FAILED, detail="patch failed to apply"), logs)
    if config.strict:
        touched = await tamper.applied_tampering(
            sandbox, scripts.TESTBED, scripts.STATUS_BEFORE, instance.test_patch
        )
        if touched:
            detail = f"applied patch changed test files or test configuration: {', '.join(touched)}"
            logs.run_log = f"TAMPERED: {detail}\n" + logs.run_log
            return EvalResult(Grade(grading.TAMPERED, patch_applied=True, detail=detail), logs)
    ran = await sandbox.exec(["bash", f"{scripts.WORK}/eval.sh"], timeout=config.timeout + 60)
    logs.test_output = ran.stdout + ran.stderr
    logs.run_log += f"tests: exit={ran.exit_code} timed_out={ran.timed_out} " + (
        f"oom_killed={ran.oom_killed} truncated={ran.truncated} seconds={ran.duration_s:.2f}\n"
    )
    if ran.timed_out and not config.strict:
        # The harness reports its own timeout as an error; strict mode grades what finished.
        grade = Grade(grading.ERROR, patch_applied=True, detail="tests timed out")
        return EvalResult(grade, logs, tests_s=ran.duration_s)
    if not config.strict:
        grade = grading.harness_grade(instance, spec.log_parser, logs.test_output)
        logs.test_results = "".join(f"{s} {t}\n" for t, s in grade.statuses.items())
        return EvalResult(grade, logs, tests_s=ran.duration_s)
    raw = await sandbox.exec(["head", "-c", str(RESULTS_CAP_BYTES), reporters.RESULTS_FILE])
    statuses = log_parsers.parse_tagged(raw.stdout, nonce)
    logs.test_results = "".join(f"{s} {t}\n" for t, s in statuses.items())
    return EvalResult(grading.grade(instance, statuses), logs, tests_s=ran.duration_s)


def _ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def regrade(instance: SWEInstance, spec: RepoSpec | None, logs: EvalLogs, *, strict: bool) -> Grade:
    """Grade again from saved logs (``--rewrite-reports``) without running anything."""
    if logs.run_log.startswith("TAMPERED"):
        return Grade(grading.TAMPERED, detail=logs.run_log.strip())
    if logs.run_log.startswith("SUSPICIOUS: ") and strict:
        return Grade(grading.SUSPICIOUS, detail=logs.run_log.strip()[len("SUSPICIOUS: ") :])
    if scripts.APPLIED_MARKER not in logs.run_log:
        return Grade(grading.PATCH_FAILED)
    if instance.is_current_format or spec is None:
        return grading.harness_grade(instance, instance.log_parser, logs.test_output)
    if not strict:
        return grading.harness_grade(instance, spec.log_parser, logs.test_output)
    statuses = {}
    for line in logs.test_results.splitlines():
        status, _, test = line.partition(" ")
        if test:
            statuses[test] = status
    return grading.grade(instance, statuses)


__all__ = ["EvalConfig", "EvalLogs", "EvalResult", "ImageBuilder", "InstanceImages", "stage_files"]

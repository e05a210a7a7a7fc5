"""A repository inside a sandbox, as the state machines use it: read files, run a test on the
original code, and run it on a patched tree that is put back afterwards.

The test script lives outside the repository (in ``SCRATCH``), so it never shows up in a
diff; the repository is on ``PYTHONPATH`` so the script imports the code under test the way
``python test.py`` from the repository root would. A patch is applied with ``git apply``
(as the evaluation harness applies it), and the touched files are restored from their known
original contents afterwards, which also undoes anything the test script wrote into them.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agentlab.errors import SandboxError
from agentlab.protocols import Sandbox
from agentlab.types import ExecResult

# Not under /tmp: Docker's archive API (how files are written) cannot see into a tmpfs mount.
SCRATCH = "/var/tmp/agentlab"
TEST_PATH = f"{SCRATCH}/test_issue.py"
PATCH_PATH = f"{SCRATCH}/candidate.diff"


@dataclass(frozen=True)
class Workspace:
    """Where the repository is in ``sandbox`` and how tests run there."""

    sandbox: Sandbox
    repo_dir: str = "/testbed"
    python: str = "python3"
    test_timeout_s: float = 60.0
    feedback_chars: int = 4000
    # Shell lines that set up the environment tests run in (an official instance's
    # ``conda activate``); empty: the image's own environment.
    prelude: tuple[str, ...] = ()

    def _path(self, rel: str) -> str:
        return f"{self.repo_dir.rstrip('/')}/{rel}"

    async def load(self, paths: Iterable[str], into: dict[str, str | None]) -> None:
        """Read each path not yet in ``into`` (None for a file that does not exist)."""
        for rel in paths:
            if rel in into:
                continue
            probe = await self.sandbox.exec(["test", "-f", self._path(rel)], timeout=30)
            if probe.exit_code != 0:
                into[rel] = None
                continue
            into[rel] = (await self.sandbox.read_file(self._path(rel))).decode("utf-8", "replace")

    async def run_test(self, script: str) -> ExecResult:
        """Run ``script`` against the tree as it is now."""
        await self.sandbox.write_file(TEST_PATH, script)
        if self.prelude:
            run = "\n".join(
                [
                    *self.prelude,
                    f"cd {shlex.quote(self.repo_dir)}",
                    f"export PYTHONPATH={shlex.quote(self.repo_dir)}${{PYTHONPATH:+:$PYTHONPATH}}",
                    f"exec {self.python} {TEST_PATH}",
                ]
            )
            return await self.sandbox.exec(
                ["bash", "-c", run],
                timeout=self.test_timeout_s,
                env={"PYTHONDONTWRITEBYTECODE": "1"},
            )
        return await self.sandbox.exec(
            [self.python, TEST_PATH],
            cwd=self.repo_dir,
            timeout=self.test_timeout_s,
            # No bytecode: files are rewritten within the same second with the same size
            # (`a - b` -> `a + b`), which mtime-based .pyc validation would not notice.
            env={"PYTHONPATH": self.repo_dir, "PYTHONDONTWRITEBYTECODE": "1"},
        )

    async def run_patched(
        self, script: str, diff: str, originals: Mapping[str, str | None]
    ) -> ExecResult:
        """Apply ``diff``, run ``script``, then restore the files in ``originals``.

        A diff that ``git apply`` refuses comes back as the failed apply's result (exit code
        and message), so the model sees why; the tree is left untouched in that case.
        """
        if not diff:
            return await self.run_test(script)
        await self.sandbox.write_file(PATCH_PATH, diff)
        applied = await self.sandbox.exec(
            ["git", "apply", "--whitespace=nowarn", PATCH_PATH], cwd=self.repo_dir, timeout=60
        )
        if not applied.ok:
            return applied.model_copy(
                update={"stderr": f"the patch does not apply:\n{applied.stderr}"}
            )
        try:
            return await self.run_test(script)
        finally:
            await self.restore(originals)

    async def restore(self, originals: Mapping[str, str | None]) -> None:
        """Put each file back to its original content (removing files that did not exist)."""
        absent = [self._path(p) for p, c in originals.items() if c is None]
        for rel, content in originals.items():
            if content is not None:
                await self.sandbox.write_file(self._path(rel), content)
        if absent:
            done = await self.sandbox.exec(["rm", "-f", "--", *absent], timeout=30)
            if not done.ok:
                raise SandboxError(f"cannot restore {shlex.join(absent)}: {done.stderr.strip()}")

    def feedback(self, result: ExecResult) -> str:
        """The output the model sees: stdout then stderr, the tail kept if it is long."""
        text = result.stdout + result.stderr
        if result.timed_out:
            text += f"\n[timed out after {self.test_timeout_s:g}s]"
        if len(text) > self.feedback_chars:
            text = "[... earlier output cut ...]\n" + text[-self.feedback_chars :]
        return text.strip() or "(no output)"

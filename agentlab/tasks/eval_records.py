"""The records of one evaluation (config, logs, result) and staging its files in a sandbox.

Shared by the older-format harness (:mod:`agentlab.tasks.harness`) and the current-format path
(:mod:`agentlab.tasks.current`), which is why they live apart from both.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agentlab.protocols import Sandbox
from agentlab.tasks.grading import Grade


@dataclass(frozen=True)
class EvalConfig:
    """How each instance is evaluated."""

    run_id: str = "eval"
    strict: bool = True
    timeout: float = 1800.0
    retries: int = 3
    cpus: float = 1.0
    memory_mb: int = 2048
    pids_limit: int = 512
    base_image: str = "agentlab/base:bookworm"
    namespace: str | None = None
    # Strict mode: grade patches whose non-test code reaches for the grader ``suspicious``.
    detect_hacking: bool = True
    # Grade further candidates of an instance in its warm container after a verified reset.
    warm: bool = True


@dataclass
class EvalLogs:
    """What the harness keeps per instance; written under the report directory."""

    patch: str = ""
    eval_sh: str = ""
    test_output: str = ""
    test_results: str = ""
    run_log: str = ""

    def files(self) -> dict[str, str]:
        return {
            "patch.diff": self.patch,
            "eval.sh": self.eval_sh,
            "test_output.txt": self.test_output,
            "test_results.txt": self.test_results,
            "run_instance.log": self.run_log,
        }


@dataclass
class EvalResult:
    """One graded prediction, with its logs and timings."""

    grade: Grade
    logs: EvalLogs = field(default_factory=EvalLogs)
    attempts: int = 1
    duration_s: float = 0.0
    tests_s: float = 0.0


async def stage_files(sandbox: Sandbox, files: Mapping[str, tuple[str, int]]) -> None:
    """Write every file an evaluation needs in one transfer (one exec, not one per file)."""
    with tempfile.TemporaryDirectory(prefix="agentlab-stage-") as tmp:
        root = Path(tmp)
        await asyncio.to_thread(_write_tree, root, files)
        await sandbox.copy_in(root, "/")


def _write_tree(root: Path, files: Mapping[str, tuple[str, int]]) -> None:
    for path, (text, mode) in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

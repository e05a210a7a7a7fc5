"""Where reports and logs go on disk, laid out as the SWE-bench harness lays them out.

``<report_dir>/logs/run_evaluation/<run_id>/<model>/<instance_id>/`` holds ``patch.diff``,
``eval.sh``, ``test_output.txt``, ``run_instance.log`` and ``report.json``; the run report is
``<report_dir>/<model>.<run_id>.json``. Files are written atomically (temp file + rename) so
a killed run never leaves half a report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agentlab.tasks import official
from agentlab.tasks.harness import EvalLogs


def model_dir_name(model_name: str) -> str:
    """The harness's directory name for a model (``/`` is not allowed in a path part)."""
    return model_name.replace("/", "__")


def instance_log_dir(report_dir: Path, run_id: str, model_name: str, instance_id: str) -> Path:
    return (
        report_dir / "logs" / "run_evaluation" / run_id / model_dir_name(model_name) / instance_id
    )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename (never a torn file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", errors="replace")
    os.replace(tmp, path)


def write_instance_logs(log_dir: Path, logs: EvalLogs, report: dict[str, Any] | None) -> None:
    """The per-instance logs, and ``report.json`` when the instance was graded."""
    for name, text in logs.files().items():
        if text or name in ("patch.diff", "run_instance.log"):
            write_atomic(log_dir / name, text)
    if report is not None:
        write_atomic(log_dir / "report.json", json.dumps(report, indent=4))


def read_instance_logs(log_dir: Path) -> EvalLogs:
    """Logs saved by an earlier run (missing files read as empty)."""

    def read(name: str) -> str:
        path = log_dir / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    return EvalLogs(
        patch=read("patch.diff"),
        eval_sh=read("eval.sh"),
        test_output=read("test_output.txt"),
        test_results=read("test_results.txt"),
        run_log=read("run_instance.log"),
    )


def write_run_report(
    report_dir: Path, model_name: str, run_id: str, report: dict[str, Any]
) -> Path:
    path = report_dir / f"{model_dir_name(model_name)}.{run_id}.json"
    write_atomic(path, json.dumps(report, indent=4))
    return path


def failure_reasons(
    report_dir: Path, run_id: str, model_name: str, instance_ids: list[str]
) -> dict[str, tuple[str, str]]:
    """The harness's infrastructure triage of saved logs, ``{id: (reason, tier)}``; empty
    without the swebench extra (the run report then lists no infra failures)."""
    if not official.available():
        return {}
    found: dict[str, tuple[str, str]] = {}
    for iid in instance_ids:
        logs = read_instance_logs(instance_log_dir(report_dir, run_id, model_name, iid))
        hit = official.classify_infra(logs.test_output + "\n" + logs.run_log)
        if hit:
            found[iid] = hit
    return found

"""The one builder of evaluation rows, for ``agentlab eval`` and for a run's grading alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentlab.scoring.diffs import patch_sha
from agentlab.store.eval_store import EvaluationRecord
from agentlab.tasks.grading import Grade
from agentlab.tasks.predictions import Prediction


def evaluation_record(
    prediction: Prediction,
    grade: Grade,
    *,
    report: Mapping[str, Any] | None = None,
    attempts: int = 1,
    duration_s: float = 0.0,
) -> EvaluationRecord:
    """The stored row of one graded prediction (its per-test rows when the grade has them).

    ``patch_sha`` is the normalised one (:func:`agentlab.scoring.diffs.patch_sha`), the same
    value the candidate row carries.
    """
    tests: list[tuple[str, str, str, bool]] = []
    for category, block in (grade.tests_status or {}).items():
        for test in block["success"]:
            tests.append((test, category, grade.statuses.get(test, "MISSING"), True))
        for test in block["failure"]:
            tests.append((test, category, grade.statuses.get(test, "MISSING"), False))
    return EvaluationRecord(
        instance_id=prediction.instance_id,
        model_name=prediction.model_name,
        sample=prediction.sample,
        outcome=grade.outcome,
        resolved=grade.resolved,
        patch_applied=grade.patch_applied,
        patch_sha=patch_sha(prediction.patch or ""),
        error=grade.detail or None,
        report=report,
        tests=tests,
        attempts=attempts,
        duration_s=duration_s,
    )

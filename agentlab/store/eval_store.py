"""Writing evaluations to the result store, and the queries resume needs.

One ``evaluation`` row per (run, instance, model, sample), written once the prediction is
graded, with one ``test_result`` row per test. Resume treats every outcome except ``error`` as
finished, so an interrupted run re-runs only what never finished or failed on infrastructure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, delete, select

from agentlab.store import runs
from agentlab.store.db import Store
from agentlab.store.tables import Evaluation, TestResultRow

Key = tuple[str, str, int]  # instance_id, model_name, sample


@dataclass(frozen=True)
class EvaluationRecord:
    """What the store keeps about one graded prediction."""

    instance_id: str
    model_name: str
    sample: int
    outcome: str
    resolved: bool
    patch_applied: bool
    patch_sha: str = ""
    error: str | None = None
    report: Mapping[str, Any] | None = None
    tests: Iterable[tuple[str, str, str, bool]] = ()  # test_id, category, status, passed
    attempts: int = 1
    duration_s: float = 0.0


class EvalStore:
    """Eval-specific writes and reads over a :class:`Store`; every call is off the loop."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def start_run(self, run_id: str, name: str, config: Mapping[str, Any]) -> None:
        """Create the run row, or mark an existing one running again (resume)."""
        await runs.start_run(self.store, run_id, kind="eval", name=name, config=config)

    async def finish_run(self, run_id: str, status: str, score: float | None = None) -> None:
        await runs.finish_run(self.store, run_id, status, score=score)

    async def finished(self, run_id: str) -> set[Key]:
        """Keys already graded in this run (errors are not finished: they run again)."""

        def op(s: Session) -> set[Key]:
            rows = s.exec(
                select(Evaluation.instance_id, Evaluation.model_name, Evaluation.sample).where(
                    Evaluation.run_id == run_id, Evaluation.outcome != "error"
                )
            ).all()
            return {(r[0], r[1], r[2]) for r in rows}

        return await self.store.acall(op)

    async def record(self, run_id: str, rec: EvaluationRecord) -> None:
        """Write one graded prediction and its tests, replacing an earlier errored row."""

        def op(s: Session) -> None:
            old = s.exec(
                select(Evaluation).where(
                    Evaluation.run_id == run_id,
                    Evaluation.instance_id == rec.instance_id,
                    Evaluation.model_name == rec.model_name,
                    Evaluation.sample == rec.sample,
                )
            ).first()
            if old is not None:
                s.exec(delete(TestResultRow).where(col(TestResultRow.evaluation_id) == old.id))
                s.delete(old)
                s.flush()
            row = Evaluation(
                run_id=run_id,
                instance_id=rec.instance_id,
                model_name=rec.model_name,
                sample=rec.sample,
                patch_sha=rec.patch_sha,
                outcome=rec.outcome,
                resolved=rec.resolved,
                patch_applied=rec.patch_applied,
                error=rec.error,
                report_json=json.dumps(rec.report or {}),
                attempts=rec.attempts,
                duration_s=rec.duration_s,
            )
            s.add(row)
            s.flush()
            assert row.id is not None
            s.add_all(
                TestResultRow(evaluation_id=row.id, test_id=t, category=c, status=st, passed=p)
                for t, c, st, p in rec.tests
            )

        await self.store.acall(op)

    async def outcomes(self, run_id: str) -> list[EvaluationRecord]:
        """Every evaluation of a run (without its tests), for reports and summaries."""

        def op(s: Session) -> list[EvaluationRecord]:
            rows = s.exec(select(Evaluation).where(Evaluation.run_id == run_id)).all()
            return [
                EvaluationRecord(
                    instance_id=r.instance_id,
                    model_name=r.model_name,
                    sample=r.sample,
                    outcome=r.outcome,
                    resolved=r.resolved,
                    patch_applied=r.patch_applied,
                    patch_sha=r.patch_sha,
                    error=r.error,
                    report=json.loads(r.report_json),
                    attempts=r.attempts,
                    duration_s=r.duration_s,
                )
                for r in rows
            ]

        return await self.store.acall(op)

"""Writing and reading scoring results: the vote matrix, verifier scores, selections, grades.

Every write for one (run, problem, stage) replaces what an earlier, interrupted attempt left,
so re-running selection on a run is idempotent. Candidates from other runs and from SWE-bench
predictions files are imported as ``candidate`` rows of the selecting run with ``source`` set
(``run:ID`` or the file name); importing twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from agentlab.store import runs
from agentlab.store.db import Store
from agentlab.store.run_tables import CandidateRow, candidate_of, candidate_row
from agentlab.store.scoring_tables import (
    CandidateVote,
    Selection,
    SelectionTurn,
    TestVote,
    VerifierScore,
    VoteTest,
)
from agentlab.store.tables import LLMCall, Run
from agentlab.types import Candidate


@dataclass(frozen=True)
class CellRow:
    """One matrix cell, keyed by candidate ids (``candidate_id`` None: no patch)."""

    candidate_id: int | None
    test_candidate_id: int
    passed: bool
    exit_code: int
    timed_out: bool
    duration_s: float


@dataclass(frozen=True)
class VoteRow:
    candidate_id: int
    representative_id: int
    votes: int
    rank: int
    kept: bool
    applied: bool


@dataclass(frozen=True)
class TestRow:
    __test__ = False  # not a pytest test class, despite the name

    test_candidate_id: int
    flaky: bool
    fails_without_patch: bool
    valid: bool
    passes: int


class ScoringStore:
    """Scoring-specific reads and writes over a :class:`Store`; every call is off the loop."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def ensure_run(self, run_id: str, *, kind: str, name: str, config: Any) -> bool:
        """Create the run row if it is new (True), or mark it running again (False)."""
        return await runs.start_run(self.store, run_id, kind=kind, name=name, config=config)

    async def run_exists(self, run_id: str) -> bool:
        return await self.store.acall(lambda s: s.get(Run, run_id) is not None)

    async def finish_run(
        self,
        run_id: str,
        status: str,
        score: float | None = None,
        *,
        spent_usd: float | None = None,
    ) -> None:
        await runs.finish_run(self.store, run_id, status, score=score, spent_usd=spent_usd)

    async def candidates(self, run_id: str) -> list[Candidate]:
        """Every candidate of a run (its own and imported ones), by task then id."""

        def op(s: Session) -> list[Candidate]:
            query = select(CandidateRow).where(CandidateRow.run_id == run_id)
            rows = s.exec(query.order_by(col(CandidateRow.task_id), col(CandidateRow.id)))
            return [candidate_of(row) for row in rows]

        return await self.store.acall(op)

    async def import_candidates(self, run_id: str, source: str, items: Iterable[Candidate]) -> int:
        """Add candidates to ``run_id`` under ``source`` (their own ``id`` and ``source`` are not
        kept); a (task, sample) already imported from ``source`` is skipped. Returns added."""
        rows = list(items)

        def op(s: Session) -> int:
            have = set(
                s.exec(
                    select(CandidateRow.task_id, CandidateRow.sample).where(
                        CandidateRow.run_id == run_id, CandidateRow.source == source
                    )
                )
            )
            added = 0
            for item in rows:
                if (item.task_id, item.sample) in have:
                    continue
                s.add(candidate_row(run_id, item.model_copy(update={"id": None, "source": source})))
                have.add((item.task_id, item.sample))
                added += 1
            return added

        return await self.store.acall(op)

    async def save_matrix(
        self,
        run_id: str,
        task_id: str,
        cells: Sequence[CellRow],
        votes: Sequence[VoteRow],
        tests: Sequence[TestRow],
    ) -> None:
        """Replace the problem's matrix, votes and test verdicts in one transaction."""

        def op(s: Session) -> None:
            for table in (TestVote, CandidateVote, VoteTest):
                s.exec(
                    delete(table).where(col(table.run_id) == run_id, col(table.task_id) == task_id)
                )
            s.add_all(TestVote(run_id=run_id, task_id=task_id, **vars(c)) for c in cells)
            s.add_all(CandidateVote(run_id=run_id, task_id=task_id, **vars(v)) for v in votes)
            s.add_all(VoteTest(run_id=run_id, task_id=task_id, **vars(t)) for t in tests)

        await self.store.acall(op)

    async def save_verdicts(
        self, run_id: str, task_id: str, methods: Sequence[str], model: str, rows: Iterable[Any]
    ) -> None:
        """Replace a problem's verifier rows for ``methods`` (rows: scoring ``Verdict``s)."""
        fresh = [
            VerifierScore(
                run_id=run_id,
                task_id=task_id,
                method=v.method,
                model=model,
                candidate_id=v.candidate_id,
                opponent_id=v.opponent_id,
                score=v.score,
                rationale=v.rationale,
            )
            for v in rows
        ]

        def op(s: Session) -> None:
            s.exec(
                delete(VerifierScore).where(
                    col(VerifierScore.run_id) == run_id,
                    col(VerifierScore.task_id) == task_id,
                    col(VerifierScore.method).in_(methods),
                )
            )
            s.add_all(fresh)

        await self.store.acall(op)

    async def save_selection(
        self,
        run_id: str,
        task_id: str,
        method: str,
        candidate_id: int | None,
        *,
        fallback: bool = False,
        reason: str = "",
        turns: Sequence[tuple[int, str, str, str]] = (),  # step, action, reply, feedback
    ) -> None:
        """Replace the problem's pick by ``method`` (and, for ``trajectory``, its turns)."""

        def op(s: Session) -> None:
            s.exec(
                delete(Selection).where(
                    col(Selection.run_id) == run_id,
                    col(Selection.task_id) == task_id,
                    col(Selection.method) == method,
                )
            )
            if method == "trajectory":
                s.exec(
                    delete(SelectionTurn).where(
                        col(SelectionTurn.run_id) == run_id, col(SelectionTurn.task_id) == task_id
                    )
                )
            s.add(
                Selection(
                    run_id=run_id,
                    task_id=task_id,
                    method=method,
                    candidate_id=candidate_id,
                    fallback=fallback,
                    reason=reason,
                )
            )
            s.add_all(
                SelectionTurn(
                    run_id=run_id, task_id=task_id, step=st, action=a, reply=r, feedback=f
                )
                for st, a, r, f in turns
            )

        await self.store.acall(op)

    async def set_resolved(self, grades: Mapping[int, bool]) -> None:
        """Record hidden-test grades on candidate rows."""

        def op(s: Session) -> None:
            for cid, resolved in grades.items():
                row = s.get(CandidateRow, cid)
                if row is not None:
                    row.resolved = resolved
                    s.add(row)

        await self.store.acall(op)

    async def selections(self, run_id: str) -> list[Selection]:
        """Every pick of a run."""

        def op(s: Session) -> list[Selection]:
            query = select(Selection).where(Selection.run_id == run_id)
            return list(s.exec(query.order_by(col(Selection.task_id), col(Selection.id))))

        return await self.store.acall(op)

    async def stage_costs(self, run_id: str) -> dict[str, tuple[int, float]]:
        """Calls and dollars per ``llm_call.role`` for the run (the cost per stage)."""

        def op(s: Session) -> dict[str, tuple[int, float]]:
            query = (
                select(LLMCall.role, func.count(), func.coalesce(func.sum(LLMCall.usd), 0.0))
                .where(LLMCall.run_id == run_id)
                .group_by(col(LLMCall.role))
            )
            return {role: (int(n), float(usd)) for role, n, usd in s.exec(query)}

        return await self.store.acall(op)


async def copy_run_candidates(
    store: ScoringStore, run_id: str, source_run: str, *, max_sample: int | None = None
) -> int:
    """Import the candidates of ``source_run`` into ``run_id`` with source ``run:ID``.

    ``max_sample``: only candidates with sample index below it (a run's first K samples).
    """
    # Candidates that were themselves imported keep their origin in the new source label.
    by_source: dict[str, list[Candidate]] = {}
    for candidate in await store.candidates(source_run):
        if max_sample is not None and candidate.sample >= max_sample:
            continue
        label = f"run:{source_run}" + (f"/{candidate.source}" if candidate.source else "")
        by_source.setdefault(label, []).append(candidate)
    added = 0
    for label, group in by_source.items():
        added += await store.import_candidates(run_id, label, group)
    return added


def final_picks(rows: Iterable[Selection], order: Sequence[str]) -> dict[str, Selection]:
    """Per task, the pick of the first method in ``order`` that made one."""
    best: dict[str, Selection] = {}
    for row in rows:
        if row.method not in order:
            continue
        have = best.get(row.task_id)
        if have is None or order.index(row.method) < order.index(have.method):
            best[row.task_id] = row
    return best

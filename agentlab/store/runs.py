"""The ``run`` row's life cycle, shared by every kind of run (eval, run, select)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from agentlab.store.db import Store
from agentlab.store.tables import Run, utcnow


async def start_run(
    store: Store,
    run_id: str,
    *,
    kind: str,
    name: str,
    config: Any,
    config_hash: str = "",
    seed: int | None = None,
) -> bool:
    """Create the run row (True), or mark an existing one running again on resume (False)."""

    def op(s: Session) -> bool:
        run = s.get(Run, run_id)
        created = run is None
        if run is None:
            run = Run(
                id=run_id,
                kind=kind,
                name=name,
                config_json=json.dumps(config),
                config_hash=config_hash,
                seed=seed,
            )
        run.status, run.finished_at = "running", None
        s.add(run)
        return created

    return await store.acall(op)


async def finish_run(
    store: Store,
    run_id: str,
    status: str,
    *,
    spent_usd: float | None = None,
    score: float | None = None,
) -> None:
    """Record how the run ended (and, where known, its spend and realized score)."""

    def op(s: Session) -> None:
        run = s.get(Run, run_id)
        if run is None:
            return
        run.status, run.finished_at = status, utcnow()
        if spent_usd is not None:
            run.spent_usd = spent_usd
        if score is not None:
            run.realized_score = score
        s.add(run)

    await store.acall(op)

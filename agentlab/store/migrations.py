"""Schema migrations: one function per version step, applied in order inside one transaction.

New tables appear through ``create_all``; a step here is needed only when an existing table
gains or changes a column or an index (``create_all`` skips tables that exist, with their indexes).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlmodel import Session

from agentlab.errors import StoreError

Step = Callable[[Session], None]


def _llm_call_run_task_index(session: Session) -> None:
    """1 -> 2: index llm_call by (run, problem, sample), so one trajectory's calls are a seek."""
    session.exec(  # type: ignore[call-overload]
        text(
            "CREATE INDEX IF NOT EXISTS ix_llm_call_run_task ON llm_call (run_id, task_id, sample)"
        )
    )


# STEPS[v] migrates a store from version v to v + 1.
STEPS: dict[int, Step] = {1: _llm_call_run_task_index}


def migrate(session: Session, found: int, target: int) -> None:
    for version in range(found, target):
        step = STEPS.get(version)
        if step is None:
            raise StoreError(f"no migration from schema version {version} to {version + 1}")
        step(session)

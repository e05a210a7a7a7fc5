"""Schema migrations: one function per version step, applied in order inside one transaction.

New tables appear through ``create_all``; a step here is needed only when an existing table
gains or changes a column or an index (``create_all`` skips tables that exist, with their
indexes). Each step must be safe on SQLite and Postgres alike.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import inspect, text
from sqlmodel import Session

from agentlab.errors import StoreError

Step = Callable[[Session], None]


def _add_float_column(session: Session, table: str, column: str, sql_type: str = "FLOAT") -> None:
    existing = {c["name"] for c in inspect(session.connection()).get_columns(table)}
    if column not in existing:
        session.execute(
            text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type} NOT NULL DEFAULT 0")
        )


def _v1_to_v2(session: Session) -> None:
    """Money: replays keep their original cost; sandbox execs are charged."""
    _add_float_column(session, "llm_call", "replayed_usd")
    _add_float_column(session, "sandbox_exec", "cpu_seconds")
    _add_float_column(session, "sandbox_exec", "usd")


def _v2_to_v3(session: Session) -> None:
    """Index llm_call by (run, problem, sample): one trajectory's calls are a seek (viewer)."""
    session.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_llm_call_run_task ON llm_call (run_id, task_id, sample)"
        )
    )


def _v3_to_v4(session: Session) -> None:
    """Prompt caching: cache writes and what caching saved, per call (old rows: 0, 0)."""
    _add_float_column(session, "llm_call", "cache_write_tokens", "INTEGER")
    _add_float_column(session, "llm_call", "cache_saved_usd")


# STEPS[v] migrates a store from version v to v + 1.
STEPS: dict[int, Step] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def migrate(session: Session, found: int, target: int) -> None:
    for version in range(found, target):
        step = STEPS.get(version)
        if step is None:
            raise StoreError(f"no migration from schema version {version} to {version + 1}")
        step(session)

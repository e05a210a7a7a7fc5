"""Read-only SQL over the result store, for ``agentlab sql``.

The database itself enforces read-only (SQLite ``PRAGMA query_only``, a Postgres ``READ ONLY``
transaction that is always rolled back), so no clever statement gets a write through; a quick
look at the leading keyword only makes the refusal message friendlier.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy
from sqlalchemy.exc import SQLAlchemyError

from agentlab.errors import ReadOnlyViolationError, StoreError
from agentlab.store.db import Store

_WRITE_WORDS = re.compile(
    r"^\s*(insert|update|delete|drop|create|alter|truncate|replace|grant|revoke|attach|detach|"
    r"vacuum|reindex|copy|merge|upsert|comment|lock|call|do)\b",
    re.IGNORECASE,
)
_READ_ONLY_ERRORS = ("readonly", "read-only", "read only", "query_only", "attempt to write")


class QueryResult:
    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.columns = columns
        self.rows = rows


def _refuse(sql: str) -> ReadOnlyViolationError:
    word = sql.strip().split(None, 1)[0].upper() if sql.strip() else "?"
    return ReadOnlyViolationError(
        f"`agentlab sql` is read-only: {word} statements are refused; "
        "query with SELECT (or WITH ... SELECT) instead"
    )


def run_readonly(store: Store, sql: str, max_rows: int | None = None) -> QueryResult:
    """Execute one statement read-only and return its columns and rows."""
    if _WRITE_WORDS.match(sql):
        raise _refuse(sql)
    with store.engine.connect() as conn:
        try:
            if store.dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = ON")
            else:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                result = conn.exec_driver_sql(sql)
                if not result.returns_rows:
                    return QueryResult([], [])
                columns = list(result.keys())
                rows = [
                    tuple(r)
                    for r in (result.fetchmany(max_rows) if max_rows else result.fetchall())
                ]
                return QueryResult(columns, rows)
            finally:
                conn.rollback()
                if store.dialect == "sqlite":
                    conn.exec_driver_sql("PRAGMA query_only = OFF")
        except SQLAlchemyError as exc:
            text = str(exc).lower()
            if any(marker in text for marker in _READ_ONLY_ERRORS):
                raise _refuse(sql) from exc
            first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StoreError(f"SQL error: {first}") from exc


def table_names(store: Store) -> list[str]:
    return sorted(sqlalchemy.inspect(store.engine).get_table_names())

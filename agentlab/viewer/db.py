"""The viewer's read-only handle on a store: plain SQL with bound parameters, never a write.

The store is opened without creating or migrating anything; the database enforces read-only
(SQLite ``PRAGMA query_only``, a Postgres ``READ ONLY`` transaction that is always rolled back),
the same guarantee as ``agentlab sql``. A missing SQLite file is refused instead of created.
"""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy.exc import SQLAlchemyError

from agentlab.errors import StoreError
from agentlab.store import open_store
from agentlab.store.db import Store, normalise_url
from agentlab.store.tables import SCHEMA_VERSION

Row = dict[str, Any]


class StoreSchemaError(StoreError):
    """The store was written by an agentlab with another schema version."""


def jsonable(value: Any) -> Any:
    """Datetimes as ISO text, bytes as text: what the JSON pages need."""
    if isinstance(value, decimal.Decimal):  # Postgres SUM over integers
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


class ReadOnlyStore:
    """A store opened for reading only; :meth:`rows` runs one parameterised SELECT."""

    def __init__(self, url: str | None) -> None:
        url = normalise_url(url)
        if url.startswith("sqlite"):
            path = sqlalchemy.engine.make_url(url).database or ""
            if path and path != ":memory:" and not Path(path).exists():
                raise StoreError(
                    f"no store at {path}: run `agentlab run CONFIG` (or `agentlab demo`) first, "
                    "or pass --store with the URL of an existing store"
                )
        self.store: Store = open_store(url, create=False)
        self.url = self.store.safe_url
        self.schema_version = self._schema_version()

    @property
    def dialect(self) -> str:
        return self.store.dialect

    def _schema_version(self) -> int | None:
        try:
            found = self.rows("SELECT value FROM schema_info WHERE key = 'schema_version'")
        except StoreError:
            return None
        return int(found[0]["value"]) if found else None

    def check_schema(self) -> None:
        """Raise a one-line error unless the store has this agentlab's schema."""
        found = self.schema_version
        if found == SCHEMA_VERSION:
            return
        if found is None:
            raise StoreSchemaError(
                f"{self.url} is not an agentlab store (no schema_info table); "
                "point --store at the store a run wrote"
            )
        if found < SCHEMA_VERSION:
            raise StoreSchemaError(
                f"{self.url} has schema version {found}, older than this agentlab's "
                f"({SCHEMA_VERSION}); the viewer never writes, so migrate it once with "
                f'`agentlab sql --store URL "select 1"` and reload'
            )
        raise StoreSchemaError(
            f"{self.url} has schema version {found}, newer than this agentlab "
            f"({SCHEMA_VERSION}); upgrade agentlab"
        )

    def rows(self, sql: str, **params: Any) -> list[Row]:
        """Run one SELECT with bound parameters, read-only, and return its rows as dicts."""
        with self.store.engine.connect() as conn:
            try:
                if self.dialect == "sqlite":
                    conn.exec_driver_sql("PRAGMA query_only = ON")
                else:
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                try:
                    result = conn.execute(sqlalchemy.text(sql), params)
                    keys = list(result.keys())
                    return [
                        {k: jsonable(v) for k, v in zip(keys, row, strict=True)}
                        for row in result.fetchall()
                    ]
                finally:
                    conn.rollback()
                    if self.dialect == "sqlite":
                        conn.exec_driver_sql("PRAGMA query_only = OFF")
            except SQLAlchemyError as exc:
                first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                raise StoreError(f"reading {self.url}: {first}") from exc

    def one(self, sql: str, **params: Any) -> Row | None:
        found = self.rows(sql, **params)
        return found[0] if found else None

    def close(self) -> None:
        self.store.close()

"""Read-only SQL over the result store, for ``agentlab sql``.

Read-only holds by construction, not by inspecting the statement:

* every call opens a fresh connection of its own (never one from the store's pool), runs
  exactly ONE statement on it, rolls back and closes it, so nothing a statement does to its
  session (``COMMIT``, ``SET SESSION CHARACTERISTICS ... READ WRITE``) outlives it;
* SQLite: the file is opened with ``mode=ro``, ``query_only`` is on, attaching databases is
  disabled (``SQLITE_LIMIT_ATTACHED=0``, so no ``ATTACH``/``VACUUM INTO`` creates a file) and an
  authorizer denies ``ATTACH``/``DETACH`` and every ``PRAGMA`` that sets something; the driver
  refuses a second statement;
* Postgres: the connection starts with ``default_transaction_read_only=on``, the statement is
  sent through the extended protocol (a prepared statement), which the server refuses to run
  with more than one command, so ``COMMIT; DELETE ...`` never reaches the ``DELETE``; and when
  the store's user may create roles, the statement runs as a throwaway login role that may only
  SELECT the store's tables (so a superuser's side-effect functions, ``COPY ... TO PROGRAM`` or
  ``pg_terminate_backend`` on other sessions, are refused as well).

The leading-keyword check below only makes the refusal message friendlier.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import sqlalchemy
from psycopg import sql as pgsql
from sqlalchemy.exc import SQLAlchemyError

from agentlab.errors import ReadOnlyViolationError, StoreError
from agentlab.store.db import Store

_WRITE_WORDS = re.compile(
    r"^\s*(insert|update|delete|drop|create|alter|truncate|replace|grant|revoke|attach|detach|"
    r"vacuum|reindex|copy|merge|upsert|comment|lock|call|do)\b",
    re.IGNORECASE,
)
_READ_ONLY_ERRORS = ("readonly", "read-only", "read only", "query_only", "attempt to write")
_MULTI = ("multiple commands", "one statement at a time")
# Postgres SQLSTATEs meaning "not allowed here": read-only transaction, insufficient privilege.
_PG_REFUSED = {"25006", "42501"}
# PRAGMAs that only read, whatever argument they get (a table or index name).
_READ_PRAGMAS = {
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check",
}  # fmt: skip
# PRAGMAs that are harmless to read (with no argument) but would set something with one.
_READ_SETTINGS = {
    "journal_mode", "foreign_keys", "user_version", "application_id", "schema_version",
    "page_count", "page_size", "freelist_count", "database_list", "compile_options",
    "encoding", "collation_list", "function_list", "module_list", "pragma_list",
    "busy_timeout", "synchronous", "query_only", "data_version", "auto_vacuum",
}  # fmt: skip
_ROLE_TTL = dt.timedelta(minutes=5)
# Placed last, so it wins over anything the store URL's own options say.
_READ_ONLY_OPTION = "-c default_transaction_read_only=on"
log = logging.getLogger(__name__)


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


def _one_statement() -> ReadOnlyViolationError:
    return ReadOnlyViolationError(
        "`agentlab sql` runs exactly one statement per call; run each statement separately"
    )


def run_readonly(store: Store, sql: str, max_rows: int | None = None) -> QueryResult:
    """Execute one statement read-only and return its columns and rows."""
    if _WRITE_WORDS.match(sql):
        raise _refuse(sql)
    if store.dialect == "sqlite":
        return _run_sqlite(store, sql, max_rows)
    return _run_postgres(store, sql, max_rows)


def _fetch(cur: Any, max_rows: int | None) -> QueryResult:
    if cur.description is None:
        return QueryResult([], [])
    columns = [d[0] for d in cur.description]
    rows = cur.fetchmany(max_rows) if max_rows else cur.fetchall()
    return QueryResult(columns, [tuple(r) for r in rows])


# --- SQLite -------------------------------------------------------------------------------


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in _READ_PRAGMAS or (name in _READ_SETTINGS and arg2 is None):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _run_sqlite(store: Store, sql: str, max_rows: int | None) -> QueryResult:
    database = store.engine.url.database
    if not database or database == ":memory:":
        raise StoreError("`agentlab sql` needs a store file; an in-memory store has no data")
    uri = f"file:{quote(str(Path(database).resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {database} read-only: {exc}") from exc
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(_sqlite_authorizer)
        try:
            return _fetch(conn.execute(sql), max_rows)
        except sqlite3.Error as exc:
            text = str(exc).lower()
            if any(m in text for m in _MULTI):
                raise _one_statement() from exc
            if any(
                m in text
                for m in (*_READ_ONLY_ERRORS, "not authorized", "authorization denied", "attached")
            ):
                raise _refuse(sql) from exc
            raise StoreError(f"SQL error: {_first_line(exc)}") from exc
    finally:
        with suppress(sqlite3.Error):
            conn.rollback()
        conn.close()


# --- Postgres -----------------------------------------------------------------------------


def _conninfo(store: Store) -> str:
    url = store.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@contextmanager
def _reader_role(store: Store) -> Iterator[tuple[str, str] | None]:
    """A throwaway login role that may only SELECT the store's tables, when we may create one.

    It expires after a few minutes even if this process dies before dropping it. Yields
    ``None`` (run as the store's own user, still read-only) where roles cannot be created.
    """
    role = _create_role(store)
    try:
        yield role
    finally:
        if role is not None:
            _drop_role(store, role[0])


def _create_role(store: Store) -> tuple[str, str] | None:
    name = f"agentlab_sql_{secrets.token_hex(6)}"
    password = secrets.token_urlsafe(24)
    try:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            may = conn.exec_driver_sql(
                "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
            ).scalar()
            if not may:
                return None
            raw = conn.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            ident = pgsql.Identifier(name)
            until = (dt.datetime.now(dt.UTC) + _ROLE_TTL).isoformat()
            raw.execute(
                pgsql.SQL(
                    "CREATE ROLE {} LOGIN PASSWORD {} VALID UNTIL {} NOSUPERUSER NOCREATEDB "
                    "NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 1"
                ).format(ident, pgsql.Literal(password), pgsql.Literal(until))
            )
            schema = pgsql.Identifier(str(conn.exec_driver_sql("SELECT current_schema()").scalar()))
            try:
                raw.execute(pgsql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident))
                raw.execute(
                    pgsql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, ident)
                )
            except psycopg.Error:
                _drop_role(store, name)
                raise
    except (SQLAlchemyError, psycopg.Error):
        # No role for us (e.g. a managed server forbids it): run as the store's user.
        return None
    return name, password


def _drop_role(store: Store, name: str) -> None:
    with (
        suppress(SQLAlchemyError),
        store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn,
    ):
        conn.exec_driver_sql(f'DROP OWNED BY "{name}"')
        conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{name}"')


def _connect_reader(store: Store, role: tuple[str, str] | None) -> psycopg.Connection[Any]:
    given = store.engine.url.query.get("options", "")
    options = " ".join([*([given] if isinstance(given, str) else given), _READ_ONLY_OPTION])
    conninfo = _conninfo(store)
    if role is not None:
        try:
            return psycopg.connect(conninfo, user=role[0], password=role[1], options=options)
        except psycopg.Error as exc:
            # The server does not let the new role log in here (pg_hba.conf): still read-only.
            log.info("agentlab sql: reader role cannot log in (%s); using the store's user", exc)
    return psycopg.connect(conninfo, options=options)


def _run_postgres(store: Store, sql: str, max_rows: int | None) -> QueryResult:
    with _reader_role(store) as role:
        try:
            conn = _connect_reader(store, role)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect read-only: {_first_line(exc)}") from exc
        try:
            with conn.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                # prepare=True: the extended protocol, which refuses more than one command.
                cur.execute(sql.encode(), prepare=True)
                return _fetch(cur, max_rows)
        except psycopg.Error as exc:
            if any(m in str(exc) for m in _MULTI):
                raise _one_statement() from exc
            if exc.sqlstate in _PG_REFUSED:
                raise _refuse(sql) from exc
            raise StoreError(f"SQL error: {_first_line(exc)}") from exc
        finally:
            with suppress(psycopg.Error):
                conn.rollback()
            conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def table_names(store: Store) -> list[str]:
    return sorted(sqlalchemy.inspect(store.engine).get_table_names())

"""`agentlab sql` stays read-only against every trick we know, on real Postgres and SQLite.

Each case ends by checking the data (and the files next to a SQLite store) are untouched, so a
trick that "succeeds" harmlessly passes and one that writes fails.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from agentlab.errors import ReadOnlyViolationError, StoreError
from agentlab.store import open_store
from agentlab.store.db import Store
from agentlab.store.sql import run_readonly
from agentlab.store.tables import Run

ONE = "one statement per call"

PG_TRICKS = [
    ("COMMIT; DELETE FROM run", ONE),
    ("ROLLBACK; DELETE FROM run", ONE),
    ("END; DELETE FROM run", ONE),
    ("ABORT; DELETE FROM run", ONE),
    ("COMMIT; INSERT INTO run (id, kind) VALUES ('x', 'eval')", ONE),
    ("SELECT 1; DELETE FROM run", ONE),
    ("SELECT ';' AS s; DELETE FROM run", ONE),
    ("SELECT $$;$$ AS s; COMMIT; DELETE FROM run", ONE),
    ("/* ; */ COMMIT; -- ;\nDELETE FROM run", ONE),
    ("SET TRANSACTION READ WRITE; DELETE FROM run", ONE),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; DELETE FROM run", ONE),
    ("SET default_transaction_read_only = off; DELETE FROM run", ONE),
    ("/**/DELETE FROM run", "read-only"),
    ("WITH x AS (DELETE FROM run RETURNING id) SELECT * FROM x", "read-only"),
    ("SELECT set_config('transaction_read_only', 'off', false)", "SQL error"),
    ("/**/DO $$ BEGIN DELETE FROM run; END $$", "read-only"),
    ("/**/DO $$ BEGIN COMMIT; DELETE FROM run; END $$", "SQL error"),
    ("/**/DO $$ BEGIN SET TRANSACTION READ WRITE; DELETE FROM run; END $$", "SQL error"),
    ("SELECT lo_import('/etc/hostname')", "read-only"),
    ("SELECT pg_reload_conf()", "read-only"),
    ("/**/TRUNCATE run", "read-only"),
]

# Statements that run harmlessly: they may change their own session, which dies with the call.
PG_HARMLESS = [
    "COMMIT",
    "ROLLBACK",
    "SET TRANSACTION READ WRITE",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SELECT ';' AS s;",
]

SQLITE_TRICKS = [
    ("SELECT 1; DELETE FROM run", ONE),
    ("PRAGMA query_only = OFF; DELETE FROM run", "read-only"),
    ("SELECT ';'; DELETE FROM run", ONE),
    ("/**/DELETE FROM run", "read-only"),
    ("WITH x AS (SELECT 1) DELETE FROM run", "read-only"),
    ("/**/ATTACH 'evil.db' AS e", "read-only"),
    ("/**/ATTACH 'file:evil.db?mode=rwc' AS e", "read-only"),
    ("/**/VACUUM INTO 'copy.db'", "read-only"),
    ("/**/VACUUM", "read-only"),
    ("PRAGMA query_only = OFF", "read-only"),
    ("PRAGMA user_version = 7", "read-only"),
    ("PRAGMA journal_mode = DELETE", "read-only"),
    ("PRAGMA wal_checkpoint(TRUNCATE)", "read-only"),
    ("PRAGMA foreign_keys = OFF", "read-only"),
    ("/**/REINDEX", "read-only"),
    ("/**/CREATE TABLE t (a)", "read-only"),
    ("/**/CREATE TEMP TABLE t (a)", "read-only"),
]


def _seed(url: str) -> Store:
    store = open_store(url)
    store.call(lambda s: s.add(Run(id="r1", kind="eval", name="demo")))
    return store


def _check_refused(store: Store, statement: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        run_readonly(store, statement)
    assert "\n" not in str(info.value)
    if message != "SQL error":
        assert isinstance(info.value, ReadOnlyViolationError)


def _roles(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'agentlab_sql_%'")
        return [r[0] for r in rows]


@pytest.mark.postgres
@pytest.mark.parametrize(("statement", "message"), PG_TRICKS)
def test_postgres_trick_cannot_write(pg_store_url: str, statement: str, message: str) -> None:
    store = _seed(pg_store_url)
    try:
        _check_refused(store, statement, message)
        assert run_readonly(store, "SELECT id FROM run").rows == [("r1",)]
        # The store's own pooled connections stay writable.
        store.call(lambda s: s.add(Run(id="r2", kind="eval")))
        assert run_readonly(store, "SELECT count(*) FROM run").rows == [(2,)]
    finally:
        store.close()
    assert _roles(pg_store_url) == [], "the throwaway reader role must be dropped"


@pytest.mark.postgres
@pytest.mark.parametrize("statement", PG_HARMLESS)
def test_postgres_session_changes_die_with_the_call(pg_store_url: str, statement: str) -> None:
    store = _seed(pg_store_url)
    try:
        run_readonly(store, statement)
        _check_refused(store, "/**/DELETE FROM run", "read-only")
        assert run_readonly(store, "SELECT count(*) FROM run").rows == [(1,)]
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_copy_to_program_runs_nothing(pg_store_url: str, tmp_path: Path) -> None:
    """The test server's user is a superuser; the reader role still may not run programs."""
    marker = Path("/tmp") / f"agentlab-sql-{uuid.uuid4().hex}"
    store = _seed(pg_store_url)
    try:
        _check_refused(store, f"/**/COPY (SELECT 1) TO PROGRAM 'touch {marker}'", "read-only")
        _check_refused(store, f"/**/COPY run TO '{marker}'", "read-only")
    finally:
        store.close()
    assert not marker.exists()


@pytest.mark.postgres
def test_postgres_cannot_terminate_other_sessions(pg_store_url: str) -> None:
    store = _seed(pg_store_url)
    with psycopg.connect(pg_store_url, autocommit=True) as victim:
        pid = victim.info.backend_pid
        try:
            _check_refused(store, f"SELECT pg_terminate_backend({pid})", "read-only")
            _check_refused(store, f"SELECT pg_cancel_backend({pid})", "read-only")
        finally:
            store.close()
        assert victim.execute("SELECT 1").fetchone() == (1,)


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


@pytest.mark.parametrize(("statement", "message"), SQLITE_TRICKS)
def test_sqlite_trick_cannot_write(tmp_path: Path, statement: str, message: str) -> None:
    store = _seed(f"sqlite:///{tmp_path}/store.db")
    try:
        before = _files(tmp_path)
        _check_refused(store, statement, message)
        assert _files(tmp_path) <= before, "no new file next to the store"
        assert run_readonly(store, "SELECT id FROM run").rows == [("r1",)]
        assert run_readonly(store, "PRAGMA user_version").rows == [(0,)]
        assert run_readonly(store, "PRAGMA journal_mode").rows == [("wal",)]
        store.call(lambda s: s.add(Run(id="r2", kind="eval")))
        assert run_readonly(store, "SELECT count(*) FROM run").rows == [(2,)]
    finally:
        store.close()


def test_sqlite_reads_still_work(tmp_path: Path) -> None:
    store = _seed(f"sqlite:///{tmp_path}/store.db")
    try:
        assert ("id",) in [(r[1],) for r in run_readonly(store, "PRAGMA table_info(run)").rows]
        names = run_readonly(store, "SELECT name FROM pragma_table_info('run') WHERE pk = 1")
        assert names.rows == [("id",)]
        assert run_readonly(store, "SELECT id FROM run;").rows == [("r1",)]
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_reads_as_a_throwaway_read_only_role(pg_store_url: str) -> None:
    store = _seed(pg_store_url)
    try:
        got = run_readonly(
            store,
            "SELECT current_user, current_setting('transaction_read_only'), "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
            "(SELECT count(*) FROM run)",
        )
        user, read_only, superuser, runs = got.rows[0]
        assert user.startswith("agentlab_sql_") and read_only == "on"
        assert superuser is False and runs == 1
    finally:
        store.close()
    assert _roles(pg_store_url) == []

"""The result store on real SQLite and real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select

from agentlab.errors import ConfigError, ReadOnlyViolationError, StoreError
from agentlab.store import open_store
from agentlab.store.sql import run_readonly, table_names
from agentlab.store.tables import SCHEMA_VERSION, Evaluation, Run, SchemaInfo, TestResultRow


def _add_run(session: Session, run_id: str = "r1") -> None:
    session.add(Run(id=run_id, kind="eval", name="demo"))


def test_creates_schema_and_records_version(store_url: str) -> None:
    store = open_store(store_url)
    try:
        names = table_names(store)
        for table in ("run", "task", "sandbox_exec", "evaluation", "test_result", "llm_call"):
            assert table in names
        version = store.call(
            lambda s: s.exec(select(SchemaInfo).where(SchemaInfo.key == "schema_version")).one()
        )
        assert int(version.value) == SCHEMA_VERSION
    finally:
        store.close()
    # Reopening an existing store is a no-op, not an error.
    open_store(store_url).close()


def test_refuses_store_from_newer_agentlab(store_url: str) -> None:
    store = open_store(store_url)

    def bump(session: Session) -> None:
        row = session.exec(select(SchemaInfo).where(SchemaInfo.key == "schema_version")).one()
        row.value = str(SCHEMA_VERSION + 1)
        session.add(row)

    store.call(bump)
    store.close()
    with pytest.raises(StoreError, match="newer than this agentlab"):
        open_store(store_url)


def test_rows_round_trip_and_cascade_with_their_run(store_url: str) -> None:
    store = open_store(store_url)
    try:

        def write(session: Session) -> int:
            _add_run(session)
            session.flush()
            ev = Evaluation(run_id="r1", instance_id="o__r-1", outcome="resolved", resolved=True)
            session.add(ev)
            session.flush()
            assert ev.id is not None
            session.add(
                TestResultRow(
                    evaluation_id=ev.id, test_id="t::a", category="FAIL_TO_PASS", status="PASSED"
                )
            )
            return ev.id

        store.call(write)
        rows = run_readonly(store, "SELECT instance_id, resolved FROM evaluation")
        assert rows.columns == ["instance_id", "resolved"]
        assert [(r[0], bool(r[1])) for r in rows.rows] == [("o__r-1", True)]

        store.call(lambda s: s.delete(s.get(Run, "r1")))
        left = run_readonly(store, "SELECT count(*) FROM test_result").rows[0][0]
        assert left == 0, "deleting a run must delete its evaluations and their test rows"
    finally:
        store.close()


def test_foreign_keys_are_enforced(store_url: str) -> None:
    store = open_store(store_url)
    try:
        with pytest.raises(StoreError):
            store.call(lambda s: s.add(Evaluation(run_id="missing", instance_id="x", outcome="e")))
    finally:
        store.close()


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    store = open_store(f"sqlite:///{tmp_path}/w.db")
    try:
        assert run_readonly(store, "PRAGMA journal_mode").rows[0][0] == "wal"
        # foreign_keys is per connection: check the store's own (writing) connections.
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM run",
        "  delete from run where 1=1",
        "DROP TABLE run",
        "UPDATE run SET name = 'x'",
        "INSERT INTO run (id, kind) VALUES ('z', 'eval')",
    ],
)
def test_sql_refuses_writes(store_url: str, statement: str) -> None:
    store = open_store(store_url)
    try:
        store.call(_add_run)
        with pytest.raises(ReadOnlyViolationError, match="read-only"):
            run_readonly(store, statement)
        assert run_readonly(store, "SELECT count(*) FROM run").rows[0][0] == 1
    finally:
        store.close()


def test_sql_refuses_writes_hidden_in_a_select(store_url: str) -> None:
    """The database enforces read-only, not the keyword check: a CTE that writes is refused."""
    store = open_store(store_url)
    try:
        store.call(_add_run)
        with pytest.raises((ReadOnlyViolationError, StoreError)):
            run_readonly(store, "WITH x AS (DELETE FROM run RETURNING id) SELECT * FROM x")
        assert run_readonly(store, "SELECT count(*) FROM run").rows[0][0] == 1
        # The pooled connection is writable again for the store's own writes.
        store.call(lambda s: _add_run(s, "r2"))
        assert run_readonly(store, "SELECT count(*) FROM run").rows[0][0] == 2
    finally:
        store.close()


def test_sql_error_is_one_clear_line(store_url: str) -> None:
    store = open_store(store_url)
    try:
        with pytest.raises(StoreError, match="SQL error") as info:
            run_readonly(store, "SELECT no_such_column FROM run")
        assert "\n" not in str(info.value)
    finally:
        store.close()


async def test_concurrent_async_writes_all_land(store_url: str) -> None:
    store = open_store(store_url)
    try:
        await store.acall(_add_run)

        async def write(i: int) -> None:
            await store.acall(
                lambda s: s.add(Evaluation(run_id="r1", instance_id=f"i{i}", outcome="resolved"))
            )

        await asyncio.gather(*(write(i) for i in range(200)))
        assert run_readonly(store, "SELECT count(*) FROM evaluation").rows[0][0] == 200
    finally:
        store.close()


async def test_cancelled_caller_does_not_tear_a_write(store_url: str) -> None:
    store = open_store(store_url)
    try:
        started = asyncio.Event()
        loop = asyncio.get_running_loop()

        def slow_write(session: Session) -> None:
            loop.call_soon_threadsafe(started.set)
            _add_run(session, "slow")
            session.flush()
            import time

            time.sleep(0.3)  # the caller is cancelled while the transaction is open

        task = asyncio.create_task(store.acall(slow_write))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The shielded transaction finishes on the writer thread and commits whole.
        await store.acall(lambda s: None)
        assert store.call(lambda s: s.get(Run, "slow")) is not None
    finally:
        store.close()


def test_bad_urls_get_one_line_errors(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="unsupported scheme"):
        open_store("mysql://nobody@localhost/db")
    with pytest.raises(StoreError, match="cannot open result store"):
        open_store("postgresql://nobody@127.0.0.1:1/none")


async def test_group_commit_batches_and_isolates_a_failing_job(store_url: str) -> None:
    """Queued writes share transactions, yet one bad job fails only its own caller."""
    import sqlalchemy

    store = open_store(store_url)
    commits = 0

    def count(_conn: object) -> None:
        nonlocal commits
        commits += 1

    sqlalchemy.event.listen(store.engine, "commit", count)
    try:
        await store.acall(_add_run)

        def job(i: int) -> object:
            def write(session: Session) -> int:
                if i == 50:
                    raise ValueError("job 50 is broken")
                session.add(Evaluation(run_id="r1", instance_id=f"i{i}", outcome="resolved"))
                return i

            return write

        results = await asyncio.gather(
            *(store.acall(job(i)) for i in range(200)),
            return_exceptions=True,  # type: ignore[arg-type]
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1 and "job 50" in str(errors[0])
        assert sorted(r for r in results if isinstance(r, int)) == [
            i for i in range(200) if i != 50
        ]
        assert run_readonly(store, "SELECT count(*) FROM evaluation").rows[0][0] == 199
        assert commits < 100, f"{commits} commits for 200 queued writes: not grouped"
    finally:
        store.close()

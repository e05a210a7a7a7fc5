"""A store made by the previous schema version is migrated in place, its rows kept."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlmodel import Session, select

from agentlab.store import open_store
from agentlab.store.tables import SCHEMA_VERSION, LLMCall, SandboxExec, SchemaInfo


def _columns(session: Session, table: str) -> set[str]:
    return {c["name"] for c in inspect(session.connection()).get_columns(table)}


def test_version_1_store_gains_the_money_columns(store_url: str) -> None:
    store = open_store(store_url)

    def make_v1(session: Session) -> None:
        # The version-1 shape: no replay cost on llm_call, no charge on sandbox_exec.
        for table, column in (
            ("llm_call", "replayed_usd"),
            ("llm_call", "cache_write_tokens"),
            ("llm_call", "cache_saved_usd"),
            ("sandbox_exec", "cpu_seconds"),
            ("sandbox_exec", "usd"),
        ):
            session.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        session.execute(
            text(
                "INSERT INTO llm_call (role, task_id, sample, step, endpoint, model, request_hash,"
                " prompt_tokens, completion_tokens, cached_prompt_tokens, usd, gpu_seconds,"
                " latency_s, attempts, cache_hit, created_at) VALUES ('edit', 't1', 0, 0, 'e',"
                " 'm', 'h', 10, 5, 0, 0.25, 0, 0.1, 1, false, CURRENT_TIMESTAMP)"
            )
        )
        row = session.exec(select(SchemaInfo).where(SchemaInfo.key == "schema_version")).one()
        row.value = "1"
        session.add(row)

    store.call(make_v1)
    store.close()
    store = open_store(store_url)
    try:

        def check(session: Session) -> None:
            assert "replayed_usd" in _columns(session, "llm_call")
            assert {"cpu_seconds", "usd"} <= _columns(session, "sandbox_exec")
            [call] = session.exec(select(LLMCall)).all()
            assert (call.usd, call.replayed_usd) == (0.25, 0.0)
            assert session.exec(select(SandboxExec)).all() == []
            version = session.exec(
                select(SchemaInfo).where(SchemaInfo.key == "schema_version")
            ).one()
            assert int(version.value) == SCHEMA_VERSION == 4

        store.call(check)
    finally:
        store.close()


def _version_and_indexes(url: str) -> tuple[str, set[str]]:
    st = open_store(url, create=False)
    try:
        with st.engine.connect() as conn:
            version = conn.execute(
                text("SELECT value FROM schema_info WHERE key = 'schema_version'")
            ).scalar_one()
        names = {i["name"] for i in inspect(st.engine).get_indexes("llm_call")}
        return str(version), {n for n in names if n}
    finally:
        st.close()


def test_version_2_store_gains_the_llm_call_trajectory_index(store_url: str) -> None:
    st = open_store(store_url)
    # Turn the fresh store into what agentlab with schema 2 wrote.
    st.call(lambda s: s.execute(text("DROP INDEX ix_llm_call_run_task")))
    st.call(
        lambda s: s.execute(text("UPDATE schema_info SET value = '2' WHERE key = 'schema_version'"))
    )
    st.close()
    assert _version_and_indexes(store_url) == ("2", {"ix_llm_call_role", "ix_llm_call_run_id"})
    open_store(store_url).close()  # any writing command migrates
    version, indexes = _version_and_indexes(store_url)
    assert version == str(SCHEMA_VERSION) == "4"
    assert "ix_llm_call_run_task" in indexes


def test_version_3_store_gains_the_prompt_cache_columns(store_url: str) -> None:
    store = open_store(store_url)

    def make_v3(session: Session) -> None:
        # The version-3 llm_call: cache reads only, no writes and no saving.
        for column in ("cache_write_tokens", "cache_saved_usd"):
            session.execute(text(f"ALTER TABLE llm_call DROP COLUMN {column}"))
        session.execute(
            text(
                "INSERT INTO llm_call (role, task_id, sample, step, endpoint, model, request_hash,"
                " prompt_tokens, completion_tokens, cached_prompt_tokens, usd, gpu_seconds,"
                " latency_s, attempts, cache_hit, replayed_usd, created_at) VALUES ('edit', 't1',"
                " 0, 0, 'e', 'm', 'h', 10, 5, 4, 0.25, 0, 0.1, 1, false, 0, CURRENT_TIMESTAMP)"
            )
        )
        session.execute(text("UPDATE schema_info SET value = '3' WHERE key = 'schema_version'"))

    store.call(make_v3)
    store.close()
    store = open_store(store_url)  # migrates
    try:

        def check(session: Session) -> None:
            assert {"cache_write_tokens", "cache_saved_usd"} <= _columns(session, "llm_call")
            [call] = session.exec(select(LLMCall)).all()
            assert (call.usd, call.cached_prompt_tokens) == (0.25, 4)  # the old row, kept
            assert (call.cache_write_tokens, call.cache_saved_usd) == (0, 0.0)

        store.call(check)
    finally:
        store.close()

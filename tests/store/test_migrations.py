"""Schema steps: a store of an older version opened for writing is brought forward."""

from __future__ import annotations

import sqlalchemy
from sqlalchemy import text

from agentlab.store import open_store
from agentlab.store.tables import SCHEMA_VERSION


def _version_and_indexes(url: str) -> tuple[str, set[str]]:
    st = open_store(url, create=False)
    try:
        with st.engine.connect() as conn:
            version = conn.execute(
                text("SELECT value FROM schema_info WHERE key = 'schema_version'")
            ).scalar_one()
        names = {i["name"] for i in sqlalchemy.inspect(st.engine).get_indexes("llm_call")}
        return str(version), {n for n in names if n}
    finally:
        st.close()


def test_schema_1_gains_the_llm_call_trajectory_index(store_url: str) -> None:
    st = open_store(store_url)
    # Turn the fresh store into what agentlab with schema 1 wrote.
    st.call(lambda s: s.exec(text("DROP INDEX ix_llm_call_run_task")))  # type: ignore[call-overload]
    st.call(lambda s: s.exec(  # type: ignore[call-overload]
        text("UPDATE schema_info SET value = '1' WHERE key = 'schema_version'")
    ))
    st.close()
    assert _version_and_indexes(store_url) == ("1", {"ix_llm_call_role", "ix_llm_call_run_id"})
    open_store(store_url).close()  # any writing command migrates
    version, indexes = _version_and_indexes(store_url)
    assert version == str(SCHEMA_VERSION) == "2"
    assert "ix_llm_call_run_task" in indexes

"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server.

Postgres comes from AGENTLAB_TEST_POSTGRES_URL (``.ci/run`` starts one). Each test gets a fresh
database of its own, dropped afterwards. Where CI sets AGENTLAB_REQUIRE_POSTGRES=1 a missing
server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy

PG_URL = os.environ.get("AGENTLAB_TEST_POSTGRES_URL", "")


def _admin_engine() -> sqlalchemy.Engine:
    url = sqlalchemy.engine.make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    return sqlalchemy.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A URL to an empty store: a SQLite file, or a fresh Postgres database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    yield from _fresh_postgres()


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    """A URL to a fresh, empty Postgres database (Postgres-only tests)."""
    yield from _fresh_postgres()


def _fresh_postgres() -> Iterator[str]:
    if not PG_URL:
        if os.environ.get("AGENTLAB_REQUIRE_POSTGRES") == "1":
            pytest.fail("AGENTLAB_REQUIRE_POSTGRES=1 but AGENTLAB_TEST_POSTGRES_URL is not set")
        pytest.skip("no Postgres: set AGENTLAB_TEST_POSTGRES_URL (bash .ci/run starts one)")
    name = f"agentlab_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield str(sqlalchemy.engine.make_url(PG_URL).set(database=name).render_as_string(False))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

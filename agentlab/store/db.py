"""Opening the result store from a URL, and running work against it off the event loop.

SQLite (the default, a file in the working directory) runs in WAL mode with foreign keys on
and a busy timeout, so readers never block the writer and a crash never leaves a torn file.
Any ``postgresql://`` URL works the same way (through psycopg 3).

Async writes go through one writer thread per store that commits queued jobs together (group
commit): SQLite allows one writer at a time anyway, so serialising them here means no
"database is locked" errors under heavy fan-out, far fewer commits, and no blocking SQL on the
event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, select

from agentlab.errors import ConfigError, StoreError
from agentlab.store import profile_tables, run_tables, scoring_tables, tables
from agentlab.store.tables import SCHEMA_VERSION, SchemaInfo
from agentlab.store.writer import GroupWriter

T = TypeVar("T")

DEFAULT_URL = "sqlite:///agentlab.db"


def normalise_url(url: str | None) -> str:
    """Accept a bare path, ``sqlite:///...`` or ``postgresql://...``; pick psycopg 3 for PG."""
    if not url:
        return DEFAULT_URL
    if "://" not in url:
        return f"sqlite:///{Path(url)}"
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if scheme.startswith("sqlite") or scheme.startswith("postgresql+"):
        return url
    raise ConfigError(
        f"store URL {url!r}: unsupported scheme {scheme!r}; use sqlite:///path.db or postgresql://..."
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sqlalchemy.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sqlalchemy.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    return engine


class Store:
    """A handle on one result store. Create with :func:`open_store`; close with :meth:`close`."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._writer = GroupWriter(self.session, self.call)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error (or cancellation)."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def call(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in a committed transaction (sync); map driver errors to StoreError."""
        try:
            with self.session() as session:
                return fn(session)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"result store {self.safe_url}: {exc.__class__.__name__}: {exc}"
            ) from exc

    async def acall(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` on the store's writer thread, off the event loop; return once committed.

        Jobs queued together share one transaction (group commit, see ``store/writer.py``),
        so ``fn`` must be plain database work, safe to run again after a rollback. The write
        is shielded: if the awaiting task is cancelled, the job still runs to commit or
        rollback on its thread, so cancellation never tears a write.
        """
        fut = asyncio.wrap_future(self._writer.submit(fn))
        result: T = await asyncio.shield(fut)
        return result

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return sqlalchemy.engine.make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self._writer.close()
        self.engine.dispose()


def open_store(url: str | None = None, *, create: bool = True) -> Store:
    """Open (and by default create or migrate) the store at ``url``."""
    url = normalise_url(url)
    engine = make_engine(url)
    store = Store(engine, url)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open result store {store.safe_url}: {exc.__class__.__name__}; "
            "check the URL, that the server runs, and the credentials"
        ) from exc
    if create:
        _ensure_schema(store)
    return store


def _ensure_schema(store: Store) -> None:
    # Imported for their side effect: registering every table on the metadata.
    assert tables and run_tables and scoring_tables and profile_tables
    try:
        SQLModel.metadata.create_all(store.engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot create tables in {store.safe_url}: {exc}") from exc

    def check(session: Session) -> None:
        row = session.exec(select(SchemaInfo).where(SchemaInfo.key == "schema_version")).first()
        if row is None:
            session.add(SchemaInfo(key="schema_version", value=str(SCHEMA_VERSION)))
            return
        found = int(row.value)
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"result store {store.safe_url} has schema version {found}, newer than this "
                f"agentlab ({SCHEMA_VERSION}); upgrade agentlab"
            )
        if found < SCHEMA_VERSION:
            from agentlab.store.migrations import migrate

            migrate(session, found, SCHEMA_VERSION)
            row.value = str(SCHEMA_VERSION)
            session.add(row)

    store.call(check)

"""Async database access, the same for PostgreSQL (psycopg 3) and SQLite (aiosqlite).

A service builds one :class:`Database` from its URL and opens sessions from
it; domain code never needs to know which engine is underneath.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db_pool import ObservedPool, PoolCounters, PoolStats, observed_pool_class
from shared.settings import ServiceSettings

log = logging.getLogger("shared.db")


def async_url(url: str) -> URL:
    """Pick the async driver: ``postgresql://`` -> psycopg 3, ``sqlite://`` -> aiosqlite."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed


def sync_url(url: str) -> URL:
    """The same database through a synchronous driver (Alembic runs synchronously)."""
    parsed = async_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed


def _tune_sqlite(dbapi_connection: Any, _: Any) -> None:
    # WAL lets readers run beside the writer; busy_timeout makes concurrent
    # writers wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """An async engine plus a session factory for one service's database.

    On PostgreSQL the pool holds at most ``pool_size + max_overflow`` connections, the
    process's share of the connection budget (README, "Connection budget"). A checkout
    waits its turn (shared.db_pool) at most ``pool_timeout`` seconds, then raises
    ``sqlalchemy.exc.TimeoutError`` (a 503, shared.errors). ``transaction_pooling``: the
    URL is a PgBouncer in transaction mode, where consecutive transactions may run on
    different server connections.
    """

    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 6,
                 pool_timeout: float = 5.0, idle_timeout: float = 120.0,
                 transaction_pooling: bool = False) -> None:
        self.url = async_url(url)
        self.counters = PoolCounters()
        self.pool_limit = pool_size + max_overflow
        # No pool_pre_ping: it costs a round trip on every checkout (measured: about a
        # sixth of a simple read's throughput). After a database restart the first
        # statement on a dead connection fails instead, SQLAlchemy discards the pool, and
        # that one request is answered 503 (shared.errors); the next ones reconnect.
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if self.url.database:
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(
                poolclass=observed_pool_class(self.counters),
                pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout,
                # Idle connections are given back: overflow ones as soon as they are
                # returned (SQLAlchemy closes them when pool_size are idle), the others
                # after idle_timeout. LIFO reuses the warmest connection, so under light
                # load the rest stay unused long enough to be closed.
                pool_use_lifo=True,
                # A connection closed for idleness is at least idle_timeout old; renewing
                # every connection older than half that on checkout means a closed one is
                # never handed out (without pre-ping's round trip).
                pool_recycle=idle_timeout / 2 if idle_timeout else 1800,
                connect_args=_connect_args(idle_timeout, transaction_pooling))
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _tune_sqlite)
        # A session class of our own, so commit hooks apply to this database only.
        self._sync_session_class: type[Session] = type("ServiceSession", (Session,), {})
        self.sessionmaker = async_sessionmaker(self.engine, class_=AsyncSession,
                                               sync_session_class=self._sync_session_class,
                                               expire_on_commit=False)
        # Reads need no transaction: in autocommit mode psycopg sends no BEGIN and the
        # pool's reset sends no ROLLBACK, so a one-query read is one round trip, not
        # three (measured: most of a simple read route's database time).
        self.read_sessionmaker = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), class_=AsyncSession,
            expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Database:
        """The database of a service, sized and configured by its settings."""
        return cls(settings.effective_database_url, pool_size=settings.database_pool_size,
                   max_overflow=settings.database_max_overflow,
                   pool_timeout=settings.database_pool_timeout,
                   idle_timeout=settings.database_idle_timeout,
                   transaction_pooling=settings.database_transaction_pooling)

    def on_commit(self, hook: Callable[[Session], None]) -> None:
        """Call ``hook(session)`` after every successful commit on this database."""
        event.listen(self._sync_session_class, "after_commit", hook)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite backend."""
        return self.url.get_backend_name() == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that is closed (and rolled back if uncommitted) on exit."""
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads: every statement runs and commits on its own.

        For routes that only read (or whose writes are single idempotent statements).
        Two queries in it may see different snapshots; use ``session()`` when the
        statements must agree or change data together.
        """
        async with self.read_sessionmaker() as session:
            yield session

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    def pool_stats(self) -> PoolStats | None:
        """The pool's connections and waiting checkouts now (None on SQLite)."""
        pool = self.engine.pool
        return pool.stats(self.pool_limit) if isinstance(pool, ObservedPool) else None

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _connect_args(idle_timeout: float, transaction_pooling: bool) -> dict[str, Any]:
    if transaction_pooling:
        # Through PgBouncer in transaction mode, psycopg's server-side prepared statements
        # (made after 5 runs of a query) would live on one server connection and be
        # missing on the next (PgBouncer < 1.21 does not track them). Idle server
        # connections are PgBouncer's business there (server_idle_timeout), and it refuses
        # unknown startup options.
        return {"prepare_threshold": None}
    if not idle_timeout:
        return {}  # kept open (PostgreSQL before 14 has no idle_session_timeout)
    # PostgreSQL itself closes a session left idle that long.
    return {"options": f"-c idle_session_timeout={round(idle_timeout * 1000)}"}


def ensure_database_exists(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` if it is missing (no-op for SQLite)."""
    parsed = sync_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return
    server = parsed.set(drivername="postgresql", database="postgres")
    conninfo = server.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    (parsed.database,)).fetchone()
        if exists:
            return
        try:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(
                sql.Identifier(parsed.database)))
            log.info("database created", extra={"event": "database_created",
                                                "database": parsed.database})
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            # Another process of the same service created it first (a concurrent
            # CREATE DATABASE fails on the catalog's unique index, not as a duplicate).
            pass

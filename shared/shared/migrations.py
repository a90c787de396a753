"""Alembic, run the same way by every service.

Each service keeps its own ``migrations/`` folder (``env.py`` calls
:func:`run_alembic_env`); :func:`upgrade_to_head` applies them at start-up.
Several processes of one service may start together, so on PostgreSQL the
upgrade holds an advisory lock. It is a transaction-scoped one, taken in the
transaction that runs the migrations: a session lock would outlive its
transaction on a server connection that PgBouncer (transaction pooling) hands
to someone else, and be released, or not, on another.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool, text

from shared.db import sync_url


def alembic_config(script_location: Path, database_url: str) -> Config:
    """An Alembic config for a service's migrations folder and database."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url",
                           sync_url(database_url).render_as_string(hide_password=False)
                           .replace("%", "%%"))
    return config


def upgrade_to_head(script_location: Path, database_url: str) -> None:
    """Apply every pending migration (blocking: call it in a thread)."""
    command.upgrade(alembic_config(script_location, database_url), "head")


def run_alembic_env(target_metadata: MetaData) -> None:
    """The body of a service's ``migrations/env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(str(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Opens the transaction the migrations run in (Alembic joins it); the lock is
            # released by its commit or rollback. A second process waits here, then finds
            # the version table up to date.
            lock_id = zlib.crc32(str(context.config.get_main_option("script_location")).encode())
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    engine.dispose()



def create_event_tables(op: Any) -> None:
    """Create the outbox and processed-event tables in a service's first migration.

    ``op`` is Alembic's ``alembic.op`` proxy, as seen inside a migration.
    """
    from shared.events import define_event_tables

    metadata = MetaData()
    define_event_tables(metadata)
    metadata.create_all(op.get_bind())


def index_processed_events_for_pruning(op: Any) -> None:
    """Add the index the pruner finds old processed-event markers by (a service's 0002).

    A database whose first migration ran after the index joined ``define_event_tables``
    has it already (``create_event_tables`` builds the current shape), hence "if not
    exists". The build holds off inserts into the table for its duration, once: a
    consumer's delivery waits meanwhile, none fails.
    """
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"],
                    if_not_exists=True)

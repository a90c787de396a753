"""Through PgBouncer in transaction mode: consecutive transactions of one client run on
whichever server connection is free, so nothing may rely on session state."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import psycopg
import pytest
import sqlalchemy.exc
from sqlalchemy import text

from shared.db import Database
from testsupport.pgbouncer import PgBouncer


async def select_many_times(database: Database, times: int) -> None:
    for n in range(times):
        async with database.read_session() as session:
            await session.exec(text("SELECT CAST(:n AS integer)"), params={"n": n})


async def after_its_server_connection_is_taken(database: Database, bouncer: PgBouncer,
                                               postgres_url: str) -> None:
    """Run the same query again while another client holds the server connection that
    served it so far (PgBouncer hands out the most recently freed one)."""
    with psycopg.connect(bouncer.url(postgres_url).replace("+psycopg", "")) as holder:
        holder.execute("SELECT 1")  # holds that server connection: its transaction is open
        await select_many_times(database, 1)


async def test_a_query_run_often_keeps_working_across_server_connections(
        pgbouncer: PgBouncer, postgres_url: str) -> None:
    database = Database(pgbouncer.url(postgres_url), pool_size=1, max_overflow=0,
                        transaction_pooling=True)
    try:
        await select_many_times(database, 8)
        await after_its_server_connection_is_taken(database, pgbouncer, postgres_url)
    finally:
        await database.dispose()


async def test_psycopg_defaults_break_behind_pgbouncer(pgbouncer: PgBouncer,
                                                      postgres_url: str) -> None:
    # Why DATABASE_TRANSACTION_POOLING exists. PgBouncer refuses the idle timeout that
    # a direct connection sends as a startup option:
    direct_style = Database(pgbouncer.url(postgres_url), pool_size=1, max_overflow=0)
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError, match="startup parameter"):
            await select_many_times(direct_style, 1)
    finally:
        await direct_style.dispose()
    # And psycopg prepares a query on the server after five runs; the statement stays
    # behind on that server connection.
    database = Database(pgbouncer.url(postgres_url), pool_size=1, max_overflow=0,
                        transaction_pooling=True)
    try:
        async with database.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            raw.driver_connection.prepare_threshold = 5  # type: ignore[union-attr]
        await select_many_times(database, 8)
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="does not exist"):
            await after_its_server_connection_is_taken(database, pgbouncer, postgres_url)
    finally:
        await database.dispose()


ENV = """\
from sqlalchemy import MetaData

from shared.migrations import run_alembic_env

run_alembic_env(MetaData())
"""

SLOW_MIGRATION = """\
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("SELECT pg_sleep(0.5)")  # so that the processes starting together overlap
"""


async def test_processes_starting_together_migrate_once_through_pgbouncer(
        pgbouncer: PgBouncer, postgres_url: str, tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "versions" / "0001_notes.py").write_text(SLOW_MIGRATION)
    # Separate processes, as in production (Alembic's context is one per process), which
    # import first and then start together when told to.
    upgrade = ("import sys; from shared.migrations import upgrade_to_head; "
               "print('ready', flush=True); sys.stdin.readline(); "
               f"upgrade_to_head({str(tmp_path)!r}, {pgbouncer.url(postgres_url)!r})")
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", upgrade, stdin=PIPE, stdout=PIPE) for _ in range(3)]
    for process in processes:
        assert process.stdout and await process.stdout.readline() == b"ready\n"
    for process in processes:
        assert process.stdin
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    # A lock left behind on a server connection would hang them: a minute is plenty.
    assert [await asyncio.wait_for(process.wait(), 60) for process in processes] == [0, 0, 0]
    with psycopg.connect(postgres_url.replace("+psycopg", "")) as connection:
        versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        assert versions == [("0001",)]
        connection.execute("SELECT count(*) FROM notes")

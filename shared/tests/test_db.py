"""``shared.db.Database``: transactional sessions and read sessions, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Database


async def run(session: AsyncSession, sql: str) -> list[str]:
    result = await (await session.connection()).execute(text(sql))
    return list(result.scalars().all()) if result.returns_rows else []


async def test_read_session_runs_each_statement_outside_a_transaction(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.session() as session:
            await run(session, "CREATE TABLE notes (body TEXT)")
            await session.commit()
        async with database.read_session() as reader:
            options = (await reader.connection()).sync_connection.get_execution_options()
            assert options["isolation_level"] == "AUTOCOMMIT"
            # Not rolled back when the session closes: no transaction was ever opened.
            await run(reader, "INSERT INTO notes VALUES ('kept')")
        async with database.session() as session:
            assert await run(session, "SELECT body FROM notes") == ["kept"]
            # Back in transactional mode: uncommitted work is rolled back on close.
            await run(session, "INSERT INTO notes VALUES ('dropped')")
        async with database.read_session() as reader:
            assert await run(reader, "SELECT body FROM notes") == ["kept"]
    finally:
        await database.dispose()

"""Core statements on the session's connection, the same on PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.sql import Executable
from sqlmodel.ext.asyncio.session import AsyncSession


def upsert(session: AsyncSession, table: Table) -> Any:
    """``INSERT`` for ``table`` with the dialect's ``ON CONFLICT`` clauses available.

    Both dialects spell it the same (``on_conflict_do_update(index_elements=...)``), but
    SQLAlchemy keeps the construct per dialect.
    """
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def run(session: AsyncSession, statement: Executable,
              parameters: dict[str, Any] | None = None) -> Result[Any]:
    """Execute a Core statement in the session's transaction (no ORM objects made)."""
    connection = await session.connection()
    return await connection.execute(statement, parameters)

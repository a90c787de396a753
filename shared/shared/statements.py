"""Core statements on the session's connection, the same on PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable


def insert_for(dialect: str) -> Any:
    """The dialect's ``insert`` construct, the one with ``ON CONFLICT`` clauses.

    Both dialects spell them the same (``on_conflict_do_update(index_elements=...)``), but
    SQLAlchemy keeps the construct per dialect.
    """
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def upsert(session: AsyncSession, table: Any) -> Any:
    """``INSERT`` for ``table`` (a ``Table`` or a mapped class) on the session's dialect,
    with its ``ON CONFLICT`` clauses available."""
    return insert_for(session.get_bind().dialect.name)(table)


async def run(session: AsyncSession, statement: Executable,
              parameters: dict[str, Any] | None = None) -> Result[Any]:
    """Execute a Core statement in the session's transaction (no ORM objects made)."""
    connection = await session.connection()
    return await connection.execute(statement, parameters)

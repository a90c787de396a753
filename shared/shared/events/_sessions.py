"""Helpers shared by the outbox relay and the idempotent consumer."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

SessionFactory = async_sessionmaker[Any]


def as_sessionmaker(engine_or_sessionmaker: AsyncEngine | SessionFactory) -> SessionFactory:
    """Accept either an engine or a ready sessionmaker (e.g. one making SQLModel sessions)."""
    if isinstance(engine_or_sessionmaker, AsyncEngine):
        return async_sessionmaker(engine_or_sessionmaker, expire_on_commit=False)
    return engine_or_sessionmaker


async def execute(session: AsyncSession, statement: Executable,
                  parameters: dict[str, Any] | None = None) -> Result[Any]:
    """Run a Core statement (with bound ``parameters``) in the session's transaction.

    Through the session's connection rather than ``session.execute`` because SQLModel's
    ``AsyncSession.execute`` warns that it is deprecated in favour of ``exec``.
    """
    connection = await session.connection()
    return await connection.execute(statement, parameters)

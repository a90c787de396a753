"""Dependencies specific to the appointments service (the one place that reads
``app.state``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from appointments.settings import AppointmentsSettings
from shared.deps import get_settings

SettingsDep = Annotated[AppointmentsSettings, Depends(get_settings)]


async def read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for the read path: no ORM session, and autocommit, which
    spares the ``BEGIN`` and ``ROLLBACK`` round trips around its one or two reads."""
    async with request.app.state.db.engine.connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")


DbConnection = Annotated[AsyncConnection, Depends(read_connection)]

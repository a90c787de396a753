"""FastAPI dependencies for the infrastructure a route needs: a session, the outbox, the
peers' clients and the caller's ``Authorization`` header to forward to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events import Outbox


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for this request, closed afterwards."""
    async with request.app.state.db.session() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only route's session: no transaction, one round trip per query
    (``shared.db.Database.read_session``)."""
    async with request.app.state.db.read_session() as session:
        yield session


def get_outbox(request: Request) -> Outbox:
    """The service's outbox, to stage events in the request's transaction."""
    outbox: Outbox = request.app.state.outbox
    return outbox


def get_settings(request: Request) -> Any:
    """The service's settings; each service types it: ``Annotated[XSettings,
    Depends(get_settings)]`` in its ``api/deps.py``."""
    return request.app.state.settings


def authorization(request: Request) -> str:
    """The caller's ``Authorization`` header, forwarded on the few calls to peers."""
    return request.headers.get("authorization", "")


def get_peers(request: Request) -> dict[str, httpx.AsyncClient]:
    """Clients of the services this one may call (``create_service_app(peers=...)``)."""
    clients: dict[str, httpx.AsyncClient] = request.app.state.peers
    return clients


DbSession = Annotated[AsyncSession, Depends(get_session)]
ReadSession = Annotated[AsyncSession, Depends(get_read_session)]
OutboxDep = Annotated[Outbox, Depends(get_outbox)]
AuthorizationDep = Annotated[str, Depends(authorization)]
PeersDep = Annotated[dict[str, httpx.AsyncClient], Depends(get_peers)]

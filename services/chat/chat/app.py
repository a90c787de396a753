"""The chat service's app factory: wiring only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from chat.api.deps import ChatRuntime
from chat.api.routes import socket, threads
from chat.connections import ConnectionRegistry
from chat.fanout import Fanout
from chat.heap import HeapFreezer
from chat.models import event_tables
from chat.settings import ChatSettings
from chat.threads import ThreadOwners
from shared.models import new_id
from shared.service import create_service_app
from shared.tokens import JwksSource

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: ChatSettings | None = None, *,
               jwks_source: JwksSource | None = None,
               peers: Mapping[str, httpx.AsyncClient] | None = None) -> FastAPI:
    """The chat service: REST threads and messages, and the ``/chat/ws`` socket.

    ``peers["files"]`` reaches the files service (in process in the embedded mode);
    without it a client for ``FILES_URL`` is made. It is only asked about attachments.
    Each app is one replica: it gets an id of its own, carried by the events it
    publishes, so that it can tell its own broadcasts from the other replicas'.
    """
    settings = settings or ChatSettings()
    registry = ConnectionRegistry(send_timeout=settings.ws_send_timeout_seconds,
                                  backlog_limit=settings.ws_send_backlog)
    fanout = Fanout(registry, replica_id=new_id())
    freezer = HeapFreezer(registry, interval=settings.gc_freeze_interval_seconds,
                          min_sockets=settings.gc_freeze_min_sockets)

    async def start_freezer(_: FastAPI) -> None:
        await freezer.start()

    async def stop(_: FastAPI) -> None:
        await freezer.stop()
        await fanout.aclose()

    app = create_service_app(
        settings=settings, title="Membership Auto — chat", event_tables=event_tables,
        migrations=MIGRATIONS, routers=[threads.router, socket.router],
        broadcasts=fanout.handlers(), peers=peers, peer_urls={"files": settings.files_url},
        peer_timeout=settings.peer_timeout_seconds, jwks_source=jwks_source,
        on_startup=start_freezer, on_shutdown=stop)
    app.state.chat = ChatRuntime(
        settings=settings, db=app.state.db, outbox=app.state.outbox, bus=app.state.bus,
        verifier=app.state.verifier, files=app.state.peers["files"], fanout=fanout,
        owners=ThreadOwners(app.state.db))
    return app

"""Dependencies of the chat service: what the routes and the socket of one chat app
share, typed (kept on ``app.state.chat``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends
from starlette.requests import HTTPConnection

from chat.fanout import Fanout
from chat.settings import ChatSettings
from chat.threads import ThreadOwners
from shared.db import Database
from shared.events import EventBus, Outbox
from shared.tokens import AccessTokenVerifier


@dataclass(frozen=True)
class ChatRuntime:
    """The chat app's settings, infrastructure, files client and socket fan-out."""

    settings: ChatSettings
    db: Database
    outbox: Outbox
    bus: EventBus
    verifier: AccessTokenVerifier
    files: httpx.AsyncClient
    fanout: Fanout
    owners: ThreadOwners


def runtime(connection: HTTPConnection) -> ChatRuntime:
    """The runtime of the app serving this request or socket (a FastAPI dependency)."""
    chat: ChatRuntime = connection.app.state.chat
    return chat


Runtime = Annotated[ChatRuntime, Depends(runtime)]

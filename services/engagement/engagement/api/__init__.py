"""HTTP routes of the engagement service: ``/api/offers/`` and ``/api/referrals/``."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request

from engagement.settings import EngagementSettings


def get_settings(request: Request) -> EngagementSettings:
    """The service's settings."""
    settings: EngagementSettings = request.app.state.settings
    return settings


def authorization(request: Request) -> str:
    """The caller's ``Authorization`` header, forwarded on the few calls to peers."""
    return request.headers.get("authorization", "")


def peers(request: Request) -> dict[str, httpx.AsyncClient]:
    """Clients of the auth and vehicles services."""
    clients: dict[str, httpx.AsyncClient] = request.app.state.peers
    return clients


SettingsDep = Annotated[EngagementSettings, Depends(get_settings)]
AuthorizationDep = Annotated[str, Depends(authorization)]
PeersDep = Annotated[dict[str, httpx.AsyncClient], Depends(peers)]

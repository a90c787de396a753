"""The telematics service's app factory: wiring only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from shared.service import create_service_app
from shared.tokens import JwksSource
from telematics import api
from telematics.events import CONSUMERS
from telematics.models import event_tables
from telematics.settings import TelematicsSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: TelematicsSettings | None = None, *,
               jwks_source: JwksSource | None = None,
               peers: Mapping[str, httpx.AsyncClient] | None = None) -> FastAPI:
    """The telematics service.

    ``peers["vehicles"]`` reaches the vehicles service (in process in the embedded
    mode); without it a client for ``VEHICLES_URL`` is made here and closed on shutdown.
    It is only used when a vehicle is missing from the ownership projection.
    """
    settings = settings or TelematicsSettings()
    vehicles = (peers or {}).get("vehicles")
    owns_client = vehicles is None
    if vehicles is None:
        vehicles = httpx.AsyncClient(base_url=settings.vehicles_url,
                                     timeout=settings.vehicles_timeout_seconds)

    async def close_own_client(_: FastAPI) -> None:
        if owns_client:
            await vehicles.aclose()

    app = create_service_app(
        settings=settings, title="Membership Auto — telematics", event_tables=event_tables,
        migrations=MIGRATIONS, routers=[api.router], consumers=CONSUMERS,
        jwks_source=jwks_source, on_shutdown=close_own_client)
    app.state.vehicles = vehicles
    return app

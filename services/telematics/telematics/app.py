"""The telematics service's app factory: wiring only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from shared.service import create_service_app
from shared.tokens import JwksSource
from telematics.api.routes import telemetry
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
    return create_service_app(
        settings=settings, title="Membership Auto — telematics", event_tables=event_tables,
        migrations=MIGRATIONS, routers=[telemetry.router], consumers=CONSUMERS,
        peers=peers, peer_urls={"vehicles": settings.vehicles_url},
        peer_timeout=settings.vehicles_timeout_seconds, jwks_source=jwks_source)

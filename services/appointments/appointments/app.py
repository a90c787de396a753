"""The appointments service's app factory: wiring only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from appointments.api.routes import appointments, locations
from appointments.events import CONSUMERS
from appointments.models import event_tables
from appointments.settings import AppointmentsSettings
from shared.service import create_service_app
from shared.tokens import JwksSource

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: AppointmentsSettings | None = None, *,
               jwks_source: JwksSource | None = None,
               peers: Mapping[str, httpx.AsyncClient] | None = None) -> FastAPI:
    """The appointments service.

    ``peers["vehicles"]`` reaches the vehicles service (in process in the embedded mode;
    otherwise a client for ``VEHICLES_URL`` is made and closed on shutdown). It is asked
    only when a booked vehicle is missing from the ownership projection.
    """
    settings = settings or AppointmentsSettings()
    return create_service_app(
        settings=settings, title="Membership Auto — appointments", event_tables=event_tables,
        migrations=MIGRATIONS,
        # locations first: "/api/appointments/{appointment_id}/" would match its paths.
        routers=[locations.router, appointments.router], consumers=CONSUMERS,
        jwks_source=jwks_source, peers=peers, peer_urls={"vehicles": settings.vehicles_url},
        peer_timeout=settings.peer_timeout_seconds)

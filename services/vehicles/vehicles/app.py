"""The vehicles service's app factory: wiring only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from shared.service import create_service_app
from shared.tokens import JwksSource
from vehicles.api.routes import vehicles
from vehicles.events import CONSUMERS
from vehicles.models import event_tables
from vehicles.settings import VehiclesSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: VehiclesSettings | None = None, *,
               jwks_source: JwksSource | None = None,
               peers: Mapping[str, httpx.AsyncClient] | None = None) -> FastAPI:
    """The vehicles service.

    ``jwks_source`` overrides where access-token keys come from (default: GET
    ``JWKS_URL``). ``peers`` is part of the factory signature every service shares; the
    vehicles service calls no other service, so it is unused.
    """
    settings = settings or VehiclesSettings()
    del peers
    return create_service_app(
        settings=settings, title="Membership Auto — vehicles", event_tables=event_tables,
        migrations=MIGRATIONS, routers=[vehicles.router], consumers=CONSUMERS,
        jwks_source=jwks_source)

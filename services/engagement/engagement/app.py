"""The engagement service's app factory: wiring only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from engagement.api.routes import offers, referrals
from engagement.events import CONSUMERS
from engagement.models import event_tables
from engagement.settings import EngagementSettings
from shared.service import create_service_app
from shared.tokens import JwksSource

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: EngagementSettings | None = None, *,
               jwks_source: JwksSource | None = None,
               peers: Mapping[str, httpx.AsyncClient] | None = None) -> FastAPI:
    """The engagement service.

    ``peers["auth"]`` and ``peers["vehicles"]`` reach those services (in process in the
    embedded mode; else clients for ``AUTH_URL`` / ``VEHICLES_URL`` are made and closed
    here). They are asked only on a projection miss: a caller's referral code, a vehicle.
    """
    settings = settings or EngagementSettings()
    return create_service_app(
        settings=settings, title="Membership Auto — engagement", event_tables=event_tables,
        migrations=MIGRATIONS, routers=[offers.router, referrals.router], consumers=CONSUMERS,
        peers=peers, peer_urls={"auth": settings.auth_url, "vehicles": settings.vehicles_url},
        peer_timeout=settings.peer_timeout_seconds, jwks_source=jwks_source)

"""The auth service's app factory: wiring only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from auth import users
from auth.api.routes import accounts, memberships
from auth.events import CONSUMERS
from auth.keys import SigningKeys, jwks, retired_signing_keys
from auth.models import event_tables
from auth.passwords import Passwords
from auth.settings import AuthSettings
from auth.tokens import TokenIssuer, spent_refresh_tokens
from shared.service import create_service_app
from shared.tokens import JwksSource

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: AuthSettings | None = None, *,
               jwks_source: JwksSource | None = None,
               peers: Mapping[str, httpx.AsyncClient] | None = None) -> FastAPI:
    """The auth service.

    By default it verifies its own tokens with its own keys, read from its database (no
    JWKS fetch); ``jwks_source`` overrides that, as for every service. ``peers`` is part
    of the factory signature every service shares; the auth service calls no other
    service, so it is unused.
    """
    settings = settings or AuthSettings()
    del peers
    passwords = Passwords(time_cost=settings.password_hash_time_cost,
                          memory_kib=settings.password_hash_memory_kib)

    async def own_jwks() -> dict[str, object]:
        async with app.state.db.session() as session:
            return jwks(*await app.state.keys.published(session))

    async def on_startup(app: FastAPI) -> None:
        await app.state.keys.start()
        async with app.state.db.session() as session:
            if settings.admin_email and settings.admin_password:
                await users.ensure_admin(session, app.state.outbox, passwords,
                                         settings.admin_email, settings.admin_password,
                                         promote_existing=settings.admin_promote_existing)

    app = create_service_app(
        settings=settings, title="Membership Auto — auth", event_tables=event_tables,
        migrations=MIGRATIONS, routers=[accounts.router, memberships.router],
        consumers=CONSUMERS, jwks_source=jwks_source or own_jwks, on_startup=on_startup,
        prune_rules=[spent_refresh_tokens(
            timedelta(seconds=settings.refresh_token_retention_seconds)),
            retired_signing_keys(settings)])
    app.state.passwords = passwords
    app.state.keys = SigningKeys(settings, app.state.db)
    app.state.issuer = TokenIssuer(settings, app.state.keys)
    return app

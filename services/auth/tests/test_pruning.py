"""Pruning in auth: spent refresh tokens go, reuse detection stays; the event tables too."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
from prometheus_client import REGISTRY
from sqlalchemy import Table, insert, select, update

from auth.app import create_app
from auth.models import RefreshToken, event_tables
from shared.events import Event, get_hub
from shared.models import utcnow
from testsupport.apps import serve_in_process, wait_until

TOKENS: Table = RefreshToken.__table__  # type: ignore[attr-defined]
DAY = timedelta(days=1)


async def add_token(app: Any, **times: Any) -> str:
    """A refresh-token row issued a week ago, live for a day more unless ``times`` say."""
    now = utcnow()
    row = {"jti": str(uuid.uuid4()), "user_id": str(uuid.uuid4()),
           "family_id": str(uuid.uuid4()), "issued_at": now - 7 * DAY,
           "expires_at": now + DAY, "used_at": None, "revoked_at": None, **times}
    async with app.state.db.engine.begin() as connection:
        await connection.execute(insert(TOKENS), row)
    return str(row["jti"])


async def token_ids(app: Any) -> set[str]:
    async with app.state.db.engine.connect() as connection:
        return set((await connection.execute(select(TOKENS.c.jti))).scalars())


def jti_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


async def test_expired_and_revoked_tokens_go_after_the_retention_and_no_other(app, client):
    now = utcnow()
    expired_long_ago = await add_token(app, expires_at=now - 2 * DAY)
    revoked_long_ago = await add_token(app, revoked_at=now - 2 * DAY)
    kept = {
        await add_token(app),
        await add_token(app, expires_at=now - timedelta(hours=1)),
        await add_token(app, revoked_at=now - timedelta(hours=1)),
        # Used long ago but not expired: its row is what detects a reuse.
        await add_token(app, used_at=now - 6 * DAY),
    }

    deleted = await app.state.pruner.prune_once()

    assert deleted["refresh_tokens"] == len({expired_long_ago, revoked_long_ago})
    assert await token_ids(app) == kept


async def test_a_used_unexpired_token_still_revokes_its_family_after_pruning(app, client, api):
    first = (await api.register())["refreshToken"]
    second = (await client.post("/api/auth/refresh/", json={"refreshToken": first})).json()
    # Used long before the retention, but its JWT is still valid: it must stay.
    async with app.state.db.engine.begin() as connection:
        await connection.execute(update(TOKENS).where(TOKENS.c.jti == jti_of(first))
                                 .values(used_at=utcnow() - 6 * DAY))

    await app.state.pruner.prune_once()

    assert jti_of(first) in await token_ids(app)
    reused = await client.post("/api/auth/refresh/", json={"refreshToken": first})
    assert reused.status_code == 401
    successor = await client.post("/api/auth/refresh/",
                                  json={"refreshToken": second["refreshToken"]})
    assert successor.status_code == 401  # the family was revoked by the reuse
    assert successor.json() == {"error": "Invalid refresh token"}


def pruned(table: str) -> float:
    return REGISTRY.get_sample_value("pruned_rows_total",
                                     {"service": "auth", "table": table}) or 0.0


async def test_the_event_tables_are_pruned_by_the_retentions_in_the_settings(
        database_url, auth_settings_factory, api_factory):
    settings = auth_settings_factory(database_url, outbox_retention_seconds=3600,
                                     processed_events_retention_seconds=7200)
    app = create_app(settings)
    outbox, processed = event_tables.outbox, event_tables.processed
    async with serve_in_process(app) as client:
        await api_factory(client).register()
        credited = Event.new("referral.credited", "engagement", {
            "referralId": str(uuid.uuid4()), "referrerUserId": str(uuid.uuid4()),
            "referredUserId": str(uuid.uuid4()), "reward": 1})
        get_hub().route(credited)
        await get_hub().wait_idle()

        async def all_published() -> bool:
            async with app.state.db.engine.connect() as connection:
                pending = select(outbox.c.id).where(outbox.c.published_at.is_(None))
                return (await connection.execute(pending)).first() is None

        await wait_until(all_published)
        now = utcnow()
        async with app.state.db.engine.begin() as connection:
            published = (await connection.execute(update(outbox).values(
                published_at=now - timedelta(hours=2)))).rowcount
            await connection.execute(update(processed).values(
                processed_at=now - timedelta(hours=3)))
        before = pruned("outbox_events"), pruned("processed_events")

        deleted = await app.state.pruner.prune_once()

        assert published >= 2  # the admin's and the new user's user.registered
        assert deleted["outbox_events"] == published and deleted["processed_events"] == 1
        assert (pruned("outbox_events"), pruned("processed_events")) == (
            before[0] + published, before[1] + 1)
        assert "pruned_rows_total{" in (await client.get("/metrics")).text

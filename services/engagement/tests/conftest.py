"""Engagement service tests: the real app in process, on SQLite and on PostgreSQL.

Tokens are signed with a test RSA key whose JWK set the app gets as ``jwks_source``.
The auth and vehicles services (other packages, not imported here) are stood in for by
``httpx.MockTransport``s answering ``GET /api/auth/me/`` and ``GET /api/vehicles/{id}/``
as CONTRACT.md says. The projections are fed with real events through the in-process
hub, delivered the way the bus does it (and redelivered when a test says so).
"""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from engagement.app import create_app
from engagement.models import event_tables, referrals
from engagement.settings import EngagementSettings
from shared.events import Event, get_hub
from testsupport.apps import TokenSigner, serve_in_process, wait_until

SIGNER = TokenSigner("engagement-test")


def make_token(user_id: str, role: str = "member", tier: str | None = None) -> str:
    return SIGNER.token(user_id, role=role, tier=tier)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_code() -> str:
    return "REF-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=6))


def caller(request: httpx.Request) -> str:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


class PeerStandIn:
    """Answers like the auth service (``GET /api/auth/me/``: the caller's user) and the
    vehicles service (``GET /api/vehicles/{id}/``: 200 for the caller's vehicle, else
    404); ``down`` makes every call fail to connect."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}  # user id -> referral code, as auth knows them
        self.created_at: dict[str, str] = {}  # user id -> createdAt, when a test sets one
        self.vehicle_owners: dict[str, str] = {}
        self.calls: list[str] = []
        self.down = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("peer is down", request=request)
        user_id = caller(request)
        if request.url.path == "/api/auth/me/":
            return httpx.Response(200, json={
                "id": user_id, "referralCode": self.codes[user_id], "rewardsBalance": 0,
                "role": "member", "createdAt": self.created_at.get(user_id)})
        vehicle_id = request.url.path.removeprefix("/api/vehicles/").strip("/")
        if self.vehicle_owners.get(vehicle_id) != user_id:
            return httpx.Response(404, json={"error": "Vehicle not found"})
        return httpx.Response(200, json={"id": vehicle_id, "user": user_id})

    def client(self, name: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler),
                                 base_url=f"http://{name}")


def engagement_settings(database_url: str, **overrides: Any) -> EngagementSettings:
    values: dict[str, Any] = {"database_url": database_url, "amqp_url": "memory://",
                              "outbox_poll_interval": 0.05}
    values.update(overrides)
    return EngagementSettings(**values)


@pytest.fixture
def peer() -> PeerStandIn:
    return PeerStandIn()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Overridden by tests that need other settings."""
    return {}


@pytest.fixture
async def app(database_url: str, peer: PeerStandIn,
              settings_overrides: dict[str, Any]) -> AsyncIterator[Any]:
    auth, vehicles = peer.client("auth"), peer.client("vehicles")
    yield create_app(engagement_settings(database_url, **settings_overrides),
                     jwks_source=SIGNER.jwks_source,
                     peers={"auth": auth, "vehicles": vehicles})
    await auth.aclose()
    await vehicles.aclose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as client:
        yield client


class EngagementApi:
    """What tests do over and over against one in-process engagement app."""

    bearer = staticmethod(bearer)
    token = staticmethod(make_token)

    def __init__(self, app: Any, client: httpx.AsyncClient, peer: PeerStandIn) -> None:
        self.app = app
        self.client = client
        self.peer = peer
        self.admin = bearer(make_token(str(uuid.uuid4()), role="admin"))

    # -- events -------------------------------------------------------------------------
    async def deliver(self, *events: Event) -> None:
        """Deliver each event to the queues bound to it, and wait until all are applied."""
        hub = get_hub()
        await wait_until(lambda: "engagement.users" in hub.queues)
        for event in events:
            hub.route(event)
        await hub.wait_idle()

    @staticmethod
    def event(kind: str, data: dict[str, Any], *, producer: str = "auth",
              occurred_at: datetime | None = None) -> Event:
        event = Event.new(kind, producer, data)
        return event if occurred_at is None else event.model_copy(
            update={"occurred_at": occurred_at})

    def registered(self, user_id: str, code: str, referred_by: str | None = None,
                   occurred_at: datetime | None = None) -> Event:
        self.peer.codes[user_id] = code
        return self.event("user.registered", {
            "userId": user_id, "email": f"{user_id}@example.com", "name": "Test",
            "referralCode": code, "referredByCode": referred_by}, occurred_at=occurred_at)

    def membership(self, kind: str, user_id: str, tier: str = "basic",
                   membership_id: str | None = None,
                   occurred_at: datetime | None = None) -> Event:
        return self.event(f"membership.{kind}", {
            "userId": user_id, "membershipId": membership_id or str(uuid.uuid4()),
            "tier": tier}, occurred_at=occurred_at)

    def location(self, location_id: str, lat: float | None, lng: float | None,
                 kind: str = "created", occurred_at: datetime | None = None) -> Event:
        return self.event(f"location.{kind}", {"locationId": location_id, "lat": lat,
                                                "lng": lng, "name": "Garage"},
                          producer="appointments", occurred_at=occurred_at)

    async def new_user(self, referred_by: str | None = None,
                       registered_at: datetime | None = None) -> tuple[str, str]:
        """A user known to the projection: (user id, referral code)."""
        user_id, code = str(uuid.uuid4()), new_code()
        await self.deliver(self.registered(user_id, code, referred_by, registered_at))
        return user_id, code

    # -- requests -----------------------------------------------------------------------
    async def create_offer(self, **fields: Any) -> dict[str, Any]:
        body = {"title": "Offer", **fields}
        response = await self.client.post("/api/offers/", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def offers(self, user_id: str | None = None, tier: str | None = None,
                     **params: Any) -> list[dict[str, Any]]:
        headers = bearer(make_token(user_id or str(uuid.uuid4()), tier=tier))
        response = await self.client.get("/api/offers/", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return list(response.json())

    async def offer_titles(self, user_id: str | None = None, tier: str | None = None,
                           **params: Any) -> list[str]:
        return [offer["title"] for offer in await self.offers(user_id, tier, **params)]

    async def my_referrals(self, user_id: str) -> httpx.Response:
        return await self.client.get("/api/referrals/me/", headers=bearer(make_token(user_id)))

    async def apply(self, user_id: str, **body: Any) -> httpx.Response:
        return await self.client.post("/api/referrals/apply/", json=body,
                                      headers=bearer(make_token(user_id)))

    # -- state --------------------------------------------------------------------------
    async def referral_of(self, referred_user_id: str) -> Any:
        async with self.app.state.db.session() as session:
            connection = await session.connection()
            return (await connection.execute(select(referrals).where(
                referrals.c.referred_user_id == referred_user_id))).first()

    async def credited_events(self) -> list[dict[str, Any]]:
        """The data of every ``referral.credited`` staged in the outbox (published or not)."""
        table = event_tables.outbox
        async with self.app.state.db.session() as session:
            connection = await session.connection()
            rows = (await connection.execute(select(table.c.payload).where(
                table.c.type == "referral.credited").order_by(table.c.created_at))).all()
        return [json.loads(row.payload)["data"] for row in rows]

    async def count(self, table: Any) -> int:
        async with self.app.state.db.session() as session:
            connection = await session.connection()
            return int((await connection.execute(
                select(func.count()).select_from(table))).scalar_one())


@pytest.fixture
def api(app: Any, client: httpx.AsyncClient, peer: PeerStandIn) -> EngagementApi:
    return EngagementApi(app, client, peer)

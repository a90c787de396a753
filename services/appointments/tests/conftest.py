"""Appointments service tests: the real app in process, on SQLite and on PostgreSQL.

Tokens are signed with a test RSA key whose JWK set the app gets as ``jwks_source``.
The vehicles service (another package, not imported here) is stood in for by an
``httpx.MockTransport`` that answers ``GET /api/vehicles/{id}/`` like CONTRACT.md says;
the ownership projection is fed with real ``vehicle.*`` events through the in-process hub.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from appointments.app import create_app
from appointments.settings import AppointmentsSettings
from shared.events import Event, get_hub
from testsupport.apps import (
    EventRecorder,
    OwnedResourceStandIn,
    TokenSigner,
    serve_in_process,
    vehicles_stand_in,
    wait_until,
)

SIGNER = TokenSigner("appointments-test")


def make_token(user_id: str, role: str = "member") -> str:
    return SIGNER.token(user_id, role=role)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def next_weekday(weekday: int, *, after_days: int = 2) -> date:
    """The first date with ``date.weekday() == weekday`` at least ``after_days`` from today
    (UTC), so every slot of it is in the future in every time zone."""
    day = datetime.now(UTC).date() + timedelta(days=after_days)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def utc(day: date, hour: int, minute: int = 0) -> str:
    """``YYYY-MM-DDTHH:MM:00Z``."""
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00Z"




def appointments_settings(database_url: str) -> AppointmentsSettings:
    return AppointmentsSettings(database_url=database_url, amqp_url="memory://",
                                outbox_poll_interval=0.05)


@pytest.fixture
def vehicles() -> OwnedResourceStandIn:
    return vehicles_stand_in()


@pytest.fixture
async def make_app(database_url: str, vehicles: OwnedResourceStandIn) -> AsyncIterator[Any]:
    """Builds an app on the test's database (call it twice for two service processes)."""
    peers: list[httpx.AsyncClient] = []

    def build() -> Any:
        peers.append(vehicles.client())
        return create_app(appointments_settings(database_url),
                          jwks_source=SIGNER.jwks_source, peers={"vehicles": peers[-1]})

    yield build
    for peer in peers:
        await peer.aclose()


@pytest.fixture
def app(make_app: Any) -> Any:
    return make_app()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as client:
        yield client


class Member:
    """A signed-in user with one vehicle the ownership projection knows."""

    def __init__(self, client: httpx.AsyncClient, user_id: str, vehicle_id: str,
                 role: str = "member") -> None:
        self.client = client
        self.user_id = user_id
        self.vehicle_id = vehicle_id
        self.headers = bearer(make_token(user_id, role))

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers)

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.headers)

    async def book(self, location_id: str, start: str, **extra: Any) -> httpx.Response:
        return await self.post("/api/appointments/book/", {
            "vehicleId": self.vehicle_id, "locationId": location_id, "startTime": start,
            **extra})

    async def slots(self, location_id: str, day: date) -> list[str]:
        """The ``start`` of every available slot."""
        response = await self.get("/api/appointments/availability/",
                                  locationId=location_id, date=day.isoformat())
        assert response.status_code == 200, response.text
        return [slot["start"] for slot in response.json()["availableSlots"]]


class AppointmentsApi:
    """What tests do over and over against one in-process appointments app."""

    next_weekday = staticmethod(next_weekday)
    utc = staticmethod(utc)

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.admin = Member(client, str(uuid.uuid4()), "", role="admin")

    async def publish_vehicle(self, kind: str, vehicle_id: str, user_id: str) -> None:
        """Deliver ``vehicle.<kind>`` to the projection and wait until it is applied."""
        hub = get_hub()
        await wait_until(lambda: "appointments.vehicles" in hub.queues)
        hub.route(Event.new(f"vehicle.{kind}", "vehicles", {
            "vehicleId": vehicle_id, "userId": user_id, "vin": "1HGCM82633A004352",
            "dongleId": None}))
        await hub.wait_idle()

    def caller(self, role: str) -> Member:
        """A signed-in user with the given role and no vehicle."""
        return Member(self.client, str(uuid.uuid4()), "", role=role)

    async def member(self) -> Member:
        """A new member whose vehicle the projection knows."""
        member = Member(self.client, str(uuid.uuid4()), str(uuid.uuid4()))
        await self.publish_vehicle("created", member.vehicle_id, member.user_id)
        return member

    async def location(self, **fields: Any) -> dict[str, Any]:
        """Create a location as an admin (``name`` defaulted) and return its body."""
        response = await self.admin.post("/api/appointments/locations/",
                                         {"name": "Downtown", **fields})
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def api(app: Any, client: httpx.AsyncClient) -> AppointmentsApi:
    return AppointmentsApi(app, client)


@pytest.fixture
async def member(api: AppointmentsApi) -> Member:
    return await api.member()


@pytest.fixture
async def recorder(client: httpx.AsyncClient) -> AsyncIterator[EventRecorder]:
    recorder = await EventRecorder().start("appointment.#", "location.#")
    yield recorder
    await recorder.close()

"""Telematics service tests: the real app in process, on SQLite and on PostgreSQL.

Tokens are signed with a test RSA key whose JWK set the app gets as ``jwks_source``.
The vehicles service (another package, not imported here) is stood in for by an
``httpx.MockTransport`` that answers ``GET /api/vehicles/{id}/`` like CONTRACT.md says;
the ownership projection is fed with real ``vehicle.*`` events through the in-process hub.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shared.events import Event, get_hub
from telematics.app import create_app
from telematics.models import TelemetryBatch, samples
from telematics.settings import TelematicsSettings
from testsupport.apps import (
    EventRecorder,
    OwnedResourceStandIn,
    TokenSigner,
    serve_in_process,
    vehicles_stand_in,
    wait_until,
)

SIGNER = TokenSigner("telematics-test")
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z in epoch ms


def make_token(user_id: str, role: str = "member") -> str:
    return SIGNER.token(user_id, role=role)




def telematics_settings(database_url: str, **overrides: Any) -> TelematicsSettings:
    values: dict[str, Any] = {"database_url": database_url, "amqp_url": "memory://",
                              "outbox_poll_interval": 0.05}
    values.update(overrides)
    return TelematicsSettings(**values)


@pytest.fixture
def vehicles() -> OwnedResourceStandIn:
    return vehicles_stand_in()


@pytest.fixture
async def app(database_url: str, vehicles: OwnedResourceStandIn) -> AsyncIterator[Any]:
    peer = vehicles.client()
    yield create_app(telematics_settings(database_url), jwks_source=SIGNER.jwks_source,
                     peers={"vehicles": peer})
    await peer.aclose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def samples_from(start: int, count: int, step_ms: int = 1000, **fields: Any) -> list[dict]:
    return [{"t": start + i * step_ms, **fields} for i in range(count)]


class TelematicsApi:
    """What tests do over and over against one in-process telematics app."""

    T0 = T0
    bearer = staticmethod(bearer)
    samples = staticmethod(samples_from)
    token = staticmethod(make_token)

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    async def publish_vehicle(self, kind: str, vehicle_id: str, user_id: str) -> None:
        """Deliver ``vehicle.<kind>`` to the projection and wait until it is applied."""
        hub = get_hub()
        await wait_until(lambda: "telematics.vehicles" in hub.queues)
        hub.route(Event.new(f"vehicle.{kind}", "vehicles", {
            "vehicleId": vehicle_id, "userId": user_id, "vin": "1HGCM82633A004352",
            "dongleId": None}))
        await hub.wait_idle()

    async def new_owner(self) -> tuple[str, str, str]:
        """A user with one vehicle known to the projection: (user id, token, vehicle id)."""
        user_id, vehicle_id = str(uuid.uuid4()), str(uuid.uuid4())
        await self.publish_vehicle("created", vehicle_id, user_id)
        return user_id, make_token(user_id), vehicle_id

    async def upload(self, token: str, vehicle_id: str, sample_list: list[dict] | None = None,
                     *, start: int | None = None, end: int | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
        sample_list = samples_from(T0, 3, speed=10.0) if sample_list is None else sample_list
        times = [s["t"] for s in sample_list if isinstance(s, dict) and "t" in s] or [T0]
        body = {"vehicleId": vehicle_id,
                "startTimestamp": min(times) if start is None else start,
                "endTimestamp": max(times) if end is None else end,
                "samples": sample_list, **extra}
        return await self.client.post(f"/api/telematics/{vehicle_id}/", json=body,
                                      headers={**bearer(token), **(headers or {})})

    async def count(self, what: str = "samples") -> int:
        table: Any = samples if what == "samples" else TelemetryBatch
        async with self.app.state.db.session() as session:
            return int((await session.exec(select(func.count()).select_from(table))).scalar_one())


@pytest.fixture
def api(app: Any, client: httpx.AsyncClient) -> TelematicsApi:
    return TelematicsApi(app, client)


@pytest.fixture
async def recorder(client: httpx.AsyncClient) -> AsyncIterator[EventRecorder]:
    recorder = await EventRecorder().start("telematics.#")
    yield recorder
    await recorder.close()

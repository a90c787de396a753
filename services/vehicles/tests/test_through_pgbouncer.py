"""The service through PgBouncer in transaction mode, as compose deploys it.

Migrations, routes, the outbox relay and a consumer all run on a pool whose
transactions PgBouncer spreads over its server connections; the same requests
many times over (psycopg would prepare them) and many at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.events import Event, get_hub
from testsupport.apps import EventRecorder, serve_in_process, wait_until
from testsupport.pgbouncer import PgBouncer
from vehicles.app import create_app
from vehicles.settings import VehiclesSettings

from .conftest import SIGNER, Member


@pytest.fixture
async def client(pgbouncer: PgBouncer, postgres_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = VehiclesSettings(database_url=pgbouncer.url(postgres_url), amqp_url="memory://",
                                outbox_poll_interval=0.05, database_transaction_pooling=True)
    async with serve_in_process(create_app(settings, jwks_source=SIGNER.jwks_source)) as client:
        yield client


async def test_members_use_the_service_concurrently_through_pgbouncer(
        client: httpx.AsyncClient) -> None:
    recorder = await EventRecorder().start("vehicle.*")
    members = [Member(client, str(uuid.uuid4())) for _ in range(8)]

    async def own_two_and_list(member: Member) -> list[int]:
        await member.create_vehicle()
        await member.create_vehicle()
        return [len((await member.get("/api/vehicles/")).json()) for _ in range(8)]

    try:
        listings = await asyncio.gather(*(own_two_and_list(m) for m in members))
        assert listings == [[2] * 8] * 8
        await wait_until(lambda: len(recorder.of("vehicle.created")) == 16)
    finally:
        await recorder.close()


async def test_a_vehicle_lives_its_life_through_pgbouncer(client: httpx.AsyncClient) -> None:
    alice = Member(client, str(uuid.uuid4()))
    vehicle: dict[str, Any] = await alice.create_vehicle(odometer=100)
    path = f"/api/vehicles/{vehicle['id']}/"
    await wait_until(lambda: "vehicles.odometer" in get_hub().queues)
    get_hub().route(Event.new("telematics.batch.ingested", "telematics", {
        "vehicleId": vehicle["id"], "batchId": str(uuid.uuid4()), "samples": 100,
        "maxOdometer": 250.5, "endTimestamp": 1704067800000}))
    await get_hub().wait_idle()
    assert (await alice.get(path)).json()["odometer"] == 250.5
    assert (await alice.patch(path, {"model": "Accord"})).json()["model"] == "Accord"
    assert (await alice.delete(path)).status_code == 204
    assert (await alice.get(path)).status_code == 404

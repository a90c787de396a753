"""What an operator relies on, shown on the vehicles service (the wiring is shared by all):
events carry the request id, /metrics shows the outbox and dead letters, and a shutdown
publishes what was committed."""

from __future__ import annotations

import re
import uuid

from shared.events import Event
from testsupport.apps import EventRecorder, serve_in_process, wait_until
from vehicles.app import create_app

from .conftest import SIGNER, Member, vehicles_settings


def gauge(metrics: str, name: str, **labels: str) -> float:
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    match = re.search(rf"^{name}{{{re.escape(selector)}}} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{name}{{{selector}}} not in /metrics"
    return float(match.group(1))


async def test_an_event_carries_the_request_id_of_the_request_that_caused_it(alice: Member):
    recorder = await EventRecorder().start("vehicle.created")
    response = await alice.client.post(
        "/api/vehicles/", json={"vin": "1HGBH41JXMN999001", "make": "Honda", "model": "Civic",
                                "year": 2020},
        headers={**alice.headers, "X-Request-ID": "req-from-the-gateway"})
    assert response.status_code == 201
    await wait_until(lambda: recorder.of("vehicle.created"))

    event: Event = recorder.of("vehicle.created")[0]
    assert event.correlation_id == "req-from-the-gateway" and event.causation_id is None
    await recorder.close()


async def test_metrics_show_pending_outbox_events_and_dead_letters(app, alice: Member):
    await app.state.relay.stop()  # the broker "does not answer": events stay pending
    await alice.create_vehicle()
    await alice.create_vehicle()

    metrics = (await alice.client.get("/metrics")).text

    assert gauge(metrics, "outbox_pending_events", service="vehicles") == 2
    assert gauge(metrics, "outbox_oldest_pending_age_seconds", service="vehicles") > 0
    assert gauge(metrics, "events_dead_letter_messages", queue="vehicles.odometer") == 0


async def test_shutdown_publishes_what_was_committed(database_url: str):
    app = create_app(vehicles_settings(database_url), jwks_source=SIGNER.jwks_source)
    recorder = None
    async with serve_in_process(app) as client:
        recorder = await EventRecorder().start("vehicle.created")
        await app.state.relay.stop()  # nothing goes out before the shutdown
        member = Member(client, str(uuid.uuid4()))
        vehicle = await member.create_vehicle()
        assert recorder.of("vehicle.created") == []
    # The lifespan has ended: its last outbox pass published the event.
    assert [e.data["vehicleId"] for e in recorder.of("vehicle.created")] == [vehicle["id"]]
    await recorder.close()

"""The telematics.batch.ingested consumer: the odometer only moves forward, once per event."""

import uuid

import pytest
from sqlalchemy import text

from shared.events import Event, get_hub
from testsupport.apps import wait_until
from vehicles.odometer import advance_odometer, odometer_reading

QUEUE = "vehicles.odometer"


@pytest.fixture
async def hub(client):
    """The in-process hub, once the service's odometer consumer is subscribed to it."""
    await wait_until(lambda: QUEUE in get_hub().queues)
    return get_hub()


def batch_ingested(vehicle_id, max_odometer):
    return Event.new("telematics.batch.ingested", "telematics", {
        "vehicleId": vehicle_id, "batchId": str(uuid.uuid4()), "samples": 100,
        "maxOdometer": max_odometer, "endTimestamp": 1704067800000})


async def deliver(hub, *events):
    for event in events:
        hub.route(event)
    await hub.wait_idle()


async def odometer(member, vehicle):
    return (await member.get(f"/api/vehicles/{vehicle['id']}/")).json()["odometer"]


async def test_a_batch_moves_the_odometer_forward(hub, alice):
    vehicle = await alice.create_vehicle(odometer=15000)
    await deliver(hub, batch_ingested(vehicle["id"], 15123.4))
    assert await odometer(alice, vehicle) == 15123.4


async def test_a_batch_delivered_twice_is_applied_once(hub, alice):
    vehicle = await alice.create_vehicle(odometer=100)
    event = batch_ingested(vehicle["id"], 900)
    await deliver(hub, event)
    # The owner corrects the reading; a redelivery of the same event must not undo that.
    await alice.patch(f"/api/vehicles/{vehicle['id']}/", {"odometer": 500})
    await deliver(hub, event, event)
    assert await odometer(alice, vehicle) == 500


async def test_a_lower_max_odometer_never_lowers_it(hub, alice):
    vehicle = await alice.create_vehicle(odometer=20000)
    await deliver(hub, batch_ingested(vehicle["id"], 19000.5))
    assert await odometer(alice, vehicle) == 20000


async def test_batches_out_of_order_keep_the_highest_reading(hub, alice):
    vehicle = await alice.create_vehicle()
    await deliver(hub, batch_ingested(vehicle["id"], 300), batch_ingested(vehicle["id"], 100),
                  batch_ingested(vehicle["id"], 200))
    assert await odometer(alice, vehicle) == 300


async def test_a_batch_without_an_odometer_changes_nothing(hub, alice):
    vehicle = await alice.create_vehicle(odometer=42)
    await deliver(hub, batch_ingested(vehicle["id"], None))
    assert await odometer(alice, vehicle) == 42
    assert hub.dead_letters(QUEUE) == []


async def test_a_batch_for_an_unknown_vehicle_is_ignored(hub, alice):
    await deliver(hub, batch_ingested(str(uuid.uuid4()), 1000))
    assert hub.dead_letters(QUEUE) == []


async def test_a_batch_for_a_deleted_vehicle_is_ignored(hub, alice):
    vehicle = await alice.create_vehicle()
    await alice.delete(f"/api/vehicles/{vehicle['id']}/")
    await deliver(hub, batch_ingested(vehicle["id"], 1000))
    assert hub.dead_letters(QUEUE) == []


@pytest.mark.parametrize("data", [{"maxOdometer": "lots"}, {"maxOdometer": True},
                                  {"vehicleId": None}, {"samples": None}])
async def test_a_batch_event_that_breaks_its_contract_is_dead_lettered_at_once(hub, alice,
                                                                              data):
    vehicle = await alice.create_vehicle(odometer=10)
    event = batch_ingested(vehicle["id"], 50)
    broken = event.model_copy(update={"data": {**event.data, **data}})
    await deliver(hub, broken)
    assert await odometer(alice, vehicle) == 10
    assert hub.dead_letters(QUEUE) == [broken]


async def test_an_impossible_reading_is_ignored(hub, alice):
    vehicle = await alice.create_vehicle(odometer=10)
    await deliver(hub, batch_ingested(vehicle["id"], -5))
    assert await odometer(alice, vehicle) == 10
    assert hub.dead_letters(QUEUE) == []


async def test_an_odometer_advance_stages_no_vehicle_updated(app, hub, alice):
    vehicle = await alice.create_vehicle()
    await deliver(hub, batch_ingested(vehicle["id"], 1000))
    assert await odometer(alice, vehicle) == 1000
    async with app.state.db.session() as session:
        connection = await session.connection()
        staged = (await connection.execute(text(
            "SELECT count(*) FROM outbox_events WHERE type = 'vehicle.updated'"))).scalar()
    assert staged == 0


async def test_advance_odometer_reports_whether_it_moved(app, alice):
    vehicle = await alice.create_vehicle(odometer=10)
    async with app.state.db.session() as session:
        assert await advance_odometer(session, vehicle["id"], 20) is True
        assert await advance_odometer(session, vehicle["id"], 15) is False
        assert await advance_odometer(session, vehicle["id"], 20) is False
        await session.commit()
    assert await odometer(alice, vehicle) == 20


@pytest.mark.parametrize(("value", "reading"), [(12, 12.0), (0.5, 0.5), (None, None),
                                                ("1", None), (False, None), (-1, None),
                                                (float("inf"), None)])
def test_odometer_reading_accepts_only_finite_non_negative_numbers(value, reading):
    assert odometer_reading(value) == reading

"""No overbooking, ever: N simultaneous bookings of one slot with capacity C give exactly
min(N, C) appointments, on SQLite and on PostgreSQL.

The requests really run at the same time: each is its own request on the app (in
process), with its own database session and connection, all started together.
"""

import asyncio

import httpx
from sqlalchemy import func, select

from appointments.models import Appointment
from testsupport.apps import wait_until

MONDAY = 0


async def test_twenty_simultaneous_bookings_of_a_three_bay_slot_give_exactly_three(api):
    location = await api.location(capacity=3)
    monday = api.next_weekday(MONDAY)
    start = api.utc(monday, 10)
    members = [await api.member() for _ in range(20)]

    responses = await asyncio.gather(*(m.book(location["id"], start) for m in members))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [409] * 17, [r.text for r in responses]
    refused = {r.text for r in responses if r.status_code == 409}
    assert refused == {'{"error":"This time slot is fully booked"}'}
    async with api.app.state.db.session() as session:
        stored = (await session.exec(select(func.count()).select_from(Appointment))).one()
    assert stored[0] == 3

    # Both half-hours of the booked hour are full now; cancelling one booking frees them.
    slots = await members[0].slots(location["id"], monday)
    assert start not in slots and api.utc(monday, 10, 30) not in slots
    booked = next(r.json() for r in responses if r.status_code == 201)
    owner = next(m for m in members if m.user_id == booked["user"])
    assert (await owner.post(f"/api/appointments/{booked['id']}/cancel/")).status_code == 200
    slots = await members[0].slots(location["id"], monday)
    assert start in slots and api.utc(monday, 10, 30) in slots


async def test_simultaneous_overlapping_bookings_never_exceed_capacity(api):
    # Two bookings overlap when they are half an hour apart: 09:30, 10:00 and 10:30 all
    # compete for the 10:00 half-hour, so with one bay only a non-overlapping set wins.
    location = await api.location(capacity=1)
    monday = api.next_weekday(MONDAY)
    starts = [api.utc(monday, 9, 30), api.utc(monday, 10), api.utc(monday, 10, 30)] * 4
    members = [await api.member() for _ in starts]

    responses = await asyncio.gather(*(m.book(location["id"], s)
                                       for m, s in zip(members, starts, strict=True)))

    won = sorted(r.json()["startTime"] for r in responses if r.status_code == 201)
    assert won in ([api.utc(monday, 10)], [api.utc(monday, 9, 30), api.utc(monday, 10, 30)])
    assert all(r.status_code in (201, 409) for r in responses)


async def test_bookings_spread_over_two_service_processes_never_overbook(api, make_app,
                                                                        vehicles):
    # A second app on the same database stands for a second process of the service: the
    # lock is in the database, so it holds across processes.
    location = await api.location(capacity=2)
    monday = api.next_weekday(MONDAY)
    members = [await api.member() for _ in range(12)]
    for member in members:
        vehicles.owners[member.vehicle_id] = member.user_id  # the twin asks for them
    twin = make_app()
    async with twin.router.lifespan_context(twin), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=twin), base_url="http://twin") as twin_client:
        for member in members[::2]:
            member.client = twin_client
        responses = await asyncio.gather(*(m.book(location["id"], api.utc(monday, 10))
                                           for m in members))

    assert sorted(r.status_code for r in responses) == [201] * 2 + [409] * 10


async def test_two_simultaneous_cancels_cancel_once(api, member, recorder):
    location = await api.location()
    booked = (await member.book(location["id"], api.utc(api.next_weekday(MONDAY), 10))).json()
    path = f"/api/appointments/{booked['id']}/cancel/"

    responses = await asyncio.gather(member.post(path), member.post(path))

    assert sorted(r.status_code for r in responses) == [200, 409]
    await wait_until(lambda: recorder.of("appointment.cancelled"))
    await asyncio.sleep(0.2)  # a second event, if one was wrongly staged, would be out now
    assert len(recorder.of("appointment.cancelled")) == 1

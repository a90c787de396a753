"""``GET /api/appointments/availability/``: 30-minute slots in the location's time zone,
as UTC, minus the full and the past ones, in at most two SQL queries."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from appointments.models import Appointment

PATH = "/api/appointments/availability/"
MONDAY = 0
SUNDAY = 6
ALL_DAY = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), ["00:00", "24:00"])


def second_sunday_of_march(year: int) -> date:
    first = date(year, 3, 1)
    return first + timedelta(days=(SUNDAY - first.weekday()) % 7 + 7)


def first_sunday_of_november(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(SUNDAY - first.weekday()) % 7)


async def test_default_hours_give_twenty_half_hour_slots_on_a_weekday(api, member):
    location = await api.location()
    day = api.next_weekday(MONDAY)
    response = await member.get(PATH, locationId=location["id"], date=day.isoformat())
    assert response.status_code == 200
    slots = response.json()["availableSlots"]
    assert len(slots) == 20
    assert slots[0] == {"start": api.utc(day, 8), "end": api.utc(day, 8, 30)}
    assert slots[-1] == {"start": api.utc(day, 17, 30), "end": api.utc(day, 18)}


async def test_a_closed_day_has_no_slots(api, member):
    location = await api.location()
    assert await member.slots(location["id"], api.next_weekday(SUNDAY)) == []


async def test_slots_are_computed_in_the_locations_time_zone(api, member):
    # Tokyo is UTC+9 all year: 08:00 local is 23:00Z the day before.
    location = await api.location(timezone="Asia/Tokyo")
    day = api.next_weekday(MONDAY)
    slots = await member.slots(location["id"], day)
    assert slots[0] == api.utc(day - timedelta(days=1), 23)
    assert slots[-1] == api.utc(day, 8, 30)


async def test_spring_forward_day_in_new_york(api, member):
    day = second_sunday_of_march(datetime.now(UTC).year + 1)
    zone = ZoneInfo("America/New_York")
    assert datetime(day.year, 3, day.day, 12, tzinfo=zone).utcoffset() == timedelta(hours=-4)
    location = await api.location(timezone="America/New_York",
                                  hours={"sun": ["00:00", "06:00"]})
    # 00:00-01:30 EST = 05:00Z-06:30Z, 02:00-02:30 do not exist, 03:00-05:30 EDT = 07:00Z-09:30Z
    assert await member.slots(location["id"], day) == [
        api.utc(day, h, m) for h in range(5, 10) for m in (0, 30)]


async def test_fall_back_day_in_new_york(api, member):
    day = first_sunday_of_november(datetime.now(UTC).year + 1)
    location = await api.location(timezone="America/New_York",
                                  hours={"sun": ["00:00", "06:00"]})
    # 00:00 EDT = 04:00Z ... the repeated 01:00-01:30 twice ... 05:30 EST = 10:30Z
    assert await member.slots(location["id"], day) == [
        api.utc(day, h, m) for h in range(4, 11) for m in (0, 30)]


async def test_past_slots_are_not_offered(api, member):
    location = await api.location(hours=ALL_DAY)
    before = datetime.now(UTC)
    slots = await member.slots(location["id"], before.date())
    after = datetime.now(UTC)
    midnight = datetime.combine(before.date(), datetime.min.time(), UTC)
    grid = [midnight + timedelta(minutes=30 * i) for i in range(48)]
    expected = {tuple(api.utc(t.date(), t.hour, t.minute) for t in grid if t > now)
                for now in (before, after)}
    assert tuple(slots) in expected


async def test_a_day_in_the_past_has_no_slots(api, member):
    location = await api.location(hours=ALL_DAY)
    assert await member.slots(location["id"], date(2020, 1, 6)) == []


@pytest.mark.parametrize("params", [{}, {"date": "2030-01-07"}, {"locationId": "x"},
                                    {"locationId": "", "date": "2030-01-07"}])
async def test_location_and_date_are_both_required(member, params):
    response = await member.get(PATH, **params)
    assert (response.status_code, response.json()) == (
        400, {"error": "locationId and date are required"})


@pytest.mark.parametrize("bad", ["2030-13-01", "2030-02-30", "07-01-2030", "20300107",
                                 "2030-W02-1", "tomorrow"])
async def test_a_bad_date_is_400(api, member, bad):
    location = await api.location()
    response = await member.get(PATH, locationId=location["id"], date=bad)
    assert response.status_code == 400 and "date" in response.json()


async def test_an_unknown_location_is_404(member):
    response = await member.get(PATH, locationId="no-such-location", date="2030-01-07")
    assert (response.status_code, response.json()) == (404, {"error": "Location not found"})


async def test_availability_needs_a_token(api, client):
    location = await api.location()
    response = await client.get(PATH, params={"locationId": location["id"],
                                              "date": "2030-01-07"})
    assert response.status_code == 401


async def test_forty_appointments_cost_no_more_than_two_queries(api, member):
    location = await api.location(capacity=20)
    day = api.next_weekday(MONDAY)
    nine, two = (datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=h)
                 for h in (9, 14))
    async with api.app.state.db.session() as session:
        session.add_all([Appointment(user_id=f"u{i}", vehicle_id=f"v{i}",
                                     location_id=location["id"], start_time=start,
                                     end_time=start + timedelta(hours=1))
                         for i, start in enumerate([nine] * 20 + [two] * 20)])
        await session.commit()
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        # The outbox relay polls in the background on the same engine; not this request.
        if "outbox_events" not in statement and "processed_events" not in statement:
            statements.append(statement)

    engine = api.app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        slots = await member.slots(location["id"], day)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) <= 2, statements
    assert any("FROM appointments" in statement for statement in statements)
    full = {api.utc(day, 9), api.utc(day, 9, 30), api.utc(day, 14), api.utc(day, 14, 30)}
    assert len(slots) == 16 and not full & set(slots)

"""Free slots of one location on one local date, in one or two SQL queries.

The original backend ran a query per slot. Here the request reads the location (query
1), and only if some of the day's slots are still in the future, the start times of the
location's non-cancelled appointments that can overlap them (query 2, a range scan of
``ix_appointments_location_start``); the counting is done in Python
(``appointments.slots``), whatever the number of slots or appointments.

It works on a plain connection rather than an ORM session: this is the service's hot
read path, and it needs no unit of work.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from appointments.hours import window_on
from appointments.locations import LOCATION_NOT_FOUND
from appointments.models import CANCELLED, Appointment, Location
from appointments.slots import as_utc, free_slots, overlap_range, slot_starts
from shared.errors import NotFound

_LOCATION = (select(col(Location.timezone), col(Location.hours), col(Location.capacity))
             .where(col(Location.id) == bindparam("location_id")))

BOOKED_STARTS = (select(col(Appointment.start_time))
                 .where(col(Appointment.location_id) == bindparam("location_id"),
                        col(Appointment.status) != CANCELLED,
                        col(Appointment.start_time) > bindparam("after"),
                        col(Appointment.start_time) < bindparam("before")))
"""Start times of a location's live appointments strictly between ``after`` and ``before``."""


async def booked_starts(connection: AsyncConnection, location_id: str, after: datetime,
                        before: datetime) -> list[datetime]:
    """UTC starts of the location's non-cancelled appointments in ``(after, before)``."""
    rows = await connection.execute(BOOKED_STARTS, {"location_id": location_id,
                                                    "after": after, "before": before})
    return [as_utc(start) for start in rows.scalars()]


async def available_slots(connection: AsyncConnection, location_id: str, day: date,
                          now: datetime) -> list[datetime]:
    """UTC starts of the location's slots on local date ``day`` that can still be booked
    into: after ``now`` and overlapped by fewer than ``capacity`` appointments. 404 for an
    unknown location."""
    row = (await connection.execute(_LOCATION, {"location_id": location_id})).first()
    if row is None:
        raise NotFound(LOCATION_NOT_FOUND)
    zone = ZoneInfo(row.timezone)
    starts = [start for start in slot_starts(day, zone, window_on(row.hours, day))
              if start > now]
    if not starts:
        return []
    booked = await booked_starts(connection, location_id, *overlap_range(starts[0], starts[-1]))
    return free_slots(starts, row.capacity, booked, now)

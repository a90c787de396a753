"""Booking, reading and cancelling a member's appointments.

No overbooking, ever — on PostgreSQL and on SQLite, with any number of processes: a
booking counts the appointments that overlap its hour and inserts its own in ONE
transaction that first takes a lock on the ``location_days`` row of (location, local
date). An appointment always lies within one local day (hours never run past midnight),
so every booking that could compete for the same bays takes the same lock, while
bookings of other days or locations do not wait for each other.

- PostgreSQL (READ COMMITTED): ``INSERT … ON CONFLICT DO NOTHING`` makes sure the row
  exists, ``SELECT … FOR UPDATE`` waits for the transaction holding it; the count that
  follows is a new statement, so it sees every booking committed before the lock was
  granted.
- SQLite: the whole database has one writer. The lock row's ``INSERT`` is the
  transaction's first statement (the driver opens it with a plain ``BEGIN`` just
  before), so SQLite takes the write lock there, waiting up to ``busy_timeout``
  (shared.db: 10 s) rather than failing, and on the newest snapshot; the count and the
  insert then run under that lock. (Had the transaction read first and written later,
  a concurrent commit would make the upgrade fail at once with "database is locked";
  that is why nothing in this transaction reads before the lock.) A wait longer than
  ``busy_timeout`` surfaces as ``503 Service unavailable: database``, never as a 500.

Cancelling does not take the lock: it only frees a bay, and a conditional ``UPDATE``
makes two concurrent cancels of one appointment cancel it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from appointments.availability import booked_starts
from appointments.events import appointment_event
from appointments.hours import window_on
from appointments.locations import zone_of
from appointments.models import (
    CANCELLED,
    IN_PROGRESS,
    SCHEDULED,
    Appointment,
    AppointmentsTable,
    Location,
    location_days,
)
from appointments.slots import (
    APPOINTMENT,
    SLOT,
    fits_opening_hours,
    has_room,
    local_day,
    on_slot_grid,
    overlap_range,
    slot_starts,
)
from shared.contracts.appointments import AppointmentBookedV1, AppointmentCancelledV1
from shared.errors import Conflict, FieldErrors, NotFound
from shared.events import Outbox
from shared.statements import insert_for, run

APPOINTMENT_NOT_FOUND = "Appointment not found"
NOT_ON_GRID = ("Appointments start on a 30-minute slot boundary (:00 or :30 in the "
               "location's time zone).")
IN_THE_PAST = "This time slot is in the past"
OUTSIDE_HOURS = "The appointment (60 minutes) must fit inside the location's opening hours"
SLOT_FULL = "This time slot is fully booked"


async def book(session: AsyncSession, outbox: Outbox, *, user_id: str, vehicle_id: str,
               location: Location, start: datetime, services: Sequence[str],
               now: datetime) -> Appointment:
    """Book the 60 minutes from ``start`` (aware UTC) at ``location``; stages
    ``appointment.booked``. 400 off the slot grid; 409 in the past, outside opening hours,
    or when either half-hour has no free bay."""
    zone = zone_of(location)
    if not on_slot_grid(start, zone):
        raise FieldErrors({"startTime": [NOT_ON_GRID]})
    if start <= now:
        raise Conflict(IN_THE_PAST)
    day = local_day(start, zone)
    if not fits_opening_hours(start, slot_starts(day, zone, window_on(location.hours, day))):
        raise Conflict(OUTSIDE_HOURS)
    await _lock_location_day(session, location.id, day)
    booked = await booked_starts(await session.connection(), location.id,
                                 *overlap_range(start, start + SLOT))
    if not has_room(start, location.capacity, booked):
        await session.rollback()  # release the lock now, not when the session closes
        raise Conflict(SLOT_FULL)
    appointment = Appointment(user_id=user_id, vehicle_id=vehicle_id, location_id=location.id,
                              start_time=start, end_time=start + APPOINTMENT,
                              services=list(services), created_at=now)
    session.add(appointment)
    await outbox.add(session, appointment_event(AppointmentBookedV1, appointment))
    await session.commit()
    return appointment


async def _lock_location_day(session: AsyncSession, location_id: str, day: date) -> None:
    """Take the (location, local date) lock for the rest of the transaction (see the
    module docstring for how it works on each database)."""
    connection = await session.connection()
    insert = insert_for(connection.dialect.name)
    await connection.execute(insert(location_days).values(location_id=location_id, day=day)
                             .on_conflict_do_nothing())
    await connection.execute(location_days.select()
                             .where(location_days.c.location_id == location_id,
                                    location_days.c.day == day)
                             .with_for_update())


async def get_appointment(session: AsyncSession, user_id: str,
                          appointment_id: str) -> Appointment:
    """The user's appointment; 404 when it does not exist or is someone else's."""
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None or appointment.user_id != user_id:
        raise NotFound(APPOINTMENT_NOT_FOUND)
    return appointment


async def upcoming(session: AsyncSession, user_id: str, now: datetime) -> list[Appointment]:
    """The user's appointments that start after ``now`` and are still on, soonest first."""
    statement = (select(Appointment)
                 .where(col(Appointment.user_id) == user_id,
                        col(Appointment.status).in_((SCHEDULED, IN_PROGRESS)),
                        col(Appointment.start_time) > now)
                 .order_by(col(Appointment.start_time), col(Appointment.id)))
    return list((await session.exec(statement)).all())


async def cancel(session: AsyncSession, outbox: Outbox, user_id: str, appointment_id: str,
                 now: datetime) -> Appointment:
    """Cancel the user's scheduled appointment (its bay frees up); stages
    ``appointment.cancelled``. 404 unknown or someone else's, 409 when it is no longer
    scheduled (already cancelled, in progress or completed)."""
    table = AppointmentsTable.metadata.tables["appointments"]
    statement = (update(table)
                 .where(table.c.id == appointment_id, table.c.user_id == user_id,
                        table.c.status == SCHEDULED)
                 .values(status=CANCELLED, cancelled_at=now)
                 .returning(*table.c))
    row = (await run(session, statement)).first()
    if row is None:
        current = await get_appointment(session, user_id, appointment_id)
        raise Conflict(f"This appointment is already {current.status.replace('_', ' ')}")
    appointment = Appointment(**row._mapping)
    await outbox.add(session, appointment_event(AppointmentCancelledV1, appointment))
    await session.commit()
    return appointment

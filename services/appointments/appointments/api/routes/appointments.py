"""Routes under ``/api/appointments/``: availability, booking, the caller's appointments.

The fixed paths (``availability/``, ``book/``, ``upcoming/``) are declared before
``{appointment_id}/``, which would otherwise match them.
"""

from __future__ import annotations

import re
from datetime import date

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from appointments import availability, booking, locations
from appointments.api.deps import DbConnection, SettingsDep
from appointments.models import vehicle_owners
from appointments.schemas import AppointmentOut, AvailabilityOut, BookingIn
from appointments.slots import SLOT
from shared.auth import CurrentPrincipal, current_principal
from shared.deps import AuthorizationDep, DbSession, OutboxDep, PeersDep
from shared.errors import BadRequest, FieldErrors
from shared.models import utcnow
from shared.schemas import date_in_range

router = APIRouter(prefix="/api/appointments", tags=["appointments"],
                   dependencies=[Depends(current_principal)])

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_Z_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` date (only that form) that every time zone can hold; 400 field map
    otherwise."""
    try:
        day = date.fromisoformat(text) if _ISO_DATE.match(text) else None
    except ValueError:
        day = None
    if day is None:
        raise FieldErrors({"date": ["Date has wrong format. Use YYYY-MM-DD."]})
    try:
        return date_in_range(day)
    except ValueError as exc:
        raise FieldErrors({"date": [str(exc)]}) from None


@router.get("/availability/", response_model=AvailabilityOut)
async def get_availability(connection: DbConnection,
                           locationId: str | None = None,  # noqa: N803
                           date: str | None = None) -> JSONResponse:
    """Free 30-minute slots of a location on a date (local to the location), as UTC."""
    if not locationId or not date:
        raise BadRequest("locationId and date are required")
    day = parse_day(date)
    starts = await availability.available_slots(connection, locationId, day, utcnow())
    # Built by hand: this is the hot read path, and the shape is two timestamps per slot.
    return JSONResponse({"availableSlots": [
        {"start": start.strftime(_Z_FORMAT), "end": (start + SLOT).strftime(_Z_FORMAT)}
        for start in starts]})


@router.post("/book/", status_code=201, response_model=AppointmentOut)
async def book(body: BookingIn, principal: CurrentPrincipal, session: DbSession,
               outbox: OutboxDep, settings: SettingsDep, peers: PeersDep,
               authorization: AuthorizationDep) -> AppointmentOut:
    """Book 60 minutes from ``startTime`` for one of the caller's vehicles."""
    # Before the booking's own transaction: this may call the vehicles service and commit.
    await vehicle_owners.require_own_vehicle(
        session, body.vehicle_id, principal.user_id,
        vehicles=peers["vehicles"], authorization=authorization,
        timeout_s=settings.peer_timeout_seconds)
    location = await locations.get_location(session, body.location_id)
    appointment = await booking.book(session, outbox, user_id=principal.user_id,
                                     vehicle_id=body.vehicle_id, location=location,
                                     start=body.start_time, services=body.services or [],
                                     now=utcnow())
    return AppointmentOut.of(appointment)


@router.get("/upcoming/", response_model=list[AppointmentOut])
async def list_upcoming(principal: CurrentPrincipal,
                        session: DbSession) -> list[AppointmentOut]:
    """The caller's future appointments that are still on, soonest first."""
    return [AppointmentOut.of(appointment) for appointment in
            await booking.upcoming(session, principal.user_id, utcnow())]


@router.get("/{appointment_id}/", response_model=AppointmentOut)
async def get_appointment(appointment_id: str, principal: CurrentPrincipal,
                          session: DbSession) -> AppointmentOut:
    return AppointmentOut.of(await booking.get_appointment(session, principal.user_id,
                                                           appointment_id))


@router.post("/{appointment_id}/cancel/", response_model=AppointmentOut)
async def cancel(appointment_id: str, principal: CurrentPrincipal, session: DbSession,
                 outbox: OutboxDep) -> AppointmentOut:
    """Cancel one of the caller's scheduled appointments; its slot frees up."""
    return AppointmentOut.of(await booking.cancel(session, outbox, principal.user_id,
                                                  appointment_id, utcnow()))

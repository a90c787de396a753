"""Service locations: create and change them (admins), read and list them (anyone).

Plain async functions taking a session. Each change stages ``location.created`` or
``location.updated`` through the outbox in the same transaction and commits.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from appointments.events import location_event
from appointments.geo import haversine_km
from appointments.hours import DEFAULT_HOURS, complete_week
from appointments.models import Location
from shared.contracts.appointments import LocationCreatedV1, LocationUpdatedV1
from shared.errors import FieldErrors, NotFound
from shared.events import Outbox

LOCATION_NOT_FOUND = "Location not found"

Point = tuple[float, float]
"""(lat, lng) in decimal degrees."""


def zone_of(location: Location) -> ZoneInfo:
    """The location's time zone (names are validated on the way in)."""
    return ZoneInfo(location.timezone)


def _check_coordinates(location: Location) -> None:
    """A location has both coordinates or neither (a half point cannot be sorted by)."""
    if (location.lat is None) != (location.lng is None):
        missing, given = ("lng", "lat") if location.lng is None else ("lat", "lng")
        raise FieldErrors({missing: [f"This field is required when {given} is set."]})


async def create_location(session: AsyncSession, outbox: Outbox,
                          fields: dict[str, Any]) -> Location:
    """Add a location (contract defaults for what ``fields`` leaves out); stages
    ``location.created``."""
    location = Location(**{"hours": complete_week(DEFAULT_HOURS), **fields})
    _check_coordinates(location)
    session.add(location)
    await outbox.add(session, location_event(LocationCreatedV1, location))
    await session.commit()
    return location


async def update_location(session: AsyncSession, outbox: Outbox, location: Location,
                          changes: dict[str, Any]) -> Location:
    """Apply validated ``changes``; stages ``location.updated``.

    Appointments already booked stay as they are, even outside new hours or capacity.
    """
    for name, value in changes.items():
        setattr(location, name, value)
    _check_coordinates(location)
    session.add(location)
    await outbox.add(session, location_event(LocationUpdatedV1, location))
    await session.commit()
    return location


async def get_location(session: AsyncSession, location_id: str) -> Location:
    """The location ``location_id``, or 404."""
    location = await session.get(Location, location_id)
    if location is None:
        raise NotFound(LOCATION_NOT_FOUND)
    return location


async def list_locations(session: AsyncSession, near: Point | None = None) -> list[Location]:
    """Every location, oldest first; nearest first when ``near`` is given (great-circle
    distance), locations without coordinates last."""
    statement = select(Location).order_by(col(Location.created_at), col(Location.id))
    locations = list((await session.exec(statement)).all())
    if near is None:
        return locations

    def distance(location: Location) -> float:
        if location.lat is None or location.lng is None:
            return float("inf")
        return haversine_km(near[0], near[1], location.lat, location.lng)

    return sorted(locations, key=distance)  # stable: equal distances stay oldest first

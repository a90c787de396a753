"""Routes under ``/api/appointments/locations/``: anyone signed in reads, admins write."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from appointments import locations
from appointments.locations import Point
from appointments.schemas import LocationIn, LocationOut, LocationPatch
from shared.auth import current_principal, require_role
from shared.deps import DbSession, OutboxDep
from shared.errors import FieldErrors

router = APIRouter(prefix="/api/appointments/locations", tags=["locations"],
                   dependencies=[Depends(current_principal)])

_RANGES = {"lat": 90.0, "lng": 180.0}


def parse_point(lat: str | None, lng: str | None) -> Point | None:
    """``(lat, lng)`` from the query string, None when neither is given; 400 field map
    for a value that is not a number in range, or for one given without the other."""
    raw = {"lat": lat, "lng": lng}
    if lat is None and lng is None:
        return None
    errors: dict[str, list[str]] = {}
    values: dict[str, float] = {}
    for name, text in raw.items():
        other = "lng" if name == "lat" else "lat"
        if text is None:
            errors[name] = [f"This field is required when {other} is given."]
            continue
        try:
            value = float(text)
        except ValueError:
            errors[name] = ["A valid number is required."]
            continue
        limit = _RANGES[name]
        if not -limit <= value <= limit:  # also rejects nan
            errors[name] = [f"Ensure this value is between -{limit:g} and {limit:g}."]
            continue
        values[name] = value
    if errors:
        raise FieldErrors(errors)
    return values["lat"], values["lng"]


@router.get("/", response_model=list[LocationOut])
async def list_locations(session: DbSession, lat: str | None = None,
                         lng: str | None = None) -> list[LocationOut]:
    """Every location; nearest first when ``lat`` and ``lng`` are given."""
    near = parse_point(lat, lng)
    return [LocationOut.of(location) for location in
            await locations.list_locations(session, near)]


@router.post("/", status_code=201, response_model=LocationOut,
             dependencies=[require_role("admin")])
async def create_location(body: LocationIn, session: DbSession,
                          outbox: OutboxDep) -> LocationOut:
    """Add a location (admin only)."""
    return LocationOut.of(await locations.create_location(session, outbox, body.fields()))


@router.get("/{location_id}/", response_model=LocationOut)
async def get_location(location_id: str, session: DbSession) -> LocationOut:
    return LocationOut.of(await locations.get_location(session, location_id))


@router.patch("/{location_id}/", response_model=LocationOut,
              dependencies=[require_role("admin")])
async def update_location(location_id: str, body: LocationPatch, session: DbSession,
                          outbox: OutboxDep) -> LocationOut:
    """Change a location (admin only); ``hours`` replaces the whole week."""
    location = await locations.get_location(session, location_id)
    return LocationOut.of(await locations.update_location(session, outbox, location,
                                                          body.changes()))

"""Where appointments' locations are: the projection of ``location.*`` events.

Only what offers need (id, name, coordinates). Events may arrive twice or out of order;
a row keeps the ``occurredAt`` of the event it reflects and only a newer one replaces it.
A location without coordinates is kept but is never "near" anything.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from engagement.geo import Point
from engagement.models import locations
from shared.statements import run, upsert

_c = locations.c


async def record_location(session: AsyncSession, location_id: str, *, name: str,
                          lat: float | None, lng: float | None,
                          occurred_at: datetime) -> None:
    """Upsert a location from an event, unless the row already reflects a newer one."""
    stmt = upsert(session, locations).values(location_id=location_id, name=name, lat=lat,
                                             lng=lng, as_of=occurred_at)
    await run(session, stmt.on_conflict_do_update(
        index_elements=["location_id"],
        set_={column: stmt.excluded[column] for column in ("name", "lat", "lng", "as_of")},
        where=stmt.excluded.as_of > _c.as_of))


async def positions(session: AsyncSession, location_ids: Collection[str]) -> dict[str, Point]:
    """The known coordinates of these locations (unknown ones, or without coordinates,
    are absent)."""
    if not location_ids:
        return {}
    rows = await run(session, select(_c.location_id, _c.lat, _c.lng).where(
        _c.location_id.in_(list(location_ids)), _c.lat.is_not(None), _c.lng.is_not(None)))
    return {row.location_id: Point(row.lat, row.lng) for row in rows}

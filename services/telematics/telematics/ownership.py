"""Who owns a vehicle: the local projection of ``vehicle.*`` events, and its fallback.

The projection (``vehicle_owners``) answers every request, so ingest keeps working
while the vehicles service is down. Only on a miss (the event has not arrived yet, or
the vehicle predates this service) is the vehicles service asked, once, with the
caller's own bearer token: ``200`` means the caller owns it (remembered),
``404`` means it is not theirs, anything else is ``503 Service unavailable: vehicles``.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import NotFound, ServiceUnavailable
from telematics.models import VehicleOwner

log = logging.getLogger("telematics.ownership")

VEHICLE_NOT_FOUND = "Vehicle not found"


_OWNER_QUERY = (select(VehicleOwner.user_id, VehicleOwner.deleted)  # type: ignore[call-overload]
                .where(VehicleOwner.vehicle_id == bindparam("vehicle_id")))


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(VehicleOwner)


async def owner_of(session: AsyncSession, vehicle_id: str) -> tuple[str, bool] | None:
    """``(user_id, deleted)`` from the projection, or None when the vehicle is unknown."""
    connection = await session.connection()
    row = (await connection.execute(_OWNER_QUERY, {"vehicle_id": vehicle_id})).first()
    return None if row is None else (row[0], bool(row[1]))


async def record_vehicle(session: AsyncSession, vehicle_id: str, user_id: str, *,
                         deleted: bool = False) -> None:
    """Upsert the projection row. A deleted vehicle stays deleted (ids are never reused)."""
    stmt = _insert(session).values(vehicle_id=vehicle_id, user_id=user_id, deleted=deleted)
    stmt = stmt.on_conflict_do_update(
        index_elements=["vehicle_id"],
        set_={"user_id": stmt.excluded.user_id,
              "deleted": VehicleOwner.deleted | stmt.excluded.deleted})  # type: ignore[operator]
    await _run(session, stmt)


async def remember_vehicle(session: AsyncSession, vehicle_id: str, user_id: str) -> None:
    """Store what the fallback learnt, unless an event already filled the row."""
    stmt = _insert(session).values(vehicle_id=vehicle_id, user_id=user_id, deleted=False)
    await _run(session, stmt.on_conflict_do_nothing(index_elements=["vehicle_id"]))


async def ask_vehicles_service(client: httpx.AsyncClient, vehicle_id: str,
                               authorization: str, timeout_s: float) -> str | None:
    """The vehicle's owner id according to the vehicles service, None if it says 404.

    The caller's own ``Authorization`` header is forwarded, so the vehicles service
    applies its own ownership rule; a ``200`` for someone else's vehicle (an admin
    token) still names the real owner in ``user``.
    """
    try:
        response = await client.get(f"/api/vehicles/{vehicle_id}/",
                                    headers={"Authorization": authorization}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        log.warning("vehicles service unreachable", extra={
            "event": "vehicles_unreachable", "error": type(exc).__name__})
        raise ServiceUnavailable("Service unavailable: vehicles") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        log.warning("vehicles service answered %s", response.status_code, extra={
            "event": "vehicles_unavailable", "status": response.status_code})
        raise ServiceUnavailable("Service unavailable: vehicles")
    try:
        owner = response.json().get("user")
    except ValueError:
        owner = None
    return str(owner) if owner else ""


async def require_own_vehicle(session: AsyncSession, vehicle_id: str, user_id: str, *,
                              vehicles: httpx.AsyncClient, authorization: str,
                              timeout_s: float) -> None:
    """Return if ``user_id`` owns the (not deleted) vehicle, else raise 404 (or 503).

    Leaves no transaction open when it had to call the vehicles service.
    """
    known = await owner_of(session, vehicle_id)
    if known is not None:
        owner, deleted = known
        if deleted or owner != user_id:
            raise NotFound(VEHICLE_NOT_FOUND)
        return
    await session.rollback()  # never hold a transaction open across an HTTP call
    owner = await ask_vehicles_service(vehicles, vehicle_id, authorization, timeout_s)
    if owner is None:
        raise NotFound(VEHICLE_NOT_FOUND)
    await remember_vehicle(session, vehicle_id, owner or user_id)
    await session.commit()
    known = await owner_of(session, vehicle_id)
    if known is None or known[1] or known[0] != user_id:
        raise NotFound(VEHICLE_NOT_FOUND)


async def _run(session: AsyncSession, statement: Any) -> Any:
    """Execute a Core statement in the session's transaction (no ORM objects)."""
    return await (await session.connection()).execute(statement)

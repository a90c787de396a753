"""Who owns a vehicle, for the services that act on a caller's vehicle without owning it.

Telematics, appointments and engagement each keep ``vehicle_owners`` in their own
database, fed by the vehicles service's ``vehicle.*`` events, so they keep answering while
the vehicles service is down. Only on a miss (the event has not arrived yet, or the
vehicle predates the service) is the vehicles service asked, once, with the caller's own
bearer token: ``200`` means the caller owns it (remembered), ``404`` means it is not
theirs, anything else is ``503 Service unavailable: vehicles``.

Wiring in a service::

    vehicle_owners = VehicleOwners(MyTable.metadata)              # models.py
    CONSUMERS = {"my.vehicles": vehicle_owners.handlers}         # events.py
    create_vehicle_owners_table(op)                              # 0001 migration
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa
from sqlalchemy import Boolean, Column, MetaData, String, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.vehicles import VehicleContract
from shared.errors import NotFound, ServiceUnavailable
from shared.events import Event, SessionHandler
from shared.statements import upsert

log = logging.getLogger("shared.projections.vehicle_owners")

VEHICLE_NOT_FOUND = "Vehicle not found"
TABLE_NAME = "vehicle_owners"


def create_vehicle_owners_table(op: Any) -> None:
    """Create ``vehicle_owners`` in a service's migration (Alembic ``op``)."""
    op.create_table(
        TABLE_NAME,
        sa.Column("vehicle_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


class VehicleOwners:
    """The ``vehicle_owners`` projection of one service: its table, event handlers, checks."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = Table(
            TABLE_NAME,
            metadata,
            Column("vehicle_id", String(64), primary_key=True),
            Column("user_id", String(64), nullable=False),
            Column("deleted", Boolean, nullable=False, default=False),
        )
        self._owner_query = (select(self.table.c.user_id, self.table.c.deleted)
                             .where(self.table.c.vehicle_id == bindparam("vehicle_id")))
        self.handlers: dict[str, SessionHandler] = {
            "vehicle.created": self.on_vehicle_saved,
            "vehicle.updated": self.on_vehicle_saved,
            "vehicle.deleted": self.on_vehicle_deleted,
        }

    async def owner_of(self, session: AsyncSession, vehicle_id: str) -> tuple[str, bool] | None:
        """``(user_id, deleted)`` from the projection, or None when the vehicle is unknown."""
        connection = await session.connection()
        row = (await connection.execute(self._owner_query, {"vehicle_id": vehicle_id})).first()
        return None if row is None else (row[0], bool(row[1]))

    async def on_vehicle_saved(self, session: AsyncSession, event: Event) -> None:
        """``vehicle.created`` / ``vehicle.updated``: remember (or update) the owner."""
        vehicle = VehicleContract.of(event)
        await self.record(session, vehicle.vehicle_id, vehicle.user_id)

    async def on_vehicle_deleted(self, session: AsyncSession, event: Event) -> None:
        """``vehicle.deleted``: the vehicle answers 404 from now on."""
        vehicle = VehicleContract.of(event)
        await self.record(session, vehicle.vehicle_id, vehicle.user_id, deleted=True)

    async def record(self, session: AsyncSession, vehicle_id: str, user_id: str, *,
                     deleted: bool = False) -> None:
        """Upsert the projection row. A deleted vehicle stays deleted (ids are never reused)."""
        stmt = self._insert(session).values(vehicle_id=vehicle_id, user_id=user_id,
                                            deleted=deleted)
        stmt = stmt.on_conflict_do_update(
            index_elements=["vehicle_id"],
            set_={"user_id": stmt.excluded.user_id,
                  "deleted": self.table.c.deleted | stmt.excluded.deleted})
        await (await session.connection()).execute(stmt)

    async def require_own_vehicle(self, session: AsyncSession, vehicle_id: str, user_id: str, *,
                                  vehicles: httpx.AsyncClient, authorization: str,
                                  timeout_s: float) -> None:
        """Return if ``user_id`` owns the (not deleted) vehicle, else raise 404 (or 503).

        When it has to call the vehicles service it commits what it learnt, and holds no
        transaction open across the call: call it before the caller's own transaction.
        """
        known = await self.owner_of(session, vehicle_id)
        if known is not None:
            owner, deleted = known
            if deleted or owner != user_id:
                raise NotFound(VEHICLE_NOT_FOUND)
            return
        await session.rollback()
        answer = await ask_vehicles_service(vehicles, vehicle_id, authorization, timeout_s)
        if answer is None:
            raise NotFound(VEHICLE_NOT_FOUND)
        await self._remember(session, vehicle_id, answer or user_id)
        await session.commit()
        # Re-read: an event may have filled (or deleted) the row meanwhile, and it wins.
        known = await self.owner_of(session, vehicle_id)
        if known is None or known[1] or known[0] != user_id:
            raise NotFound(VEHICLE_NOT_FOUND)

    async def _remember(self, session: AsyncSession, vehicle_id: str, user_id: str) -> None:
        """Store what the fallback learnt, unless an event already filled the row."""
        stmt = self._insert(session).values(vehicle_id=vehicle_id, user_id=user_id,
                                            deleted=False)
        await (await session.connection()).execute(
            stmt.on_conflict_do_nothing(index_elements=["vehicle_id"]))

    def _insert(self, session: AsyncSession) -> Any:
        return upsert(session, self.table)


async def ask_vehicles_service(client: httpx.AsyncClient, vehicle_id: str,
                               authorization: str, timeout_s: float) -> str | None:
    """The vehicle's owner id according to the vehicles service, None if it says 404.

    The caller's own ``Authorization`` header is forwarded, so the vehicles service
    applies its own ownership rule; a ``200`` for someone else's vehicle (an admin
    token) still names the real owner in ``user``.
    """
    # Quoted whole: an id is the caller's text, and "x/../" or "x?y" must name no other path.
    path = f"/api/vehicles/{quote(vehicle_id, safe='')}/"
    try:
        response = await client.get(path,
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

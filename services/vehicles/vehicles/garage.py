"""A member's garage: register, read, change and remove vehicles, link dongles.

Plain async functions taking a session (routes and tests call them alike). Each change
stages its event through the outbox in the same transaction and commits. Uniqueness
(one VIN per owner, one vehicle per dongle) is the database's job: a unique constraint
is the only check two concurrent requests cannot both pass, so a violation found at
commit is translated into the contract's 409 here instead of checked beforehand.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.vehicles import (
    VehicleContract,
    VehicleCreatedV1,
    VehicleDeletedV1,
    VehicleUpdatedV1,
)
from shared.errors import Conflict, NotFound
from shared.events import Outbox
from vehicles.models import Vehicle

VEHICLE_NOT_FOUND = "Vehicle not found"
VIN_TAKEN = "You have already registered a vehicle with this VIN"
DONGLE_TAKEN = "This dongle is already linked to another vehicle"


def vehicle_event(contract: type[VehicleContract], vehicle: Vehicle) -> VehicleContract:
    """``vehicle.*`` (``contract``) of ``vehicle``: what other services need for ownership."""
    return contract(vehicle_id=vehicle.id, user_id=vehicle.user_id, vin=vehicle.vin,
                    dongle_id=vehicle.dongle_id)


async def list_vehicles(session: AsyncSession, owner_id: str) -> list[Vehicle]:
    """The owner's vehicles, oldest first."""
    statement = (select(Vehicle).where(Vehicle.user_id == owner_id)
                 .order_by(col(Vehicle.created_at), col(Vehicle.id)))
    return list((await session.exec(statement)).all())


async def get_vehicle(session: AsyncSession, owner_id: str, vehicle_id: str) -> Vehicle:
    """The owner's vehicle ``vehicle_id``; 404 when it does not exist or is someone else's."""
    vehicle = await session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.user_id != owner_id:
        raise NotFound(VEHICLE_NOT_FOUND)
    return vehicle


async def register_vehicle(session: AsyncSession, outbox: Outbox, owner_id: str,
                           fields: dict[str, Any]) -> Vehicle:
    """Add a vehicle to the owner's garage and stage ``vehicle.created``; 409 on a known VIN."""
    vehicle = Vehicle(user_id=owner_id, **fields)
    session.add(vehicle)
    await outbox.add(session, vehicle_event(VehicleCreatedV1, vehicle))
    await _commit(session, VIN_TAKEN)
    return vehicle


async def update_vehicle(session: AsyncSession, outbox: Outbox, vehicle: Vehicle,
                         changes: dict[str, Any]) -> Vehicle:
    """Apply ``changes`` (validated fields) and stage ``vehicle.updated``; 409 on a known VIN."""
    for name, value in changes.items():
        setattr(vehicle, name, value)
    session.add(vehicle)
    await outbox.add(session, vehicle_event(VehicleUpdatedV1, vehicle))
    await _commit(session, VIN_TAKEN)
    return vehicle


async def remove_vehicle(session: AsyncSession, outbox: Outbox, vehicle: Vehicle) -> None:
    """Delete the vehicle (its dongle is freed with it) and stage ``vehicle.deleted``."""
    await outbox.add(session, vehicle_event(VehicleDeletedV1, vehicle))
    await session.delete(vehicle)
    await session.commit()


async def link_dongle(session: AsyncSession, outbox: Outbox, vehicle: Vehicle,
                      dongle_id: str, connection_type: str) -> Vehicle:
    """Link ``dongle_id`` to the vehicle (replacing any dongle it had); 409 when the dongle
    is linked to any other vehicle. Linking the same dongle again only updates its type."""
    vehicle.dongle_id = dongle_id
    vehicle.dongle_connection_type = connection_type
    session.add(vehicle)
    await outbox.add(session, vehicle_event(VehicleUpdatedV1, vehicle))
    await _commit(session, DONGLE_TAKEN)
    return vehicle


async def unlink_dongle(session: AsyncSession, outbox: Outbox, vehicle: Vehicle) -> Vehicle:
    """Remove the vehicle's dongle, if any, and stage ``vehicle.updated``."""
    vehicle.dongle_id = None
    vehicle.dongle_connection_type = None
    session.add(vehicle)
    await outbox.add(session, vehicle_event(VehicleUpdatedV1, vehicle))
    await session.commit()
    return vehicle


async def _commit(session: AsyncSession, conflict: str) -> None:
    """Commit; a unique-constraint violation rolls everything back (the staged event too)
    and becomes ``409 {"error": conflict}``. Each caller can break one constraint only,
    so it knows which message applies."""
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(conflict) from exc

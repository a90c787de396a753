"""Routes under ``/api/vehicles/``: the caller's vehicles and their dongles.

Thin: parse the body, find the caller's vehicle, call :mod:`vehicles.garage`, shape the
response. Every route needs a bearer token; another user's vehicle is a 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from shared.auth import CurrentPrincipal
from shared.deps import DbSession, OutboxDep, ReadSession
from vehicles import garage
from vehicles.schemas import DongleLinkIn, VehicleIn, VehicleOut, VehiclePatch

router = APIRouter(prefix="/api/vehicles", tags=["vehicles"])


@router.get("/", response_model=list[VehicleOut])
async def list_vehicles(principal: CurrentPrincipal, session: ReadSession) -> list[VehicleOut]:
    return [VehicleOut.of(v) for v in await garage.list_vehicles(session, principal.user_id)]


@router.post("/", status_code=201, response_model=VehicleOut)
async def create_vehicle(body: VehicleIn, principal: CurrentPrincipal, session: DbSession,
                         outbox: OutboxDep) -> VehicleOut:
    vehicle = await garage.register_vehicle(session, outbox, principal.user_id,
                                            body.model_dump(by_alias=False))
    return VehicleOut.of(vehicle)


@router.get("/{vehicle_id}/", response_model=VehicleOut)
async def get_vehicle(vehicle_id: str, principal: CurrentPrincipal,
                      session: ReadSession) -> VehicleOut:
    return VehicleOut.of(await garage.get_vehicle(session, principal.user_id, vehicle_id))


@router.patch("/{vehicle_id}/", response_model=VehicleOut)
async def update_vehicle(vehicle_id: str, body: VehiclePatch, principal: CurrentPrincipal,
                         session: DbSession, outbox: OutboxDep) -> VehicleOut:
    vehicle = await garage.get_vehicle(session, principal.user_id, vehicle_id)
    return VehicleOut.of(await garage.update_vehicle(session, outbox, vehicle, body.changes()))


@router.delete("/{vehicle_id}/", status_code=204, response_class=Response)
async def delete_vehicle(vehicle_id: str, principal: CurrentPrincipal, session: DbSession,
                         outbox: OutboxDep) -> Response:
    vehicle = await garage.get_vehicle(session, principal.user_id, vehicle_id)
    await garage.remove_vehicle(session, outbox, vehicle)
    return Response(status_code=204)


@router.post("/{vehicle_id}/link-dongle/", response_model=VehicleOut)
async def link_dongle(vehicle_id: str, body: DongleLinkIn, principal: CurrentPrincipal,
                      session: DbSession, outbox: OutboxDep) -> VehicleOut:
    vehicle = await garage.get_vehicle(session, principal.user_id, vehicle_id)
    return VehicleOut.of(await garage.link_dongle(session, outbox, vehicle, body.dongle_id,
                                                  body.connection_type))


@router.post("/{vehicle_id}/unlink-dongle/", response_model=VehicleOut)
async def unlink_dongle(vehicle_id: str, principal: CurrentPrincipal, session: DbSession,
                        outbox: OutboxDep) -> VehicleOut:
    vehicle = await garage.get_vehicle(session, principal.user_id, vehicle_id)
    return VehicleOut.of(await garage.unlink_dongle(session, outbox, vehicle))

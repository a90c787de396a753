"""Dependencies specific to the telematics service (the one place that reads ``app.state``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.auth import CurrentPrincipal
from shared.deps import ReadSession, get_settings
from telematics.models import vehicle_owners
from telematics.settings import TelematicsSettings

VehicleId = str


SettingsDep = Annotated[TelematicsSettings, Depends(get_settings)]


async def own_vehicle(vehicle_id: str, request: Request, principal: CurrentPrincipal,
                      session: ReadSession, settings: SettingsDep) -> VehicleId:
    """The path's vehicle id once the caller is known to own it (404 otherwise)."""
    await vehicle_owners.require_own_vehicle(
        session, vehicle_id, principal.user_id, vehicles=request.app.state.peers["vehicles"],
        authorization=request.headers.get("authorization", ""),
        timeout_s=settings.vehicles_timeout_seconds)
    return vehicle_id


OwnVehicle = Annotated[VehicleId, Depends(own_vehicle)]

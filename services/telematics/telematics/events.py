"""Events of the telematics service.

Consumed (queue ``telematics.vehicles``): ``vehicle.created``, ``vehicle.updated``,
``vehicle.deleted`` with data ``{vehicleId, userId, vin, dongleId}`` feed the ownership
projection (``telematics.ownership``).

Published through the outbox by ``telematics.ingest``, in the batch's transaction:

- ``telematics.batch.ingested`` ``{vehicleId, batchId, samples, maxOdometer,
  endTimestamp}`` for every newly stored batch (never for a re-sent one);
- ``telematics.alert`` ``{vehicleId, userId, dtcs}`` when a batch's ``dtcList`` holds
  codes that were not active on the vehicle before.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events import Event
from telematics.ownership import record_vehicle


async def on_vehicle_saved(session: AsyncSession, event: Event) -> None:
    """``vehicle.created`` / ``vehicle.updated``: remember (or update) the owner."""
    await record_vehicle(session, str(event.data["vehicleId"]), str(event.data["userId"]))


async def on_vehicle_deleted(session: AsyncSession, event: Event) -> None:
    """``vehicle.deleted``: the vehicle stops accepting telemetry and answers 404."""
    await record_vehicle(session, str(event.data["vehicleId"]),
                         str(event.data.get("userId") or ""), deleted=True)


CONSUMERS = {
    "telematics.vehicles": {
        "vehicle.created": on_vehicle_saved,
        "vehicle.updated": on_vehicle_saved,
        "vehicle.deleted": on_vehicle_deleted,
    },
}

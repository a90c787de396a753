"""Events the vehicles service consumes.

It publishes ``vehicle.created``, ``vehicle.updated`` (PATCH, link and unlink of a
dongle) and ``vehicle.deleted`` from :mod:`vehicles.garage` through the outbox, each
with ``{vehicleId, userId, vin, dongleId}``. An odometer advance from telemetry
publishes nothing (see :mod:`vehicles.odometer` for why).
"""

from __future__ import annotations

import logging

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events import Event
from vehicles.odometer import advance_odometer, odometer_reading

log = logging.getLogger("vehicles.events")


async def on_batch_ingested(session: AsyncSession, event: Event) -> None:
    """``telematics.batch.ingested``: move the vehicle's odometer forward to ``maxOdometer``.

    A batch without an odometer reading (``maxOdometer`` null) or for a vehicle this
    service does not know (deleted meanwhile) changes nothing. Malformed data is logged
    and dropped rather than retried: retrying cannot make it valid.
    """
    vehicle_id = event.data.get("vehicleId")
    reading = odometer_reading(event.data.get("maxOdometer"))
    if not isinstance(vehicle_id, str):
        log.warning("batch event without a vehicle id", extra={
            "event": "odometer.malformed_event", "eventId": event.id})
        return
    if reading is None:
        return
    await advance_odometer(session, vehicle_id, reading)


CONSUMERS = {"vehicles.odometer": {"telematics.batch.ingested": on_batch_ingested}}
